/*
 * main.c - flights_pipeline: drives two data pipelines over US flight data
 * through a sitq queue, with several workers in this process.
 *
 *   1. ETL fan-out/fan-in: the input is split into chunks of --chunk-rows
 *      records; one sitq_enqueue_batch stores a transform_chunk task per
 *      chunk, an aggregate_chunks task depending on all of them and a
 *      load_reports task depending on the aggregate (by_origin.csv,
 *      by_day.csv).
 *   2. A dependent chain validate -> clean -> enrich -> aggregate_states
 *      (cleaned.csv, enriched.csv, by_state.csv).
 *
 * Both run at once on --workers sitq_worker objects. See docs/demo.md.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "csv.h"
#include "flight.h"
#include "sitq.h"
#include "report.h"
#include "stages.h"

#ifndef SITQ_SOURCE_DIR
#define SITQ_SOURCE_DIR "."
#endif
#ifndef FLIGHTS_BINARY_DIR
#define FLIGHTS_BINARY_DIR "build"
#endif

#define PROG "flights_pipeline"

typedef struct options {
    const char *input;
    const char *airports;
    const char *db;
    const char *out;
    long workers;
    long threads;
    long chunk_rows;
    long outlier_minutes;
    long fail_chunk;
    long flaky_chunk;
    int quiet;
} options;

__attribute__((format(printf, 1, 2))) static void errorf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, PROG ": error: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void usage(FILE *to) {
    fprintf(to,
            "usage: " PROG " [options]\n"
            "Runs an ETL fan-out/fan-in and a validate->clean->enrich->aggregate chain\n"
            "over a flights CSV (plain or .gz) through a sitq queue.\n"
            "\n"
            "  --input PATH          flights CSV or CSV.gz (default %s/data/flights-200k.csv.gz)\n"
            "  --airports PATH       airports CSV or CSV.gz (default %s/data/airports.csv.gz)\n"
            "  --db PATH             sitq database, recreated each run\n"
            "                        (default %s/demo/pipeline.db), or a postgresql://\n"
            "                        URI of an empty queue\n"
            "  --out DIR             output directory (default %s/demo/out)\n"
            "  --workers N           sitq_worker objects, 1..64 (default 4)\n"
            "  --threads N           handler threads per worker, 1..64 (default 1)\n"
            "  --chunk-rows N        records per transform_chunk task (default 5000)\n"
            "  --outlier-minutes N   flag rows with |delay| > N minutes (default 300)\n"
            "  --fail-chunk K        make chunk K fail every attempt (failure demo)\n"
            "  --flaky-chunk K       make chunk K fail its first attempt (retry demo)\n"
            "  --quiet               no progress line\n"
            "  --help                this text\n",
            SITQ_SOURCE_DIR, SITQ_SOURCE_DIR, FLIGHTS_BINARY_DIR, FLIGHTS_BINARY_DIR);
}

static int parse_long(const char *opt, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        errorf("%s: '%s' is not an integer in %ld..%ld", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* The long options of parse_options. */
enum {
    O_INPUT = 256,
    O_AIRPORTS,
    O_DB,
    O_OUT,
    O_WORKERS,
    O_THREADS,
    O_CHUNK,
    O_OUTLIER,
    O_FAIL,
    O_FLAKY,
    O_QUIET,
    O_HELP
};
static const struct option LONGOPTS[] = {
    {"input", required_argument, NULL, O_INPUT},
    {"airports", required_argument, NULL, O_AIRPORTS},
    {"db", required_argument, NULL, O_DB},
    {"out", required_argument, NULL, O_OUT},
    {"workers", required_argument, NULL, O_WORKERS},
    {"threads", required_argument, NULL, O_THREADS},
    {"chunk-rows", required_argument, NULL, O_CHUNK},
    {"outlier-minutes", required_argument, NULL, O_OUTLIER},
    {"fail-chunk", required_argument, NULL, O_FAIL},
    {"flaky-chunk", required_argument, NULL, O_FLAKY},
    {"quiet", no_argument, NULL, O_QUIET},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

/* Returns 0 to run, 1 to exit 0 (help), 2 on a usage error. */
static int parse_options(int argc, char **argv, options *o) {
    static char d_input[4096], d_airports[4096], d_db[4096], d_out[4096];
    snprintf(d_input, sizeof d_input, "%s/data/flights-200k.csv.gz", SITQ_SOURCE_DIR);
    snprintf(d_airports, sizeof d_airports, "%s/data/airports.csv.gz", SITQ_SOURCE_DIR);
    snprintf(d_db, sizeof d_db, "%s/demo/pipeline.db", FLIGHTS_BINARY_DIR);
    snprintf(d_out, sizeof d_out, "%s/demo/out", FLIGHTS_BINARY_DIR);
    *o = (options){d_input, d_airports, d_db, d_out, 4, 1, 5000, 300, -1, -1, 0};

    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":", LONGOPTS, NULL);
        if (c == -1) break;
        int bad = 0;
        switch (c) {
        case O_INPUT: o->input = optarg; break;
        case O_AIRPORTS: o->airports = optarg; break;
        case O_DB: o->db = optarg; break;
        case O_OUT: o->out = optarg; break;
        case O_WORKERS: bad = parse_long("--workers", optarg, 1, 64, &o->workers); break;
        case O_THREADS: bad = parse_long("--threads", optarg, 1, 64, &o->threads); break;
        case O_CHUNK: bad = parse_long("--chunk-rows", optarg, 1, 10000000, &o->chunk_rows); break;
        case O_OUTLIER:
            bad = parse_long("--outlier-minutes", optarg, 0, 1000000, &o->outlier_minutes);
            break;
        case O_FAIL: bad = parse_long("--fail-chunk", optarg, 0, 1L << 30, &o->fail_chunk); break;
        case O_FLAKY:
            bad = parse_long("--flaky-chunk", optarg, 0, 1L << 30, &o->flaky_chunk);
            break;
        case O_QUIET: o->quiet = 1; break;
        case O_HELP: usage(stdout); return 1;
        case ':':
            errorf("option %s needs a value", argv[optind - 1]);
            bad = 1;
            break;
        default:
            errorf("unknown option '%s'", argv[optind - 1]);
            bad = 1;
            break;
        }
        if (bad) {
            fprintf(stderr, "Try '" PROG " --help'.\n");
            return 2;
        }
    }
    if (optind < argc) {
        errorf("unexpected argument '%s'", argv[optind]);
        fprintf(stderr, "Try '" PROG " --help'.\n");
        return 2;
    }
    if (!*o->input || !*o->airports || !*o->db || !*o->out) {
        errorf("empty path given");
        return 2;
    }
    return 0;
}

