/*
 * output.h - formatting of tasks and statistics as readable text or JSON
 * (jansson). All output goes to stdout.
 */
#ifndef SITQ_CLI_OUTPUT_H
#define SITQ_CLI_OUTPUT_H

#include <jansson.h>
#include <stddef.h>

#include "core/pyvalue.h"
#include "sitq.h"

/** Size of a buffer for fmt_time_iso. */
#define CLI_TIME_BUF 40

/**
 * Format t as ISO-8601 UTC with microseconds ("2026-01-02T03:04:05.000006Z")
 * or, when with_us is 0, whole seconds. 0 gives "-".
 */
void fmt_time_iso(sitq_time_us t, int with_us, char *buf, size_t n);

/**
 * The length of traceback tb as shown to people: up to the last line that
 * starts with "sitq-exception-v1:" (the pickled exception a Python worker
 * appends for Result.unwrap()), which is cut with everything after it, as
 * the Python binding's Result.traceback reads it; all of tb when there is
 * none. tb is NUL-terminated. Pure.
 */
size_t traceback_shown_len(const char *tb);

/**
 * Read a task's stored result for people: for a Python task ("py:"
 * function) split the record of repr and pickle (core/pyvalue.h) into *pv
 * and return its kind; for any other task, or no result, return
 * SITQ__PYVALUE_OTHER. note (n bytes) gets what the result is, without
 * the value itself: "Python value, 40 bytes pickled", "Python pickle, 40
 * bytes; repr not stored" (stored before reprs were), "40 bytes; not a
 * valid Python value record: REASON", "40 bytes". pv borrows from r.
 * total is the stored result's size in bytes: r->value_len when r holds
 * all of it, more when r holds only its head (the sizes in note are of
 * the whole result; the head must hold the record's header and repr).
 */
int result_python_value(const sitq_result *r, size_t total, sitq__pyvalue *pv, char *note,
                        size_t n);

/**
 * The "value_repr" of a task's JSON: the repr stored with a Python task's
 * result (a JSON string), or null (no result, not a Python task, a bare
 * pickle). NULL when out of memory.
 */
json_t *value_repr_json(const sitq_result *r);

/**
 * Build the JSON object of a task. argv/argc/shell_opts: the decoded command
 * of a shell task and its SHELL_OPT_ bits (argc 0 when none). Returns a new
 * reference or NULL (out of memory).
 */
json_t *result_to_json(const sitq_result *r, char *const *argv, int argc, unsigned shell_opts);

/** Print every field of a task as "name: value" lines (arguments as above). */
void print_result_text(const sitq_result *r, char *const *argv, int argc, unsigned shell_opts);

/** Print the header line of the `list` table. */
void print_list_header(void);

/** Print one row of the `list` table. */
void print_list_row(const sitq_result *r, char *const *argv, int argc);

/** Print queue statistics as text. bound: bit 1u << s when count[s] is a
 *  lower bound (a --count-cap was reached), printed "N+" (so is the total
 *  when any bit is set); 0 for exact counts. */
void print_stats_text(const char *queue, const sitq_stats *st, const sitq_store_health *h,
                      unsigned bound);

/** Build the JSON object of queue statistics (new reference or NULL); queue
 * NULL gives "queue": null, h NULL leaves out "store". */
json_t *stats_to_json(const char *queue, const sitq_stats *st, const sitq_store_health *h);
/* {"enqueued", "succeeded", "failed", "retried", "lost", "cancelled"}: a
 * queue's counters that only grow (sitq_queue_totals); NULL when out of
 * memory. */
json_t *totals_to_json(const sitq_totals *t);
/* The counters as text lines under "since counted:" (sitq stats --queue). */
void print_totals_text(const sitq_totals *t);
/* *sum += *t, field by field. */
void totals_add(sitq_totals *sum, const sitq_totals *t);

/** Print the header line of the table of queues (`queues`, `stats`). */
void print_queue_header(void);

/** Print one row of the table of queues: the name (NULL: "(all queues)") and
 *  its counts, a count whose bit is set in bound as "N+" (see
 *  print_stats_text). */
void print_queue_row(const char *queue, const sitq_stats *st, unsigned bound);

/** Add "count_cap" (cap) and "lower_bound" (the names of the statuses whose
 *  bit is set in bound: their figure is the cap, more tasks than that; and
 *  "total" when any is) to the stats object o. Returns 0, or -1 when out of
 *  memory. */
int stats_bound_json(json_t *o, int64_t cap, unsigned bound);

/** Print the store's measured figures as a "store:" section. */
void print_health_text(const sitq_store_health *h);

/** The JSON object of the store's measured figures (new reference or NULL). */
json_t *health_to_json(const sitq_store_health *h);

/**
 * Print a JSON value on one line (compact, for pipes and `jq`) and release
 * it. Returns 0, or -1 when j is NULL or printing failed.
 */
int print_json_line(json_t *j);

/**
 * Print a JSON value (indented) and a newline on stdout, then release it.
 * Returns 0, or -1 when j is NULL or printing failed.
 */
int print_json(json_t *j);

/**
 * print_json for subcommand cmd: on failure print "cannot write JSON output".
 * Returns CLI_EXIT_OK or CLI_EXIT_FAILURE.
 */
int print_json_checked(const char *cmd, json_t *j);

#endif /* SITQ_CLI_OUTPUT_H */
