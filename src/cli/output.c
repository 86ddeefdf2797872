/*
 * output.c - text and JSON formatting of tasks and statistics.
 */
#include "output.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "diag.h"
#include "shell_payload.h"
#include "term_escape.h"

void fmt_time_iso(sitq_time_us t, int with_us, char *buf, size_t n) {
    if (t <= 0) {
        snprintf(buf, n, "-");
        return;
    }
    time_t secs = (time_t)(t / 1000000);
    long us = (long)(t % 1000000);
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL) {
        snprintf(buf, n, "%" PRId64 "us", t);
        return;
    }
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    if (with_us) snprintf(buf, n, "%s.%06ldZ", base, us);
    else snprintf(buf, n, "%sZ", base);
}

/** A JSON string of s, or null when s is NULL. */
static json_t *str_or_null(const char *s) {
    if (s == NULL) return json_null();
    json_t *j = json_string(s);
    return j != NULL ? j : json_null();
}

/** The line the Python worker appends to a stored traceback: a pickled
 * exception for Result.unwrap(), not text for people. */
#define EXC_MARKER "sitq-exception-v1:"

size_t traceback_shown_len(const char *tb) {
    size_t len = strlen(tb);
    for (const char *p = tb; (p = strstr(p, EXC_MARKER)) != NULL; p++)
        if (p == tb || p[-1] == '\n') len = (size_t)(p - tb);
    return len;
}

/** The traceback as a JSON string without the marker line, or null. */
static json_t *traceback_json(const char *tb) {
    if (tb == NULL) return json_null();
    json_t *j = json_stringn(tb, traceback_shown_len(tb));
    return j != NULL ? j : json_null();
}

/** A JSON ISO-8601 time string, or null for 0. */
static json_t *time_or_null(sitq_time_us t) {
    if (t <= 0) return json_null();
    char buf[CLI_TIME_BUF];
    fmt_time_iso(t, 1, buf, sizeof buf);
    return json_string(buf);
}

/** Base64 (RFC 4648, padded) of len bytes as a new JSON string. */
static json_t *base64_json(const unsigned char *p, size_t len) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t out_len = 4 * ((len + 2) / 3);
    char *out = malloc(out_len + 1);
    if (out == NULL) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < len) v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < len) v |= p[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? tbl[v & 63] : '=';
    }
    out[o] = '\0';
    json_t *j = json_stringn(out, o);
    free(out);
    return j;
}

/** Add key to obj, taking the reference; returns -1 when value is NULL or adding fails. */
static int put(json_t *obj, const char *key, json_t *value) {
    if (value == NULL) return -1;
    return json_object_set_new(obj, key, value);
}

int result_python_value(const sitq_result *r, size_t total, sitq__pyvalue *pv, char *note,
                        size_t n) {
    char why[96] = "";
    int kind = SITQ__PYVALUE_OTHER;
    memset(pv, 0, sizeof *pv);
    if (r->value != NULL && sitq__pyvalue_function(r->function))
        kind = sitq__pyvalue_parse(r->value, r->value_len, pv, why, sizeof why);
    if (kind == SITQ__PYVALUE_RECORD)
        snprintf(note, n, "Python value, %zu bytes pickled",
                 total - (r->value_len - pv->pickle_len));
    else if (kind == SITQ__PYVALUE_PICKLE)
        snprintf(note, n, "Python pickle, %zu bytes; repr not stored", total);
    else if (kind == SITQ__PYVALUE_BAD)
        snprintf(note, n, "%zu bytes; not a valid Python value record: %s", total, why);
    else snprintf(note, n, "%zu bytes", total);
    return kind;
}

json_t *value_repr_json(const sitq_result *r) {
    sitq__pyvalue pv;
    char note[160];
    if (result_python_value(r, r->value_len, &pv, note, sizeof note) != SITQ__PYVALUE_RECORD)
        return json_null();
    return json_stringn(pv.repr, pv.repr_len); /* valid UTF-8: checked by the parser */
}

