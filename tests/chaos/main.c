/* main.c - sitq_chaos: command line, seed, and one line of figures per run.
 *
 *   sitq_chaos SCENARIO [options]       run one scenario, print its figures
 *   sitq_chaos --role NAME ARGS...      a helper process (see roles.c)
 *
 * Exit status: 0 every check passed, 1 a check failed, 2 setup failed,
 * 77 the scenario cannot run here (skipped, with the reason on stderr). */
#include "chaos.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *fp) {
    fputs("usage: sitq_chaos SCENARIO [options]\n"
          "scenarios: shell python dag batch diskfull corrupt wal blob\n"
          "           contention kill stop pgterm pgrestart (counted C workers)\n"
          "  --db URI             run shell and the counted scenarios on this PostgreSQL\n"
          "                       server (a fresh schema per run); pgterm and pgrestart\n"
          "                       need it, pgrestart also with_pg.sh's SITQ_TEST_PGDATA\n"
          "  --sitq PATH          the sitq command (shell, dag, corrupt, diskfull)\n"
          "  --python PATH        interpreter for python workers (default /usr/bin/python3)\n"
          "  --pythonpath DIR     directory of the built sitq package (python)\n"
          "  --tasks-dir DIR      directory of chaos_tasks.py (python)\n"
          "  --tasks N            tasks (default 1000)\n"
          "  --kills N            SIGKILLs of workers (default 10); stop: SIGSTOP rounds;\n"
          "                       pgrestart: server restarts\n"
          "  --workers N          worker processes (default 3)\n"
          "  --concurrency N      handler threads per worker (default 4)\n"
          "  --lease S            worker lease, seconds (default 2)\n"
          "  --seed N             random seed (default: $SEED, else from the clock)\n"
          "  --deadline S         bound of every wait (default 120)\n"
          "  --duration S         load phase of 'wal' (default 20)\n"
          "  --producers N        enqueueing processes of 'wal' (default 8)\n"
          "  --trials N           killed batches of 'batch' (default 5)\n"
          "  --payload-mib X      payload of 'blob' (default 0: near the blob limit)\n"
          "  --result-mib X       result of 'blob' (default 1)\n"
          "  --wal-bound-mib X    allowed WAL peak of 'wal' and 'blob' (default 64)\n"
          "  --load N             CPU-burning processes beside 'blob' (default 0)\n"
          "  --variants N         bit-flipped copies for 'corrupt' (default 8)\n"
          "  --sample N           'corrupt': a seeded random N of the 11 runs per file\n"
          "                       (9 commands, 2 library opens; default 0: all)\n"
          "  --tmpfs-mib X        size of the full file system of 'diskfull' (default 4)\n"
          "  --label NAME         name on the line of figures (default: the scenario)\n"
          "  --keep               keep the temporary directory\n",
          fp);
}

/* Absolute paths live for the whole run (kept in static storage). */
static char *absolute(const char *p) {
    static char paths[8][4096];
    static int used;
    if (used == 8 || !realpath(p, paths[used])) return (char *)p;
    return paths[used++];
}

/* The command line's long options. */
enum {
    O_SITQ = 256,
    O_PYTHON,
    O_PYPATH,
    O_TASKSDIR,
    O_TASKS,
    O_KILLS,
    O_WORKERS,
    O_CONC,
    O_LEASE,
    O_SEED,
    O_DEADLINE,
    O_DURATION,
    O_PRODUCERS,
    O_TRIALS,
    O_PAYLOAD,
    O_RESULT,
    O_WALB,
    O_LOAD,
    O_VARIANTS,
    O_TMPFS,
    O_KEEP,
    O_HELP,
    O_LABEL,
    O_SAMPLE,
    O_DB
};

static const struct option LONGS[] = {{"sitq", 1, 0, O_SITQ},
                                      {"python", 1, 0, O_PYTHON},
                                      {"pythonpath", 1, 0, O_PYPATH},
                                      {"tasks-dir", 1, 0, O_TASKSDIR},
                                      {"tasks", 1, 0, O_TASKS},
                                      {"kills", 1, 0, O_KILLS},
                                      {"workers", 1, 0, O_WORKERS},
                                      {"concurrency", 1, 0, O_CONC},
                                      {"lease", 1, 0, O_LEASE},
                                      {"seed", 1, 0, O_SEED},
                                      {"deadline", 1, 0, O_DEADLINE},
                                      {"duration", 1, 0, O_DURATION},
                                      {"producers", 1, 0, O_PRODUCERS},
                                      {"trials", 1, 0, O_TRIALS},
                                      {"payload-mib", 1, 0, O_PAYLOAD},
                                      {"result-mib", 1, 0, O_RESULT},
                                      {"wal-bound-mib", 1, 0, O_WALB},
                                      {"load", 1, 0, O_LOAD},
                                      {"variants", 1, 0, O_VARIANTS},
                                      {"tmpfs-mib", 1, 0, O_TMPFS},
                                      {"keep", 0, 0, O_KEEP},
                                      {"help", 0, 0, O_HELP},
                                      {"label", 1, 0, O_LABEL},
                                      {"sample", 1, 0, O_SAMPLE},
                                      {"db", 1, 0, O_DB},
                                      {0, 0, 0, 0}};

/* Apply option c of getopt_long (its value in optarg) to o and *label;
 * returns -1 to go on, or the exit code (help: 0, bad option: 2). */
