#include "chaos.h"
int chaos_scn_batch(const chaos_opts *o, chaos_figures *f) { (void)o; (void)f; return 2; }
int chaos_scn_diskfull(const chaos_opts *o, chaos_figures *f) { (void)o; (void)f; return 2; }
int chaos_scn_corrupt(const chaos_opts *o, chaos_figures *f) { (void)o; (void)f; return 2; }
int chaos_scn_wal(const chaos_opts *o, chaos_figures *f) { (void)o; (void)f; return 2; }
int chaos_scn_blob(const chaos_opts *o, chaos_figures *f) { (void)o; (void)f; return 2; }
int chaos_role(const char *n, int argc, char **argv) { (void)n; (void)argc; (void)argv; return 2; }
