/*
 * chaos.h - the chaos harness: many worker processes over thousands of tasks
 * while some of them are killed with SIGKILL, with every execution counted.
 *
 * Shared declarations of the harness files. The harness is one program,
 * sitq_chaos; each scenario is a function that fills a chaos_figures and
 * returns 0 when every check passed. Helper processes (batch producers, load
 * producers, C workers) are the same program started with --role.
 *
 * Everything here is single-threaded (the harness's main thread) unless a
 * comment says otherwise.
 */
#ifndef SITQ_CHAOS_H
#define SITQ_CHAOS_H

#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <sys/types.h>

#include "sitq.h"

/* ---- options ---- */

/** Command-line options of one run (see usage() in main.c for meanings). */
typedef struct chaos_opts {
    const char *scenario;
    const char *sitq;       /* absolute path of the sitq command */
    const char *python;     /* interpreter for Python workers and producers */
    const char *pythonpath; /* directory holding the built sitq package */
    const char *tasks_dir;  /* directory holding chaos_tasks.py and py_enqueue.py */
    const char *self;       /* absolute path of this program (for --role) */
    int tasks;
    int kills;
    int workers;
    int concurrency;
    double lease_s;
    uint64_t seed;
    double deadline_s;    /* bound of every wait of the run */
    double duration_s;    /* load phase of the wal scenario */
    int producers;        /* wal scenario */
    int trials;           /* batch scenario */
    double payload_mib;   /* blob scenario; 0: near sitq_backend_blob_max */
    double result_mib;    /* blob scenario */
    double wal_bound_mib; /* wal and blob scenarios: allowed WAL peak */
    int load;             /* blob scenario: CPU-burning processes beside it */
    int variants;         /* corrupt scenario: bit-flipped copies */
    int sample;           /* corrupt scenario: runs per file, 0 = all */
    double tmpfs_mib;     /* diskfull scenario */
    int keep;             /* keep the temporary directory */
    const char *db;       /* --db: a PostgreSQL URI to run on (NULL: a SQLite file) */
} chaos_opts;

/* ---- figures ---- */

/** What a scenario measured; printed as one line by chaos_print_figures. */
typedef struct chaos_figures {
    int64_t tasks;             /* tasks acknowledged by enqueue */
    int64_t kills;             /* SIGKILLs sent */
    int64_t lost;              /* acknowledged tasks missing, or succeeded without running */
    int64_t run_twice;         /* tasks whose command ran to its end more than once */
    int64_t twice_unexplained; /* ... where no run's worker was killed */
    int64_t stuck;             /* tasks not finished by the deadline */
    int64_t failed_unstarted;  /* failed with fewer real starts than attempts allowed */
    int64_t bad;               /* scenario-specific violations (see its line) */
    int64_t wal_peak;          /* bytes; -1 when not sampled */
    char extra[512];           /* scenario-specific figures */
} chaos_figures;

void chaos_figures_init(chaos_figures *f);
/** Print "chaos NAME: tasks=... verdict" on stdout. */
void chaos_print_figures(const char *name, const chaos_opts *o, const chaos_figures *f,
                         double seconds, int ok);
