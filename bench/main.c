/* main.c - bench_main: options and the scenario table. */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

typedef struct scenario {
    const char *name;
    int (*fn)(bench_ctx *);
    const char *what;
} scenario;

static const scenario scenarios[] = {
    {"raw", bench_raw_sqlite,
     "raw SQLite: single-row commit, 1,000-row batches, naive queue cycle"},
    {"enqueue", bench_enqueue,
     "sitq_enqueue (1 and 4 threads) and sitq_enqueue_batch, NORMAL and FULL"},
    {"e2e", bench_e2e,
     "N no-op tasks enqueued, then drained by a 2-thread worker, NORMAL and FULL"},
    {"latency", bench_latency, "enqueue-to-start p50/p99/max with a 2 ms trickle"},
    {"claim_depth", bench_claim_depth, "claim throughput with 10k, 1M and 10M tasks queued"},
    {"limits", bench_limits, "claim cost with limits off, on another queue, and on (ratios)"},
    {"memory", bench_memory, "worker RSS over 1M tasks; database bytes per task"},
    {"pg", bench_pg,
     "PostgreSQL (SITQ_BENCH_PG_URI): raw ceilings, e2e, enqueue_batch 100k, 16 producers"},
    {"pg_latency", bench_pg_latency,
     "PostgreSQL: enqueue in another process to start, LISTEN and poll_only"},
    {"pg_limits", bench_pg_limits, "PostgreSQL: claim cost with limits off, on another queue, on"},
    {"pg_procs", bench_pg_procs, "PostgreSQL: one queue drained by 1, 4 and 16 worker processes"},
    {"pg_soak", bench_pg_soak,
     "PostgreSQL: --soak-s seconds at 80% of the drain rate, claim latency first vs last"},
    {"wal", bench_wal, "WAL peak with 8 producer and 4 worker processes, against raw SQLite"},
    {"load_fill", bench_load_fill, "N no-op tasks into queue load of --store (not timed)"},
    {"load_drain", bench_load_drain,
     "N no-op tasks of queue load of --store drained by a 2-thread worker"},
};
enum { N_SCENARIOS = sizeof scenarios / sizeof scenarios[0] };

static void usage(FILE *f) {
    fprintf(
        f, "usage: sitq_bench [options]\n"
           "  --tasks N       tasks of the throughput scenarios (default 20000)\n"
           "  --runs R        repeat the selected scenarios R times, interleaved (default 1)\n"
           "  --run-index I   first run number written to the JSON lines (default 1)\n"
           "  --quick         smaller sizes: 1M-deep queue instead of 10M, 200k tasks for memory,\n"
           "                  1 s latency trickle\n"
           "  --scenario S    one of: all");
    for (int i = 0; i < N_SCENARIOS; i++) fprintf(f, ", %s", scenarios[i].name);
    fprintf(f,
            " (comma-separated list allowed; default all)\n"
            "  --depth D       deepest queue of claim_depth (default 10000000; --quick 1000000)\n"
            "  --memory-tasks M  tasks of the memory scenario (default 1000000; --quick 200000)\n"
            "  --latency-s S   seconds of the latency trickle (default 3)\n"
            "  --sync MODE     normal, full or both (default): sync modes of raw, enqueue, e2e\n"
            "  --soak-s S      length of pg_soak in seconds (default 600; --quick 30)\n"
            "  --soak-rate R   offered rate of pg_soak in tasks/s (default: 80%% of the drain\n"
            "                  rate it measures first, which varies from run to run; a fixed\n"
            "                  rate compares builds)\n"
            "  --soak-keep-s K retention of pg_soak's succeeded tasks in seconds (default:\n"
            "                  sitq's, 7 days), which the worker purges as it runs\n"
            "  --prefetch P    worker prefetch of e2e, claim_depth, memory (default: sitq's own);\n"
            "                  a what-if knob, not used by run.sh\n"
            "  --no-retention  workers do not purge expired tasks (to measure what their\n"
            "                  retention thread costs); a what-if knob, not used by run.sh\n"
            "  --store S       the existing store (SQLite path or postgresql:// URI) of\n"
            "                  load_fill and load_drain (bench/dashboard_load.sh)\n"
            "  --label L       the variant load_drain reports (default drain)\n"
            "  --json FILE     append every figure to FILE as a JSON line\n"
            "  --dir DIR       directory for the database files (default ./sitq-bench-data);\n"
            "                  put it on the disk you want to measure\n"
            "scenarios:\n");
    for (int i = 0; i < N_SCENARIOS; i++)
        fprintf(f, "  %-12s %s\n", scenarios[i].name, scenarios[i].what);
}

static int selected(const char *list, const char *name) {
    if (!list || strcmp(list, "all") == 0) return 1;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

static long parse_long(const char *opt, const char *v, long min) {
    char *end = NULL;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || *end || x < min) {
        fprintf(stderr, "sitq_bench: %s needs an integer >= %ld, got '%s'\n", opt, min, v ? v : "");
        exit(2);
    }
    return x;
}