json_t *result_to_json(const sitq_result *r, char *const *argv, int argc, unsigned shell_opts) {
    json_t *o = json_object();
    if (o == NULL) return NULL;
    int bad = 0;
    bad |= put(o, "id", json_integer(r->id));
    bad |= put(o, "queue", str_or_null(r->queue));
    bad |= put(o, "function", str_or_null(r->function));
    bad |= put(o, "status", json_string(sitq_status_name(r->status)));
    if (argc > 0) {
        json_t *cmd = json_array();
        for (int i = 0; cmd != NULL && i < argc; i++) {
            json_t *s = json_string(argv[i]);
            if (s == NULL) /* not UTF-8: keep the bytes visible as base64 */
                s = base64_json((const unsigned char *)argv[i], strlen(argv[i]));
            if (json_array_append_new(cmd, s) != 0) bad = -1;
        }
        bad |= put(o, "command", cmd);
    } else {
        bad |= put(o, "command", json_null());
    }
    bad |= put(o, "stdin_from_deps", json_boolean((shell_opts & SHELL_OPT_STDIN_DEPS) != 0));
    bad |= put(o, "priority", json_integer(r->priority));
    bad |= put(o, "attempts", json_integer(r->attempts));
    bad |= put(o, "max_retries", json_integer(r->max_retries));
    if (r->value == NULL) {
        bad |= put(o, "value", json_null());
    } else {
        json_t *v = json_stringn((const char *)r->value, r->value_len);
        if (v != NULL) {
            bad |= put(o, "value", v);
        } else { /* not valid UTF-8 */
            bad |= put(o, "value", json_null());
            bad |= put(o, "value_base64", base64_json(r->value, r->value_len));
        }
    }
    bad |= put(o, "value_len", json_integer((json_int_t)r->value_len));
    bad |= put(o, "value_repr", value_repr_json(r));
    bad |= put(o, "error", str_or_null(r->error));
    bad |= put(o, "traceback", traceback_json(r->traceback));
    bad |= put(o, "worker_id", str_or_null(r->worker_id));
    bad |= put(o, "unique_key", str_or_null(r->unique_key));
    bad |= put(o, "progress", r->progress < 0 ? json_null() : json_real(r->progress));
    bad |= put(o, "cancel_requested", json_boolean(r->cancel_requested));
    bad |= put(o, "timeout_s", json_real(r->timeout_s));
    bad |= put(o, "payload_len", json_integer((json_int_t)r->payload_len));
    bad |= put(o, "enqueued_at", time_or_null(r->enqueued_at_us));
    bad |= put(o, "eta", time_or_null(r->eta_us));
    bad |= put(o, "started_at", time_or_null(r->started_at_us));
    bad |= put(o, "finished_at", time_or_null(r->finished_at_us));
    bad |= put(o, "enqueued_at_us", json_integer(r->enqueued_at_us));
    bad |= put(o, "eta_us", json_integer(r->eta_us));
    bad |= put(o, "started_at_us", json_integer(r->started_at_us));
    bad |= put(o, "finished_at_us", json_integer(r->finished_at_us));
    json_t *deps = json_array();
    for (size_t i = 0; deps != NULL && i < r->n_depends_on; i++)
        if (json_array_append_new(deps, json_integer(r->depends_on[i])) != 0) bad = -1;
    bad |= put(o, "depends_on", deps);
    bad |= put(o, "finalizer", json_boolean(r->finalizer));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/** Print stored text indented by two spaces per line (term_escape'd). */
static void print_block(const char *p, size_t len) {
    char *safe = term_escape(p, len, TERM_KEEP_LAYOUT);
    if (safe == NULL) {
        puts("  (out of memory)");
        return;
    }
    int at_line_start = 1;
    for (const char *c = safe; *c != '\0'; c++) {
        if (at_line_start) {
            fputs("  ", stdout);
            at_line_start = 0;
        }
        putchar(*c);
        if (*c == '\n') at_line_start = 1;
    }
    if (!at_line_start) putchar('\n');
    free(safe);
}

/** Print one "name: value" line with the name padded; the value is term_escape'd. */
static void field(const char *name, const char *value) {
    char *safe = term_escape_str(value, 0);
    printf("%-17s %s\n", name, value == NULL ? "-" : safe != NULL ? safe : "(out of memory)");
    free(safe);
}

/** The "value:" field: a Python task's repr, else the stored bytes, with a
 * note saying what they are. */
static void print_value_text(const sitq_result *r) {
    if (r->value == NULL) {
        field("value:", "-");
        return;
    }
    sitq__pyvalue pv;
    char note[160];
    char buf[176];
    int kind = result_python_value(r, r->value_len, &pv, note, sizeof note);
    snprintf(buf, sizeof buf, "(%s)", note);
    field("value:", buf);
    if (kind == SITQ__PYVALUE_RECORD) print_block(pv.repr, pv.repr_len);
    else if (kind != SITQ__PYVALUE_PICKLE) print_block(r->value, r->value_len);
}

void print_result_text(const sitq_result *r, char *const *argv, int argc, unsigned shell_opts) {
    char buf[128];
    snprintf(buf, sizeof buf, "%" PRId64, (int64_t)r->id);
    field("id:", buf);
    field("queue:", r->queue);
    field("function:", r->function);
    if (argc > 0) {
        char *cmd = shell_format_command(argv, argc);
        field("command:", cmd != NULL ? cmd : "(out of memory)");
        free(cmd);
    }
    if (shell_opts & SHELL_OPT_STDIN_DEPS) field("stdin:", "the dependencies' results");
    field("status:", sitq_status_name(r->status));
    snprintf(buf, sizeof buf, "%" PRId32, r->priority);
    field("priority:", buf);
    snprintf(buf, sizeof buf, "%" PRId32, r->attempts);
    field("attempts:", buf);
    snprintf(buf, sizeof buf, "%" PRId32, r->max_retries);
    field("max_retries:", buf);
    if (r->timeout_s > 0) snprintf(buf, sizeof buf, "%g s", r->timeout_s);
    else snprintf(buf, sizeof buf, "none");
    field("timeout:", buf);
    field("unique_key:", r->unique_key);
    field("worker_id:", r->worker_id);
    if (r->progress >= 0) snprintf(buf, sizeof buf, "%.1f%%", r->progress * 100.0);
    else snprintf(buf, sizeof buf, "-");
    field("progress:", buf);
    field("cancel_requested:", r->cancel_requested ? "yes" : "no");
    snprintf(buf, sizeof buf, "%zu bytes", r->payload_len);
    field("payload_len:", buf);
    if (r->n_depends_on == 0) {
        field("depends_on:", "-");
    } else {
        printf("%-17s", "depends_on:");
        for (size_t i = 0; i < r->n_depends_on; i++) printf(" %" PRId64, (int64_t)r->depends_on[i]);
        if (r->finalizer) printf(" (finalizer: runs whatever their outcome)");
        putchar('\n');
    }
    fmt_time_iso(r->enqueued_at_us, 1, buf, sizeof buf);
    field("enqueued_at:", buf);
    fmt_time_iso(r->eta_us, 1, buf, sizeof buf);
    field("eta:", buf);
    fmt_time_iso(r->started_at_us, 1, buf, sizeof buf);
    field("started_at:", buf);
    fmt_time_iso(r->finished_at_us, 1, buf, sizeof buf);
    field("finished_at:", buf);
    field("error:", r->error);
    print_value_text(r);
    size_t tb_len = r->traceback != NULL ? traceback_shown_len(r->traceback) : 0;
    if (tb_len == 0) {
        field("traceback:", "-");
    } else {
        puts("traceback:");
        print_block(r->traceback, tb_len);
    }
}

void print_list_header(void) {
    printf("%-10s %-10s %-12s %6s %4s  %-20s  %s\n", "ID", "STATUS", "QUEUE", "PRI", "ATT",
           "ENQUEUED", "TASK");
}

/* Print escaped text cut to max_chars characters ("..." marks a cut). */
static void print_cut(const char *text, size_t max_chars, const char *end) {
    char *safe = term_escape_str(text, 0);
    if (safe == NULL) printf("(out of memory)%s", end);
    else if (term_char_count(safe) > max_chars)
        printf("%.*s...%s", (int)term_prefix_len(safe, max_chars - 3), safe, end);
    else printf("%s%s", safe, end);
    free(safe);
}

void print_list_row(const sitq_result *r, char *const *argv, int argc) {
    char when[CLI_TIME_BUF];
    fmt_time_iso(r->enqueued_at_us, 0, when, sizeof when);
    char *cmd = argc > 0 ? shell_format_command(argv, argc) : NULL;
    printf("%-10" PRId64 " %-10s ", (int64_t)r->id, sitq_status_name(r->status));
    /* the queue padded to its column, cut when longer */
    char *q = term_escape_str(r->queue != NULL ? r->queue : "-", 0);
    size_t qn = q != NULL ? term_char_count(q) : 0;
    if (q != NULL && qn > 12) printf("%.*s...", (int)term_prefix_len(q, 9), q);
    else printf("%s%*s", q != NULL ? q : "?", (int)(12 - (q != NULL ? qn : 1)), "");
    free(q);
    printf(" %6" PRId32 " %4" PRId32 "  %-20s  ", r->priority, r->attempts, when);
    print_cut(cmd != NULL ? cmd : (r->function != NULL ? r->function : "-"), 60, "\n");
    free(cmd);
    /* why a failed or cancelled task ended, on its own line */
    if ((r->status == SITQ_FAILED || r->status == SITQ_CANCELLED) && r->error != NULL &&
        r->error[0] != '\0') {
        printf("%-10s error: ", "");
        print_cut(r->error, 100, "\n");
    }
}

/* The store's figures that the backend measured (-1: not measured). */
void print_health_text(const sitq_store_health *h) {
    printf("store:\n");
    if (h->store_bytes >= 0) printf("  %-22s %" PRId64 "\n", "bytes", h->store_bytes);
    if (h->wal_bytes >= 0) printf("  %-22s %" PRId64 "\n", "wal_bytes", h->wal_bytes);
    if (h->wal_bytes_per_task >= 0)
        printf("  %-22s %.0f\n", "wal_bytes_per_task", h->wal_bytes_per_task);
    if (h->live_tuples >= 0) printf("  %-22s %" PRId64 "\n", "live_tuples", h->live_tuples);
    if (h->dead_tuples >= 0) printf("  %-22s %" PRId64 "\n", "dead_tuples", h->dead_tuples);
    if (h->oldest_xact_age_s >= 0)
        printf("  %-22s %.1f\n", "oldest_transaction_s", h->oldest_xact_age_s);
}

void print_queue_header(void) {
    printf("%-20s", "QUEUE");
    for (int s = 0; s < SITQ_STATUS_COUNT; s++) {
        char head[16];
        const char *n = sitq_status_name(s);
        size_t i = 0;
        for (; n[i] != '\0' && i + 1 < sizeof head; i++)
            head[i] = (char)toupper((unsigned char)n[i]);
        head[i] = '\0';
        printf(" %10s", head);
    }
    printf(" %10s\n", "TOTAL");
}

/* A count as text: "N", or "N+" when it is a lower bound. */
static const char *count_text(int64_t n, int is_bound, char *buf, size_t len) {
    snprintf(buf, len, "%" PRId64 "%s", n, is_bound ? "+" : "");
    return buf;
}

void print_queue_row(const char *queue, const sitq_stats *st, unsigned bound) {
    char *safe = queue != NULL ? term_escape_str(queue, 0) : NULL;
    printf("%-20s", queue == NULL ? "(all queues)" : safe != NULL ? safe : "(out of memory)");
    free(safe);
    char buf[32];
    for (int s = 0; s < SITQ_STATUS_COUNT; s++)
        printf(" %10s", count_text(st->count[s], (bound >> s) & 1u, buf, sizeof buf));
    printf(" %10s\n", count_text(st->total, bound != 0, buf, sizeof buf));
}

void print_stats_text(const char *queue, const sitq_stats *st, const sitq_store_health *h,
                      unsigned bound) {
    char *safe = term_escape_str(queue, 0);
    printf("queue: %s\n", safe != NULL ? safe : "(out of memory)");
    free(safe);
    char buf[32];
    for (int s = 0; s < SITQ_STATUS_COUNT; s++)
        printf("%-10s %s\n", sitq_status_name(s),
               count_text(st->count[s], (bound >> s) & 1u, buf, sizeof buf));
    printf("%-10s %s\n", "total", count_text(st->total, bound != 0, buf, sizeof buf));
    if (h) print_health_text(h);
}

int stats_bound_json(json_t *o, int64_t cap, unsigned bound) {
    json_t *lower = json_array();
    int bad = lower == NULL;
    for (int s = 0; s < SITQ_STATUS_COUNT && !bad; s++)
        if ((bound >> s) & 1u) bad = json_array_append_new(lower, json_string(sitq_status_name(s)));
    /* A sum with a bound in it is a bound too. */
    if (!bad && bound != 0) bad = json_array_append_new(lower, json_string("total"));
    if (bad) {
        json_decref(lower);
        return -1;
    }
    bad = json_object_set_new(o, "count_cap", json_integer((json_int_t)cap)) != 0;
    bad |= json_object_set_new(o, "lower_bound", lower) != 0;
    return bad ? -1 : 0;
}

json_t *totals_to_json(const sitq_totals *t) {
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "enqueued", (json_int_t)t->enqueued, "succeeded",
                     (json_int_t)t->succeeded, "failed", (json_int_t)t->failed, "retried",
                     (json_int_t)t->retried, "lost", (json_int_t)t->lost, "cancelled",
                     (json_int_t)t->cancelled);
}