/** Append printf-formatted text to f->extra. */
void chaos_extra(chaos_figures *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- utilities (util.c) ---- */

/** Monotonic clock, milliseconds. */
int64_t chaos_mono_ms(void);
/** Sleep ms milliseconds (restarts on EINTR). Used for polling periods only. */
void chaos_sleep_ms(int ms);
/** Seeded generator (splitmix64); deterministic for a seed. */
typedef struct chaos_rng {
    uint64_t s;
} chaos_rng;
void chaos_rng_seed(chaos_rng *r, uint64_t seed);
uint64_t chaos_rng_next(chaos_rng *r);
/** Uniform integer in [0, n) (n > 0). */
uint64_t chaos_rng_below(chaos_rng *r, uint64_t n);
/** Uniform double in [0, 1). */
double chaos_rng_unit(chaos_rng *r);
/**
 * Make a fresh temporary directory into buf; exits the program on failure.
 * It is removed at exit, however the run ends, unless chaos_keep_tmp is set.
 */
void chaos_mkdtemp(char *buf, size_t n, const char *tag);
/** Set from --keep: leave the temporary directories in place. */
extern int chaos_keep_tmp;
/** Remove a directory tree (best effort). */
void chaos_rm_rf(const char *dir);
/** Size of path in bytes, or 0 when it does not exist. */
int64_t chaos_file_size(const char *path);
/** Read a whole file (malloc'd, NUL-terminated); NULL on failure. */
char *chaos_read_file(const char *path, size_t *len);
/** Write len bytes to path (created/truncated); 0 on success. */
int chaos_write_file(const char *path, const void *data, size_t len);
/** Copy a file; 0 on success. */
int chaos_copy_file(const char *from, const char *to);
/** Print "chaos: " and a message on stderr. */
void chaos_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** Print a message on stderr and exit 2 (harness setup failed). */
void chaos_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/** Samples the size of a database's -wal file and keeps the peak. */
typedef struct chaos_wal {
    char path[1100];
    int64_t peak;
} chaos_wal;
void chaos_wal_init(chaos_wal *w, const char *db_path);
/** Sample now; returns the current size. Cheap (one stat). */
int64_t chaos_wal_sample(chaos_wal *w);

/* ---- processes (procs.c) ---- */

/**
 * Make this process a child subreaper (commands orphaned by a killed worker
 * become its children, so they are waited for and killed at exit) and
 * install the cleanup that SIGKILLs every process started here on exit or
 * on SIGINT/SIGTERM/SIGHUP.
 */
void chaos_procs_init(void);

/**
 * Start argv[0] (PATH search) in its own process group, with stdin from
 * /dev/null, stdout and stderr appended to the given files (NULL:
 * /dev/null), extra environment entries "NAME=VALUE" (NULL-terminated,
 * may be NULL), and SIGKILL when the harness dies. Returns the pid; exits
 * the harness when fork fails.
 */
pid_t chaos_spawn(char *const argv[], const char *out_path, const char *err_path,
                  char *const env[]);
/** Like chaos_spawn with stdout connected to a pipe; *out_fd receives its read end. */
pid_t chaos_spawn_pipe(char *const argv[], int *out_fd, const char *err_path, char *const env[]);

/** Reap every exited child without blocking (tracked and orphaned). */
void chaos_reap(void);
/** 1 while a started process has not exited. */
int chaos_alive(pid_t pid);
/**
 * Wait until pid exits or deadline_ms (monotonic) passes. Returns 1 and sets
 * *status (waitpid status) when it exited, 0 on timeout.
 */
int chaos_wait(pid_t pid, int64_t deadline_ms, int *status);
/** Send sig to pid's process group (and pid). */
void chaos_signal(pid_t pid, int sig);
/**
 * SIGTERM (unless send_term is 0: it was sent already; a second SIGTERM
 * means "hurry" to sitq workers), wait up to grace_ms, then SIGKILL and
 * wait. Returns the waitpid status.
 */
int chaos_stop(pid_t pid, int grace_ms, int send_term);
/**
 * Wait until the harness has no children left at all (orphaned commands
 * included) or deadline_ms passes; returns the number still alive.
 */
int chaos_wait_no_children(int64_t deadline_ms);
/** SIGKILL every started process group and every child; reap them. */
void chaos_kill_all(void);
/** Text of a waitpid status ("exit 3", "signal 9 (Killed)"), static buffer. */
const char *chaos_status_text(int status);

/* ---- execution log (runlog.c) ---- */

/**
 * The execution log: every task appends "S KEY PID" when it starts and
 * "E KEY PID" when it ends, with O_APPEND, so the file order is the order of
 * events. KEY is the task's index in the harness; PID the worker process.
 */
typedef struct chaos_run {
    char kind; /* 'S' or 'E' */
    int64_t key;
    int64_t pid;
} chaos_run;

typedef struct chaos_runlog {
    chaos_run *runs;
    size_t n;
    int64_t bad_lines;
} chaos_runlog;

/** Parse the log at path (a missing file is an empty log); 0 on success. */
int chaos_runlog_read(const char *path, chaos_runlog *out);
void chaos_runlog_free(chaos_runlog *l);

/** Per-key counts derived from a log. */
typedef struct chaos_key_runs {
    int starts, ends;
    int starts_unkilled; /* starts under a worker that was never killed */
    int64_t first_start; /* index of the first S line, -1 none */
    int64_t first_end;   /* index of the first E line, -1 none */
} chaos_key_runs;

/**
 * Count runs per key 0..n_keys-1; killed is a sorted array of the pids the
 * harness killed. Returns a calloc'd array (caller frees), NULL on ENOMEM.
 */
chaos_key_runs *chaos_runlog_count(const chaos_runlog *l, size_t n_keys, const pid_t *killed,
                                   size_t n_killed);

/**
 * Payload of a shell task (argv, NUL-terminated strings) that appends
 * "S KEY PID" to log, sleeps sleep_s seconds ("0": none), appends
 * "E KEY PID" and exits with exit_code. malloc'd; *len receives its size.
 */
char *chaos_shell_payload(int64_t key, const char *sleep_s, int exit_code, const char *log,
                          size_t *len);

/* ---- the queue under test (check.c) ---- */

/** Final state of one task as read back from the database. */
typedef struct chaos_task_state {
    int found;
    int status;
    int attempts;
    int max_retries;
    char error[160];
} chaos_task_state;

/**
 * Read the states of ids[0..n) from the database (one sitq_list). Returns a
 * calloc'd array indexed like ids (found = 0 for missing ids); exits the
 * harness on a storage error.
 */
chaos_task_state *chaos_read_states(sitq_queue *q, const sitq_task_id *ids, size_t n);
/** Number of unfinished tasks of the queue, -1 on error (message in err). */
int64_t chaos_unfinished(sitq_queue *q, int64_t *finished, sitq_error *err);
/** Open the database at path with default options; exits on failure. */
void chaos_open(const char *path, sitq_backend **b, sitq_queue **q);
/** Print up to max unfinished tasks (diagnostics on a timeout). */
void chaos_dump_unfinished(sitq_queue *q, int max);

/* ---- scenarios ---- */

int chaos_scn_shell(const chaos_opts *o, chaos_figures *f);
int chaos_scn_python(const chaos_opts *o, chaos_figures *f);
int chaos_scn_dag(const chaos_opts *o, chaos_figures *f);
int chaos_scn_batch(const chaos_opts *o, chaos_figures *f);
int chaos_scn_diskfull(const chaos_opts *o, chaos_figures *f);
int chaos_scn_corrupt(const chaos_opts *o, chaos_figures *f);
int chaos_scn_wal(const chaos_opts *o, chaos_figures *f);
int chaos_scn_blob(const chaos_opts *o, chaos_figures *f);

/* ---- roles (roles.c): the harness started as a helper process ---- */

/** Run role name with its arguments; returns the process exit code. */
int chaos_role(const char *name, int argc, char **argv);

/* ---- the database under test (pgdb.c) ---- */

/** 1 when target is a PostgreSQL URI. */
int chaos_is_pg(const char *target);
/**
 * The database of one run into buf: dir/q.db, or with --db a fresh schema
 * "chaos_TAG_PID" of that server (sitq_schema added to the URI).
 */
void chaos_target(const chaos_opts *o, const char *dir, const char *tag, char *buf, size_t n);
/**
 * Run sql (at most one text parameter, arg; NULL: none) on the server of
 * o->db over the harness's own connection (reconnected when lost) and
 * return the first column of its one row as a number; -1 on failure.
 */
int64_t chaos_pg_count(const chaos_opts *o, const char *sql, const char *arg);
/** pg_terminate_backend of every backend whose application_name is LIKE
 * app_like; returns how many, -1 on failure. */
int64_t chaos_pg_terminate(const chaos_opts *o, const char *app_like);
/** 1 when SITQ_TEST_PGDATA and SITQ_TEST_PGBIN (tests/pg/with_pg.sh) say
 * how to restart the server. */
int chaos_pg_can_restart(void);
/** `pg_ctl -m immediate restart` of that server, same options and port
 * (as SITQ_TEST_PG_RUNAS when set); its output goes to dir/pg_ctl.log.
 * Returns 0 once the server accepts connections again, -1 on failure. */
int chaos_pg_restart(const char *dir);

/* ---- counted tasks (role_x.c, xcheck.c) ---- */

/** Function name of the x-worker's task; its retries (a kill that lands
 * in a started attempt spends one). */
#define CHAOS_XTASK    "chaos.x"
#define CHAOS_XRETRIES 5
/** A task may stay running under one worker at most its lease plus this,
 * seconds: the recovery period (at most 1 s), the poll, a loaded machine. */
#define CHAOS_LEASE_MARGIN_S 3.0

/** The x-worker and x-producer roles; -1 when name is neither. */
int chaos_role_x(const char *name, int argc, char **argv);
/** Append "KIND PID" to the execution log: K a process killed (its holds
 * end), P a process stopped (its re-executions are explained). */
void chaos_xlog_mark(const char *log, char kind, pid_t pid);
/** ids (sorted ascending, n) plus those of the log's "A ID" lines (tasks
 * acknowledged by x-producers), sorted and unique; malloc'd, *out_n set. */
sitq_task_id *chaos_xlog_acked(const char *log, const sitq_task_id *ids, size_t n, size_t *out_n);
/**
 * Count the tasks ids[0..n) (sorted) against the execution log and their
 * stored states into f (lost, stuck, run_twice, twice_unexplained, bad) and
 * its extra text (completed_twice, held_twice, dropped). Returns
 * completed_twice + held_twice.
 */
int64_t chaos_xcheck(sitq_queue *q, const sitq_task_id *ids, size_t n, const char *log,
                     chaos_figures *f);

int chaos_scn_contention(const chaos_opts *o, chaos_figures *f);
int chaos_scn_kill(const chaos_opts *o, chaos_figures *f);
int chaos_scn_pgterm(const chaos_opts *o, chaos_figures *f);
int chaos_scn_pgrestart(const chaos_opts *o, chaos_figures *f);
int chaos_scn_stop(const chaos_opts *o, chaos_figures *f);

#endif
