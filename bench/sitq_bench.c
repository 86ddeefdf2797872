/* sitq_bench.c - the sitq_bench program (`sitq bench` executes it). */
#include "bench.h"

int main(int argc, char **argv) { return bench_main(argc, argv); }
