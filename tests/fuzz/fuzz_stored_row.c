/*
 * fuzz_stored_row.c - libFuzzer target: everything that reads a stored
 * task. Each input fills the sitq tables of a database with rows whose
 * columns come from the input - any type (NULL, integers small, huge and
 * negative, reals including NaN and infinities, text with invalid UTF-8 or
 * NUL bytes, blobs) - and then runs get, wait, list, stats, cancel, retry,
 * process_task (a claim by id), a worker cycle (batched claim, lease
 * recovery) and purge over them. Nothing may crash, hang or leak; errors
 * are fine.
 *
 * The columns are read from the schema at run time (PRAGMA table_info), so
 * the target follows the schema as it changes.
 */
#include <math.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sitq.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TABLES  16
#define MAX_COLUMNS 64

/** A sitq table and its columns. */
typedef struct table {
    char name[64];
    int n_columns;
    char columns[MAX_COLUMNS][64];
} table;

static char g_dir[] = "/tmp/sitq-fuzz-row.XXXXXX";
static char g_path[128];
static sqlite3 *g_raw; /* the fuzzer's own connection, writes rows */
static sitq_backend *g_backend;
static sitq_queue *g_queue;
static table g_tables[MAX_TABLES];
static int g_n_tables;

/** Reads the input as a stream; past its end every byte is 0. */
typedef struct reader {
    const uint8_t *p;
    size_t n, pos;
} reader;

static uint8_t next_byte(reader *r) { return r->pos < r->n ? r->p[r->pos++] : 0; }

static uint64_t next_u64(reader *r) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | next_byte(r);
    return v;
}

/** Bind one fuzz-chosen value of any type to parameter i. */
static void bind_value(sqlite3_stmt *st, int i, reader *r) {
    static const char *const words[] = {"default", "shell", "f", "other", ""};
    uint8_t kind = next_byte(r) % 10;
    switch (kind) {
    case 0: sqlite3_bind_null(st, i); break;
    case 1: sqlite3_bind_int64(st, i, (int8_t)next_byte(r)); break;
    case 2: sqlite3_bind_int64(st, i, (int64_t)next_u64(r)); break;
    case 3: {
        uint64_t bits = next_u64(r);
        double d;
        memcpy(&d, &bits, sizeof d);
        sqlite3_bind_double(st, i, d);
        break;
    }
    case 4:
    case 5: {
        size_t len = next_byte(r);
        size_t avail = r->pos < r->n ? r->n - r->pos : 0;
        if (len > avail) len = avail;
        const void *p = r->p + r->pos;
        r->pos += len;
        if (kind == 4) sqlite3_bind_text(st, i, len ? p : "", (int)len, SQLITE_TRANSIENT);
        else sqlite3_bind_blob(st, i, len ? p : "", (int)len, SQLITE_TRANSIENT);
        break;
    }
    case 6: sqlite3_bind_text(st, i, words[next_byte(r) % 5], -1, SQLITE_STATIC); break;
    case 7: sqlite3_bind_int64(st, i, 1 + next_byte(r) % 6); break;
    case 8: sqlite3_bind_int64(st, i, sitq_now_us() + (int8_t)next_byte(r) * 1000000LL); break;
    default:
        sqlite3_bind_int64(st, i, next_byte(r) % 7); /* a state */
        break;
    }
}