void print_totals_text(const sitq_totals *t) {
    printf("counted (only grows):\n");
    const char *names[] = {"enqueued", "succeeded", "failed", "retried", "lost", "cancelled"};
    const int64_t v[] = {t->enqueued, t->succeeded, t->failed, t->retried, t->lost, t->cancelled};
    for (int i = 0; i < 6; i++) printf("  %-22s %" PRId64 "\n", names[i], v[i]);
}

void totals_add(sitq_totals *sum, const sitq_totals *t) {
    sum->enqueued += t->enqueued;
    sum->succeeded += t->succeeded;
    sum->failed += t->failed;
    sum->retried += t->retried;
    sum->lost += t->lost;
    sum->cancelled += t->cancelled;
}

/* {"bytes", "wal_bytes", ...}: the measured figures only. */
json_t *health_to_json(const sitq_store_health *h) {
    json_t *o = json_object();
    if (o == NULL) return NULL;
    int bad = 0;
    if (h->store_bytes >= 0) bad |= put(o, "bytes", json_integer(h->store_bytes));
    if (h->wal_bytes >= 0) bad |= put(o, "wal_bytes", json_integer(h->wal_bytes));
    if (h->wal_bytes_per_task >= 0)
        bad |= put(o, "wal_bytes_per_task", json_real(h->wal_bytes_per_task));
    if (h->live_tuples >= 0) bad |= put(o, "live_tuples", json_integer(h->live_tuples));
    if (h->dead_tuples >= 0) bad |= put(o, "dead_tuples", json_integer(h->dead_tuples));
    if (h->oldest_xact_age_s >= 0)
        bad |= put(o, "oldest_transaction_s", json_real(h->oldest_xact_age_s));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *stats_to_json(const char *queue, const sitq_stats *st, const sitq_store_health *h) {
    json_t *o = json_object();
    if (o == NULL) return NULL;
    int bad = put(o, "queue", queue ? json_string(queue) : json_null());
    for (int s = 0; s < SITQ_STATUS_COUNT; s++)
        bad |= put(o, sitq_status_name(s), json_integer(st->count[s]));
    bad |= put(o, "total", json_integer(st->total));
    if (h) bad |= put(o, "store", health_to_json(h));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int print_json(json_t *j) {
    if (j == NULL) return -1;
    /* ASCII only: stored text may hold C1 controls, which jansson would
     * print raw; as \uXXXX they reach no terminal and parse the same. */
    int rc = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(j);
    if (rc != 0) return -1;
    putchar('\n');
    return fflush(stdout) == 0 ? 0 : -1;
}

int print_json_line(json_t *j) {
    if (j == NULL) return -1;
    int rc = json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(j);
    if (rc != 0) return -1;
    putchar('\n');
    return ferror(stdout) ? -1 : 0;
}

int print_json_checked(const char *cmd, json_t *j) {
    if (print_json(j) != 0) {
        cli_errorf(cmd, "cannot write JSON output");
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}