static int apply_option(int c, chaos_opts *o, const char **label) {
    switch (c) {
    case O_SITQ: o->sitq = absolute(optarg); break;
    case O_PYTHON: o->python = optarg; break;
    case O_PYPATH: o->pythonpath = absolute(optarg); break;
    case O_TASKSDIR: o->tasks_dir = absolute(optarg); break;
    case O_TASKS: o->tasks = atoi(optarg); break;
    case O_KILLS: o->kills = atoi(optarg); break;
    case O_WORKERS: o->workers = atoi(optarg); break;
    case O_CONC: o->concurrency = atoi(optarg); break;
    case O_LEASE: o->lease_s = atof(optarg); break;
    case O_SEED: o->seed = strtoull(optarg, NULL, 0); break;
    case O_DEADLINE: o->deadline_s = atof(optarg); break;
    case O_DURATION: o->duration_s = atof(optarg); break;
    case O_PRODUCERS: o->producers = atoi(optarg); break;
    case O_TRIALS: o->trials = atoi(optarg); break;
    case O_PAYLOAD: o->payload_mib = atof(optarg); break;
    case O_RESULT: o->result_mib = atof(optarg); break;
    case O_WALB: o->wal_bound_mib = atof(optarg); break;
    case O_LOAD: o->load = atoi(optarg); break;
    case O_VARIANTS: o->variants = atoi(optarg); break;
    case O_TMPFS: o->tmpfs_mib = atof(optarg); break;
    case O_KEEP: o->keep = chaos_keep_tmp = 1; break;
    case O_LABEL: *label = optarg; break;
    case O_SAMPLE: o->sample = atoi(optarg); break;
    case O_DB: o->db = optarg; break;
    case O_HELP: usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
    return -1;
}

/* One scenario: its name, function and what it needs. */
typedef struct scenario {
    const char *name;
    int (*fn)(const chaos_opts *, chaos_figures *);
    int needs_sitq, needs_python;
} scenario;

static const scenario SCENARIOS[] = {
    {"shell", chaos_scn_shell, 1, 0},
    {"python", chaos_scn_python, 0, 1},
    {"dag", chaos_scn_dag, 1, 0},
    {"batch", chaos_scn_batch, 0, 0},
    {"diskfull", chaos_scn_diskfull, 1, 0},
    {"corrupt", chaos_scn_corrupt, 1, 0},
    {"wal", chaos_scn_wal, 0, 0},
    {"blob", chaos_scn_blob, 0, 0},
    {"contention", chaos_scn_contention, 0, 0},
    {"kill", chaos_scn_kill, 0, 0},
    {"stop", chaos_scn_stop, 0, 0},
    {"pgterm", chaos_scn_pgterm, 0, 0},
    {"pgrestart", chaos_scn_pgrestart, 0, 0},
};

/* Run scenario sc with o and print its figures under label (default: its
 * name); returns the exit code (77: skipped). */
static int run_scenario(const scenario *sc, const chaos_opts *o, const char *label) {
    if (sc->needs_sitq && !o->sitq) {
        fprintf(stderr, "sitq_chaos %s: --sitq PATH is required\n", o->scenario);
        return 2;
    }
    if (sc->needs_python && (!o->pythonpath || !o->tasks_dir)) {
        fprintf(stderr, "sitq_chaos %s: --pythonpath and --tasks-dir are required\n", o->scenario);
        return 2;
    }
    chaos_procs_init();
    fprintf(stderr, "chaos: scenario %s, seed %" PRIu64 " (rerun with SEED=%" PRIu64 ")\n",
            o->scenario, o->seed, o->seed);
    chaos_figures f;
    chaos_figures_init(&f);
    int64_t t0 = chaos_mono_ms();
    int rc = sc->fn(o, &f);
    if (rc == 77) return 77;
    chaos_print_figures(label ? label : o->scenario, o, &f, (double)(chaos_mono_ms() - t0) / 1000.0,
                        rc == 0);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "--role") == 0) {
        int rc = chaos_role_x(argv[2], argc - 3, argv + 3);
        return rc >= 0 ? rc : chaos_role(argv[2], argc - 3, argv + 3);
    }

    chaos_opts o = {.python = "/usr/bin/python3",
                    .tasks = 1000,
                    .kills = 10,
                    .workers = 3,
                    .concurrency = 4,
                    .lease_s = 2,
                    .deadline_s = 120,
                    .duration_s = 20,
                    .producers = 8,
                    .trials = 5,
                    .result_mib = 1,
                    .wal_bound_mib = 64,
                    .variants = 8,
                    .tmpfs_mib = 4};
    const char *seed_env = getenv("SEED");
    o.seed = seed_env && *seed_env ? strtoull(seed_env, NULL, 0)
                                   : ((uint64_t)time(NULL) * 2654435761u) ^ (uint64_t)getpid();
    const char *label = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", LONGS, NULL)) != -1) {
        int rc = apply_option(c, &o, &label);
        if (rc >= 0) return rc;
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    o.scenario = argv[optind];
    o.self = absolute("/proc/self/exe");
    if (o.tasks < 1 || o.kills < 0 || o.workers < 1 || o.concurrency < 1 || !(o.lease_s > 0) ||
        !(o.deadline_s > 0)) {
        fprintf(stderr, "sitq_chaos: --tasks, --workers, --concurrency, --lease and --deadline "
                        "must be positive, --kills >= 0\n");
        return 2;
    }

    for (size_t i = 0; i < sizeof SCENARIOS / sizeof SCENARIOS[0]; i++)
        if (strcmp(SCENARIOS[i].name, o.scenario) == 0)
            return run_scenario(&SCENARIOS[i], &o, label);
    fprintf(stderr, "sitq_chaos: unknown scenario '%s'\n", o.scenario);
    usage(stderr);
    return 2;
}