/** Read the sitq tables (all but sitq_meta) and their columns. */
static void load_schema(void) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(g_raw,
                           "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE "
                           "'sitq%' AND name <> 'sitq_meta' ORDER BY name",
                           -1, &st, NULL) != SQLITE_OK)
        abort();
    while (sqlite3_step(st) == SQLITE_ROW && g_n_tables < MAX_TABLES) {
        table *t = &g_tables[g_n_tables++];
        snprintf(t->name, sizeof t->name, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    for (int i = 0; i < g_n_tables; i++) {
        char sql[160];
        snprintf(sql, sizeof sql, "PRAGMA table_info(\"%s\")", g_tables[i].name);
        if (sqlite3_prepare_v2(g_raw, sql, -1, &st, NULL) != SQLITE_OK) abort();
        while (sqlite3_step(st) == SQLITE_ROW && g_tables[i].n_columns < MAX_COLUMNS)
            snprintf(g_tables[i].columns[g_tables[i].n_columns++], 64, "%s",
                     (const char *)sqlite3_column_text(st, 1));
        sqlite3_finalize(st);
    }
}

static void remove_dir(void) {
    sitq_queue_close(g_queue);
    sitq_backend_close(g_backend);
    sqlite3_close(g_raw);
    char p[160];
    static const char *const files[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", g_path, files[i]);
        unlink(p);
    }
    rmdir(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    if (mkdtemp(g_dir) == NULL) abort();
    snprintf(g_path, sizeof g_path, "%s/fuzz.db", g_dir);
    sitq_error err;
    if (sitq_backend_open_sqlite(g_path, NULL, &g_backend, &err) != SITQ_OK ||
        sitq_queue_open(g_backend, "default", &g_queue, &err) != SITQ_OK) {
        fprintf(stderr, "fuzz_stored_row: %s\n", err.message);
        abort();
    }
    if (sqlite3_open(g_path, &g_raw) != SQLITE_OK) abort();
    sqlite3_busy_timeout(g_raw, 10000);
    load_schema();
    atexit(remove_dir);
    return 0;
}

/** Replace the rows of every sitq table by rows made from the input. */
static void fill_tables(reader *r) {
    sqlite3_exec(g_raw, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    for (int t = 0; t < g_n_tables; t++) {
        char sql[4096];
        snprintf(sql, sizeof sql, "DELETE FROM \"%s\"", g_tables[t].name);
        sqlite3_exec(g_raw, sql, NULL, NULL, NULL);
        int pos =
            snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO \"%s\" VALUES (", g_tables[t].name);
        for (int c = 0; c < g_tables[t].n_columns; c++)
            pos += snprintf(sql + pos, sizeof sql - (size_t)pos, "%s?", c ? ", " : "");
        snprintf(sql + pos, sizeof sql - (size_t)pos, ")");
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(g_raw, sql, -1, &st, NULL) != SQLITE_OK) continue;
        int rows = next_byte(r) % 4;
        for (int k = 0; k < rows; k++) {
            for (int c = 0; c < g_tables[t].n_columns; c++) bind_value(st, c + 1, r);
            (void)sqlite3_step(st); /* constraint failures are fine */
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
        }
        sqlite3_finalize(st);
    }
    sqlite3_exec(g_raw, "COMMIT", NULL, NULL, NULL);
}

static int echo_handler(sitq_task_ctx *ctx, const void *payload, size_t len, void *ud) {
    (void)ud;
    return sitq_ctx_set_result(ctx, payload, len) == SITQ_OK ? 0 : 1;
}

/** Run one worker through a few dispatcher cycles (claim, lease recovery). */
static void run_worker_cycles(void) {
    sitq_worker_options o;
    sitq_worker_options_init(&o);
    o.poll_interval_s = 0.001;
    o.lease_s = 0.05;
    o.worker_id = "fuzz";
    sitq_worker *w = NULL;
    if (sitq_worker_create(g_queue, &o, &w, NULL) != SITQ_OK) return;
    if (sitq_worker_register(w, "*", echo_handler, NULL, NULL) == SITQ_OK &&
        sitq_worker_start(w, NULL) == SITQ_OK) {
        /* Wait (bounded) for two commits: a claim, then completions. */
        for (int i = 0; i < 200; i++) {
            sitq_worker_stats ws;
            sitq_worker_get_stats(w, &ws);
            if (ws.commits + ws.errors >= 2) break;
            usleep(500);
        }
        (void)sitq_worker_stop(w, 1.0, NULL);
    }
    sitq_worker_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    reader r = {data, size, 0};
    uint8_t flags = next_byte(&r);
    fill_tables(&r);
    for (sitq_task_id id = 1; id <= 6; id++) {
        sitq_result *res = NULL;
        (void)sitq_get_result(g_queue, id, &res, NULL);
        sitq_result_free(res);
        res = NULL;
        (void)sitq_wait(g_queue, id, 0.0, &res, NULL);
        sitq_result_free(res);
    }
    for (int s = -1; s < SITQ_STATUS_COUNT; s++) {
        sitq_result **items = NULL;
        size_t n = 0;
        if (sitq_list(g_queue, s < 0 ? SITQ_STATUS_ANY : s, 50, 0, &items, &n, NULL) == SITQ_OK)
            sitq_result_list_free(items, n);
    }
    sitq_stats st;
    (void)sitq_get_stats(g_queue, &st, NULL);
    if (flags & 1) {
        sitq_worker *w = NULL;
        if (sitq_worker_create(g_queue, NULL, &w, NULL) == SITQ_OK &&
            sitq_worker_register(w, "*", echo_handler, NULL, NULL) == SITQ_OK) {
            for (sitq_task_id id = 1; id <= 6; id++) {
                sitq_result *res = NULL;
                (void)sitq_worker_process_task(w, id, &res, NULL);
                sitq_result_free(res);
            }
        }
        sitq_worker_free(w);
    }
    if (flags & 2) run_worker_cycles();
    if (flags & 4) {
        for (sitq_task_id id = 1; id <= 6; id++) {
            sitq_status out;
            (void)sitq_cancel(g_queue, id, &out, NULL);
            (void)sitq_retry(g_queue, id, NULL);
        }
    }
    if (flags & 8) {
        int64_t purged = 0;
        (void)sitq_purge(g_queue, 0.0, &purged, NULL);
    }
    return 0;
}