static int check_readable(const char *what, const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) {
        errorf("%s file '%s': %s", what, path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        errorf("%s file '%s' is not a regular file", what, path);
        return -1;
    }
    if (access(path, R_OK) != 0) {
        errorf("%s file '%s' is not readable: %s", what, path, strerror(errno));
        return -1;
    }
    return 0;
}

static int mkdir_p(const char *path) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
    struct stat st;
    if (stat(buf, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- extract ----------------------------------------------------------- */

typedef struct chunk {
    unsigned char *buf; /* CHUNK_HEADER_LEN bytes of header, then records */
    size_t len, cap;
    uint32_t rows;
    uint64_t first_row;
} chunk;

typedef struct chunk_list {
    chunk *v;
    size_t n, cap;
} chunk_list;

static void chunks_free(chunk_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i].buf);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int chunk_append(chunk *c, const char *rec, size_t len) {
    if (c->len + len + 1 > c->cap) {
        size_t ncap = c->cap ? c->cap : 64 * 1024;
        while (ncap < c->len + len + 1) ncap *= 2;
        unsigned char *nb = realloc(c->buf, ncap);
        if (!nb) return -1;
        c->buf = nb;
        c->cap = ncap;
    }
    memcpy(c->buf + c->len, rec, len);
    c->len += len;
    c->buf[c->len++] = '\n';
    return 0;
}

/*
 * Read the input and cut it into chunks of chunk_rows records. The records
 * are copied verbatim (parsing is the transform tasks' work). Returns the
 * number of data records, or -1 after printing an error.
 */
static long long extract(const options *o, chunk_list *out) {
    char msg[600];
    csv_reader *r = csv_open(o->input, msg, sizeof msg);
    if (!r) {
        errorf("input: %s", msg);
        return -1;
    }
    const char *rec;
    size_t len;
    flight_cols cols;
    int got = csv_next(r, &rec, &len);
    long long rows = 0;
    if (got < 0) {
        errorf("input '%s': %s", o->input, csv_reader_error(r));
        rows = -1;
    } else if (got == 0) {
        errorf("input '%s' is empty (no CSV header)", o->input);
        rows = -1;
    } else if (flight_header(rec, len, &cols, msg, sizeof msg) != 0) {
        errorf("input '%s': %s", o->input, msg);
        rows = -1;
    }
    chunk *cur = NULL;
    while (rows >= 0 && (got = csv_next(r, &rec, &len)) == 1) {
        if (!cur || cur->rows == (uint32_t)o->chunk_rows) {
            if (out->n == out->cap) {
                size_t ncap = out->cap ? out->cap * 2 : 64;
                chunk *nv = realloc(out->v, ncap * sizeof *nv);
                if (!nv) {
                    errorf("out of memory");
                    rows = -1;
                    break;
                }
                out->v = nv;
                out->cap = ncap;
            }
            cur = &out->v[out->n++];
            memset(cur, 0, sizeof *cur);
            cur->first_row = (uint64_t)rows + 1;
            cur->len = CHUNK_HEADER_LEN; /* header written when full */
            cur->cap = 0;
            unsigned char *nb = malloc(64 * 1024);
            if (!nb) {
                errorf("out of memory");
                rows = -1;
                break;
            }
            cur->buf = nb;
            cur->cap = 64 * 1024;
        }
        if (chunk_append(cur, rec, len) != 0) {
            errorf("out of memory");
            rows = -1;
            break;
        }
        cur->rows++;
        rows++;
    }
    if (rows >= 0 && got < 0) {
        errorf("input '%s': %s", o->input, csv_reader_error(r));
        rows = -1;
    }
    if (rows == 0) {
        errorf("input '%s' has a header but no data rows", o->input);
        rows = -1;
    }
    csv_close(r);
    for (size_t i = 0; rows > 0 && i < out->n; i++)
        chunk_header_write(out->v[i].buf, (uint32_t)i, out->v[i].first_row, out->v[i].rows, &cols);
    return rows;
}

/* ---- results ----------------------------------------------------------- */

/* Fetch a finished task's result text (copied into buf); "" if none. */
static sitq_status task_text(sitq_queue *q, sitq_task_id id, char *buf, size_t buflen) {
    sitq_result *r = NULL;
    buf[0] = '\0';
    if (sitq_get_result(q, id, &r, NULL) != SITQ_OK) return SITQ_FAILED;
    sitq_status st = r->status;
    if (r->value && r->value_len < buflen) {
        memcpy(buf, r->value, r->value_len);
        buf[r->value_len] = '\0';
    }
    sitq_result_free(r);
    return st;
}

static double task_seconds(sitq_queue *q, sitq_task_id id, sitq_time_us *start, sitq_time_us *end) {
    sitq_result *r = NULL;
    double s = 0;
    if (sitq_get_result(q, id, &r, NULL) == SITQ_OK) {
        if (r->started_at_us && r->finished_at_us >= r->started_at_us) {
            s = (double)(r->finished_at_us - r->started_at_us) / 1e6;
            if (start && (!*start || r->started_at_us < *start)) *start = r->started_at_us;
            if (end && r->finished_at_us > *end) *end = r->finished_at_us;
        }
        sitq_result_free(r);
    }
    return s;
}

static long long kv(const char *text, const char *key) {
    return kv_get_ll(text, strlen(text), key, -1);
}

static int print_failures(sitq_queue *q) {
    sitq_result **items = NULL;
    size_t n = 0;
    sitq_error e;
    if (sitq_list(q, SITQ_FAILED, 100, 0, &items, &n, &e) != SITQ_OK) {
        errorf("cannot list failed tasks: %s", e.message);
        return -1;
    }
    for (size_t i = n; i-- > 0;) {
        sitq_result *r = items[i];
        fprintf(stderr, "  task %lld %s failed after %d attempt(s): %s\n", (long long)r->id,
                r->function ? r->function : "?", r->attempts, r->error ? r->error : "(no message)");
    }
    sitq_result_list_free(items, n);
    return (int)n;
}

/* ---- one run ----------------------------------------------------------- */

#define MAX_WORKERS 64
#define CHAIN_LEN   4

static const char *const CHAIN_FN[CHAIN_LEN] = {"validate", "clean", "enrich", "aggregate_states"};

/* The files of the dependent chain. */
typedef struct chain_paths {
    char staging[4200], valid[4300], clean[4300], enriched[4300], state[4300];
} chain_paths;

/* Everything one run holds; it stays in main's frame (the workers keep a
 * pointer to pctx). */
typedef struct run {
    const options *o;
    chain_paths paths;
    double t0;
    sitq_backend *backend;
    sitq_queue *queue;
    sitq_worker *workers[MAX_WORKERS];
    size_t n_workers;
    pipeline_ctx pctx;
    sitq_task_id chain[CHAIN_LEN];
    long long rows;    /* data records of the input */
    size_t n_chunks;   /* transform_chunk tasks */
    sitq_task_id *ids; /* the ETL batch: chunks, aggregate, load */
    sitq_stats st;     /* the queue once every task finished */
    double elapsed;    /* seconds from the start to the last task */
    sitq_worker_stats ws[MAX_WORKERS];
    int64_t attempts, failed_attempts;
} run;

/* What the finished tasks report. */
typedef struct outcome {
    char load_res[512], chain_res[CHAIN_LEN][512];
    sitq_status load_st, chain_st[CHAIN_LEN];
    sitq_time_us tr_start, tr_end; /* first start and last end of the chunks */
    double tr_busy, agg_s, load_s, chain_s[CHAIN_LEN];
    int64_t n_failed;
} outcome;

/* Create the output directories and remove the outputs of an earlier run,
 * which must not pass for this run's. 0, or -1 after printing an error. */
static int prepare_outputs(const options *o, chain_paths *p) {
    snprintf(p->staging, sizeof p->staging, "%s/staging", o->out);
    snprintf(p->valid, sizeof p->valid, "%s/valid.csv", p->staging);
    snprintf(p->clean, sizeof p->clean, "%s/cleaned.csv", o->out);
    snprintf(p->enriched, sizeof p->enriched, "%s/enriched.csv", o->out);
    snprintf(p->state, sizeof p->state, "%s/by_state.csv", o->out);
    if (mkdir_p(o->out) != 0 || mkdir_p(p->staging) != 0) {
        errorf("cannot create output directory '%s': %s", o->out, strerror(errno));
        return -1;
    }
    static const char *const old_outputs[] = {"by_origin.csv",    "by_day.csv",   "by_state.csv",
                                              "cleaned.csv",      "enriched.csv", "summary.txt",
                                              "staging/valid.csv"};
    for (size_t i = 0; i < sizeof old_outputs / sizeof old_outputs[0]; i++) {
        char path[4300];
        snprintf(path, sizeof path, "%s/%s", o->out, old_outputs[i]);
        if (remove(path) != 0 && errno != ENOENT) {
            errorf("cannot remove old output '%s': %s", path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Whether --db names a PostgreSQL database (sitq_backend_open's rule). */
static int db_is_postgres(const char *db) {
    return strncmp(db, "postgresql://", 13) == 0 || strncmp(db, "postgres://", 11) == 0;
}

/* Create the database's directory and remove the database of an earlier
 * run with its WAL files: a fresh queue each run. A PostgreSQL database is
 * not removed: start_workers refuses one whose queue holds tasks. 0, or -1
 * after printing an error. */
static int prepare_db(const char *db) {
    if (db_is_postgres(db)) return 0;
    char dbdir[4096];
    snprintf(dbdir, sizeof dbdir, "%s", db);
    char *slash = strrchr(dbdir, '/');
    if (slash && slash != dbdir) {
        *slash = '\0';
        if (mkdir_p(dbdir) != 0) {
            errorf("cannot create directory '%s' for --db: %s", dbdir, strerror(errno));
            return -1;
        }
    }
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s%s", db, suffixes[i]);
        if (remove(path) != 0 && errno != ENOENT) {
            errorf("cannot remove old database file '%s': %s", path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Open the queue and start --workers sitq_worker objects in this process,
 * as separate worker processes would be; each has its own id and
 * dispatcher. 0, or -1 after printing an error. */
static int start_workers(run *r) {
    sitq_error err;
    /* A path or a PostgreSQL URI. The URI is not printed: it may hold a
     * password. */
    if (sitq_backend_open(r->o->db, &r->backend, &err) != SITQ_OK) {
        if (db_is_postgres(r->o->db)) errorf("cannot open the database of --db: %s", err.message);
        else errorf("cannot open database '%s': %s", r->o->db, err.message);
        return -1;
    }
    if (sitq_queue_open(r->backend, "flights", &r->queue, &err) != SITQ_OK) {
        errorf("cannot open queue: %s", err.message);
        return -1;
    }
    sitq_stats st;
    if (db_is_postgres(r->o->db)) {
        if (sitq_get_stats(r->queue, &st, &err) != SITQ_OK) {
            errorf("cannot read the queue: %s", err.message);
            return -1;
        }
        if (st.total > 0) {
            errorf("the queue of --db already holds %lld tasks: give a schema of its own "
                   "(?sitq_schema=NAME)",
                   (long long)st.total);
            return -1;
        }
    }
    r->pctx = (pipeline_ctx){r->queue, r->o->fail_chunk, r->o->flaky_chunk};
    for (long i = 0; i < r->o->workers; i++) {
        sitq_worker_options wo;
        sitq_worker_options_init(&wo);
        char wid[64];
        snprintf(wid, sizeof wid, "flights-w%ld", i + 1);
        wo.worker_id = wid;
        wo.concurrency = (int)r->o->threads;
        wo.prefetch = 0; /* claim only what runs now: spreads chunks evenly */
        if (sitq_worker_create(r->queue, &wo, &r->workers[r->n_workers], &err) != SITQ_OK) {
            errorf("cannot create worker %ld: %s", i + 1, err.message);
            return -1;
        }
        sitq_worker *w = r->workers[r->n_workers++];
        if (stages_register(w, &r->pctx, &err) != SITQ_OK) {
            errorf("cannot register handlers: %s", err.message);
            return -1;
        }
        if (sitq_worker_start(w, &err) != SITQ_OK) {
            errorf("cannot start worker %ld: %s", i + 1, err.message);
            return -1;
        }
    }
    return 0;
}

/* Pipeline 2, the dependent chain validate -> clean -> enrich ->
 * aggregate_states. 0, or -1 after printing an error. */
static int enqueue_chain(run *r) {
    const options *o = r->o;
    const chain_paths *p = &r->paths;
    for (int i = 0; i < CHAIN_LEN; i++) {
        char payload[20000];
        switch (i) {
        case 0:
            snprintf(payload, sizeof payload, "input=%s\noutput=%s\n", o->input, p->valid);
            break;
        case 1:
            snprintf(payload, sizeof payload, "input=%s\noutput=%s\noutlier_minutes=%ld\n",
                     p->valid, p->clean, o->outlier_minutes);
            break;
        case 2:
            snprintf(payload, sizeof payload, "input=%s\nairports=%s\noutput=%s\n", p->clean,
                     o->airports, p->enriched);
            break;
        default:
            snprintf(payload, sizeof payload, "input=%s\noutput=%s\n", p->enriched, p->state);
            break;
        }
        sitq_task_options to;
        sitq_task_options_init(&to);
        to.max_retries = 1;
        to.backoff_base_s = 0.1;
        if (i > 0) {
            to.depends_on = &r->chain[i - 1];
            to.n_depends_on = 1;
        }
        sitq_error err;
        if (sitq_enqueue(r->queue, CHAIN_FN[i], payload, strlen(payload), &to, &r->chain[i],
                         &err) != SITQ_OK) {
            errorf("cannot enqueue %s: %s", CHAIN_FN[i], err.message);
            return -1;
        }
    }
    return 0;
}

/* Pipeline 1, the ETL fan-out/fan-in: extract the chunks in this thread,
 * then enqueue them, aggregate_chunks and load_reports in one batch (ids in
 * r->ids). 0, or -1 after printing an error. */
static int enqueue_etl(run *r) {
    double te = now_s();
    chunk_list chunks = {0};
    r->rows = extract(r->o, &chunks);
    if (r->rows < 0) {
        chunks_free(&chunks);
        return -1;
    }
    size_t n_chunks = chunks.n, n_specs = n_chunks + 2;
    r->n_chunks = n_chunks;
    sitq_task_spec *specs = calloc(n_specs, sizeof *specs);
    r->ids = calloc(n_specs, sizeof *r->ids);
    size_t *agg_deps = calloc(n_chunks, sizeof *agg_deps);
    int rc = -1;
    if (!specs || !r->ids || !agg_deps) {
        errorf("out of memory");
        goto out;
    }
    sitq_task_options chunk_opts, final_opts;
    sitq_task_options_init(&chunk_opts);
    chunk_opts.max_retries = 2;
    chunk_opts.backoff_base_s = 0.1;
    chunk_opts.backoff_cap_s = 1;
    sitq_task_options_init(&final_opts);
    final_opts.max_retries = 1;
    final_opts.backoff_base_s = 0.1;
    for (size_t i = 0; i < n_chunks; i++) {
        specs[i] = (sitq_task_spec){
            "transform_chunk", chunks.v[i].buf, chunks.v[i].len, &chunk_opts, NULL, 0};
        agg_deps[i] = i;
    }
    size_t load_dep = n_chunks;
    char load_payload[4200];
    snprintf(load_payload, sizeof load_payload, "out_dir=%s\n", r->o->out);
    specs[n_chunks] =
        (sitq_task_spec){"aggregate_chunks", NULL, 0, &final_opts, agg_deps, n_chunks};
    specs[n_chunks + 1] = (sitq_task_spec){"load_reports", load_payload, strlen(load_payload),
                                           &final_opts,    &load_dep,    1};
    double extract_s = now_s() - te;
    double tb = now_s();
    sitq_error err;
    if (sitq_enqueue_batch(r->queue, specs, n_specs, r->ids, &err) != SITQ_OK) {
        errorf("cannot enqueue the ETL batch: %s", err.message);
        goto out;
    }
    fprintf(stderr,
            "extract: %lld rows -> %zu chunks of <= %ld rows in %.2f s; "
            "enqueued %zu tasks in one batch in %.2f s\n",
            r->rows, n_chunks, r->o->chunk_rows, extract_s, n_specs, now_s() - tb);
    rc = 0;
out:
    chunks_free(&chunks); /* payloads were copied into the queue */
    free(specs);
    free(agg_deps);
    return rc;
}

/* The chain's current stage: the function of its first unfinished task. */
static const char *chain_stage(const run *r) {
    for (int i = 0; i < CHAIN_LEN; i++) {
        sitq_result *cr = NULL;
        if (sitq_get_result(r->queue, r->chain[i], &cr, NULL) != SITQ_OK) break;
        int fin = sitq_status_is_terminal(cr->status);
        sitq_result_free(cr);
        if (!fin) return CHAIN_FN[i];
    }
    return "done";
}

/* Print a progress line (at most every 0.5 s and at the end) until every
 * task is finished; r->st holds the final counts. 0, or -1 after printing
 * an error. */
static int wait_all(run *r) {
    int tty = isatty(STDERR_FILENO);
    double last_print = 0;
    char last_line[256] = "";
    sitq_stats *st = &r->st;
    for (;;) {
        sitq_error err;
        if (sitq_get_stats(r->queue, st, &err) != SITQ_OK) {
            errorf("cannot read queue stats: %s", err.message);
            return -1;
        }
        int64_t finished =
            st->count[SITQ_SUCCEEDED] + st->count[SITQ_FAILED] + st->count[SITQ_CANCELLED];
        int all_done = finished == st->total;
        double t = now_s();
        if (!r->o->quiet && (all_done || t - last_print >= 0.5)) {
            char line[256];
            snprintf(line, sizeof line,
                     "[%6.1fs] tasks %lld/%lld succeeded, %lld running, %lld waiting, "
                     "%lld queued, %lld failed; chain: %s",
                     t - r->t0, (long long)st->count[SITQ_SUCCEEDED], (long long)st->total,
                     (long long)st->count[SITQ_RUNNING], (long long)st->count[SITQ_WAITING],
                     (long long)st->count[SITQ_QUEUED] + (long long)st->count[SITQ_SCHEDULED],
                     (long long)st->count[SITQ_FAILED], chain_stage(r));
            if (tty) fprintf(stderr, "\r%s\033[K%s", line, all_done ? "\n" : "");
            else if (strcmp(line + 10, last_line) != 0 || all_done) fprintf(stderr, "%s\n", line);
            snprintf(last_line, sizeof last_line, "%s", line + 10);
            last_print = t;
        }
        if (all_done) return 0;
        sleep_ms(20);
    }
}

/* Stop the workers (all tasks are finished: this returns at once) and sum
 * their attempts. */
static void stop_workers(run *r) {
    for (size_t i = 0; i < r->n_workers; i++) {
        sitq_error err;
        if (sitq_worker_stop(r->workers[i], 30, &err) != SITQ_OK)
            errorf("stopping worker %s: %s", sitq_worker_id(r->workers[i]), err.message);
        sitq_worker_get_stats(r->workers[i], &r->ws[i]);
        r->attempts += r->ws[i].succeeded + r->ws[i].failed;
        r->failed_attempts += r->ws[i].failed;
    }
}

/* Read the finished tasks' results and times; print the failed tasks. */
static void collect_outcome(const run *r, outcome *out) {
    sitq_queue *q = r->queue;
    size_t n = r->n_chunks;
    out->load_st = task_text(q, r->ids[n + 1], out->load_res, sizeof out->load_res);
    for (int i = 0; i < CHAIN_LEN; i++)
        out->chain_st[i] = task_text(q, r->chain[i], out->chain_res[i], sizeof out->chain_res[i]);
    out->tr_start = out->tr_end = 0;
    out->tr_busy = 0;
    for (size_t i = 0; i < n; i++)
        out->tr_busy += task_seconds(q, r->ids[i], &out->tr_start, &out->tr_end);
    out->agg_s = task_seconds(q, r->ids[n], NULL, NULL);
    out->load_s = task_seconds(q, r->ids[n + 1], NULL, NULL);
    for (int i = 0; i < CHAIN_LEN; i++) out->chain_s[i] = task_seconds(q, r->chain[i], NULL, NULL);
    out->n_failed = r->st.count[SITQ_FAILED] + r->st.count[SITQ_CANCELLED];
    if (out->n_failed) {
        errorf("%lld of %lld tasks failed:", (long long)out->n_failed, (long long)r->st.total);
        print_failures(q);
    }
}

/* The chain's part of the summary (when it succeeded). */
static void print_chain_summary(const run *r, const outcome *out) {
    const char(*res)[512] = out->chain_res;
    printf("  chain             validate %.2f s -> clean %.2f s -> enrich %.2f s -> "
           "aggregate %.2f s\n",
           out->chain_s[0], out->chain_s[1], out->chain_s[2], out->chain_s[3]);
    printf("  duplicates        %lld dropped\n", kv(res[1], "duplicates"));
    printf("  outliers          %lld flagged (|delay| > %ld min)\n", kv(res[1], "outliers"),
           r->o->outlier_minutes);
    printf("  rows out          %lld (cleaned.csv, enriched.csv)\n", kv(res[1], "rows_out"));
    printf("  unmatched codes   %lld (rows: %lld origin, %lld destination; %lld airports "
           "known)\n",
           kv(res[2], "unmatched_codes"), kv(res[2], "unmatched_origin_rows"),
           kv(res[2], "unmatched_dest_rows"), kv(res[2], "airports"));
    printf("                    -> by_state.csv (%lld states)\n", kv(res[3], "states"));
}

/* The human-readable summary on stdout. */
static void print_summary(const run *r, const outcome *out) {
    const options *o = r->o;
    printf("\nsitq flights pipeline - %s\n", out->n_failed ? "FAILED" : "done");
    printf("  input             %s\n", o->input);
    long long bad_rows = out->chain_st[0] == SITQ_SUCCEEDED ? kv(out->chain_res[0], "bad")
                         : out->load_st == SITQ_SUCCEEDED   ? kv(out->load_res, "bad")
                                                            : -1;
    if (bad_rows >= 0) printf("  rows in           %lld (%lld bad)\n", r->rows, bad_rows);
    else printf("  rows in           %lld\n", r->rows);
    if (out->load_st == SITQ_SUCCEEDED) {
        printf("  ETL fan-out       %zu transform_chunk tasks x <= %ld rows: %.2f s wall "
               "(%.2f s of handler time), aggregate %.3f s, load %.3f s\n",
               r->n_chunks, o->chunk_rows, (double)(out->tr_end - out->tr_start) / 1e6,
               out->tr_busy, out->agg_s, out->load_s);
        printf("                    -> by_origin.csv (%lld airports), by_day.csv (%lld days)\n",
               kv(out->load_res, "origins"), kv(out->load_res, "days"));
    }
    if (out->chain_st[3] == SITQ_SUCCEEDED) print_chain_summary(r, out);
    printf("  tasks             %lld (%lld succeeded, %lld failed), %lld attempts "
           "(%lld failed)\n",
           (long long)r->st.total, (long long)r->st.count[SITQ_SUCCEEDED], (long long)out->n_failed,
           (long long)r->attempts, (long long)r->failed_attempts);
    printf("  workers           %zu x %ld thread(s):", r->n_workers, o->threads);
    for (size_t i = 0; i < r->n_workers; i++)
        printf(" %s=%lld", sitq_worker_id(r->workers[i]),
               (long long)r->ws[i].succeeded + (long long)r->ws[i].failed);
    printf(" attempts\n");
    /* Not a tasks/s figure: 46 tasks of real work say nothing of the
     * queue's own rate, which make bench measures. */
    printf("  elapsed           %.2f s for the whole job, %.0f input rows/s\n", r->elapsed,
           (double)r->rows / r->elapsed);
    printf("  outputs           %s/{by_origin,by_day,by_state,cleaned,enriched}.csv\n", o->out);
    /* A URI may hold a password: not printed. */
    printf("  queue database    %s\n", db_is_postgres(o->db) ? "PostgreSQL (--db)" : o->db);
}

/* The machine-readable copy of the summary (OUT/summary.txt), for scripts
 * and tests. 0, or -1 after printing an error. */
static int write_summary_file(const run *r, const outcome *out) {
    const options *o = r->o;
    const char(*res)[512] = out->chain_res;
    char sp[4300];
    snprintf(sp, sizeof sp, "%s/summary.txt", o->out);
    FILE *sf = fopen(sp, "w");
    if (!sf) {
        errorf("cannot write '%s': %s", sp, strerror(errno));
        return -1;
    }
    fprintf(sf, "status=%s\nrows_in=%lld\nchunks=%zu\nchunk_rows=%ld\n",
            out->n_failed ? "failed" : "ok", r->rows, r->n_chunks, o->chunk_rows);
    fprintf(sf, "etl_bad=%lld\norigins=%lld\ndays=%lld\n", kv(out->load_res, "bad"),
            kv(out->load_res, "origins"), kv(out->load_res, "days"));
    fprintf(sf, "bad=%lld\nduplicates=%lld\noutliers=%lld\noutlier_minutes=%ld\n",
            kv(res[0], "bad"), kv(res[1], "duplicates"), kv(res[1], "outliers"),
            o->outlier_minutes);
    fprintf(sf, "rows_out=%lld\nunmatched_codes=%lld\nunmatched_origin_rows=%lld\n",
            kv(res[1], "rows_out"), kv(res[2], "unmatched_codes"),
            kv(res[2], "unmatched_origin_rows"));
    fprintf(sf, "unmatched_dest_rows=%lld\nstates=%lld\n", kv(res[2], "unmatched_dest_rows"),
            kv(res[3], "states"));
    fprintf(sf, "tasks=%lld\ntasks_succeeded=%lld\ntasks_failed=%lld\nattempts=%lld\n",
            (long long)r->st.total, (long long)r->st.count[SITQ_SUCCEEDED],
            (long long)out->n_failed, (long long)r->attempts);
    fprintf(sf, "failed_attempts=%lld\nworkers=%zu\nthreads=%ld\nelapsed_s=%.3f\n",
            (long long)r->failed_attempts, r->n_workers, o->threads, r->elapsed);
    fprintf(sf, "tasks_per_s=%.1f\n", (double)r->st.count[SITQ_SUCCEEDED] / r->elapsed);
    if (fclose(sf) != 0) {
        errorf("error writing '%s'", sp);
        return -1;
    }
    return 0;
}

/* ---- main -------------------------------------------------------------- */

int main(int argc, char **argv) {
    options o;
    int prc = parse_options(argc, argv, &o);
    if (prc == 1) return 0;
    if (prc != 0) return 2;
    if (check_readable("input", o.input) != 0 || check_readable("airports", o.airports) != 0)
        return 1;
    run r = {.o = &o};
    if (prepare_outputs(&o, &r.paths) != 0 || prepare_db(o.db) != 0) return 1;

    r.t0 = now_s();
    int exit_code = 1;
    /* The chain is enqueued first, so that validate runs while this thread
     * extracts the chunks of the ETL pipeline. */
    if (start_workers(&r) == 0 && enqueue_chain(&r) == 0 && enqueue_etl(&r) == 0 &&
        wait_all(&r) == 0) {
        r.elapsed = now_s() - r.t0;
        stop_workers(&r);
        outcome out;
        collect_outcome(&r, &out);
        print_summary(&r, &out);
        if (out.load_st == SITQ_SUCCEEDED && report_findings(stdout, o.out, o.airports) != 0)
            out.n_failed++;
        report_timeline(stdout, r.queue, r.ids, r.n_chunks, 60);
        if (write_summary_file(&r, &out) != 0) out.n_failed++;
        exit_code = out.n_failed ? 1 : 0;
    }
    for (size_t i = 0; i < r.n_workers; i++) sitq_worker_free(r.workers[i]);
    free(r.ids);
    sitq_queue_close(r.queue);
    sitq_backend_close(r.backend);
    return exit_code;
}