/* 0 when list is "all" or a comma-separated list of known scenario names;
 * else -1 after naming the unknown one. */
static int check_scenarios(const char *list) {
    if (strcmp(list, "all") == 0) return 0;
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        int found = 0;
        for (int s = 0; s < N_SCENARIOS; s++)
            if (strlen(scenarios[s].name) == len && strncmp(p, scenarios[s].name, len) == 0)
                found = 1;
        if (!found) {
            fprintf(stderr, "sitq_bench: unknown scenario '%.*s'\n", (int)len, p);
            return -1;
        }
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

/* The sizes an option left at 0 take their default (smaller with --quick). */
static void apply_defaults(bench_ctx *c) {
    if (!c->depth_max) c->depth_max = c->quick ? 1000000 : 10000000;
    if (!c->memory_tasks) c->memory_tasks = c->quick ? 200000 : 1000000;
    if (c->quick && c->latency_s > 1) c->latency_s = 1;
    if (!c->soak_s) c->soak_s = c->quick ? 30 : 600;
}

/* Reads argv into *c, *list, *json and *runs. Returns -1 to go on, or the exit
 * status to return at once (0 after --help, 2 on a bad option). */
static int parse_args(int argc, char **argv, bench_ctx *c, const char **list, const char **json,
                      long *runs) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--quick") == 0) {
            c->quick = 1;
        } else if (strcmp(a, "--tasks") == 0) {
            c->tasks = parse_long(a, v, 100), i++;
        } else if (strcmp(a, "--runs") == 0) {
            *runs = parse_long(a, v, 1), i++;
        } else if (strcmp(a, "--run-index") == 0) {
            c->run = (int)parse_long(a, v, 0), i++;
        } else if (strcmp(a, "--depth") == 0) {
            c->depth_max = parse_long(a, v, 1000000), i++;
        } else if (strcmp(a, "--memory-tasks") == 0) {
            c->memory_tasks = parse_long(a, v, 1000), i++;
        } else if (strcmp(a, "--latency-s") == 0) {
            c->latency_s = (double)parse_long(a, v, 1), i++;
        } else if (strcmp(a, "--soak-s") == 0) {
            c->soak_s = (double)parse_long(a, v, 10), i++;
        } else if (strcmp(a, "--soak-rate") == 0) {
            c->soak_rate = (double)parse_long(a, v, 1), i++;
        } else if (strcmp(a, "--soak-keep-s") == 0) {
            c->soak_keep_s = (double)parse_long(a, v, 1), i++;
        } else if (strcmp(a, "--no-retention") == 0) {
            bench_retention = 0;
        } else if (strcmp(a, "--prefetch") == 0) {
            bench_prefetch = (int)parse_long(a, v, 0), i++;
        } else if (strcmp(a, "--sync") == 0 && v) {
            if (strcasecmp(v, "normal") == 0) c->sync_only = SITQ_SYNC_NORMAL;
            else if (strcasecmp(v, "full") == 0) c->sync_only = SITQ_SYNC_FULL;
            else if (strcasecmp(v, "both") == 0) c->sync_only = -1;
            else {
                fprintf(stderr, "sitq_bench: --sync takes normal, full or both, got '%s'\n", v);
                return 2;
            }
            i++;
        } else if (strcmp(a, "--scenario") == 0 && v) {
            *list = v, i++;
        } else if (strcmp(a, "--json") == 0 && v) {
            *json = v, i++;
        } else if (strcmp(a, "--store") == 0 && v) {
            c->store = v, i++;
        } else if (strcmp(a, "--label") == 0 && v) {
            c->label = v, i++;
        } else if (strcmp(a, "--dir") == 0 && v) {
            c->dir = v, i++;
        } else {
            fprintf(stderr, "sitq_bench: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    return -1;
}

int bench_main(int argc, char **argv) {
    bench_prefetch = -1;
    bench_ctx c = {
        .dir = "sitq-bench-data", .tasks = 20000, .run = 1, .latency_s = 3, .sync_only = -1};
    const char *list = "all", *json = NULL;
    long runs = 1;
    int early = parse_args(argc, argv, &c, &list, &json, &runs);
    if (early >= 0) return early;
    if (check_scenarios(list) != 0) return 2;
    apply_defaults(&c);
    if (mkdir(c.dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "sitq_bench: cannot create %s: %s\n", c.dir, strerror(errno));
        return 1;
    }
    if (json && !(c.json = fopen(json, "a"))) {
        fprintf(stderr, "sitq_bench: cannot open %s: %s\n", json, strerror(errno));
        return 1;
    }
    int rc = 0, first = c.run;
    for (long r = 0; r < runs; r++) {
        c.run = first + (int)r;
        for (int s = 0; s < N_SCENARIOS; s++) {
            if (!selected(list, scenarios[s].name)) continue;
            printf("run %d: %s (%s)\n", c.run, scenarios[s].name, scenarios[s].what);
            fflush(stdout);
            if (scenarios[s].fn(&c) != 0) rc = 1;
        }
    }
    if (c.json) fclose(c.json);
    return rc;
}
