/*
 * fuzz_cli_args.c - libFuzzer target: the command line parsers of the sitq
 * program (common options, enqueue, worker, the number grammar and sizes).
 *
 * Input: one selector byte, then NUL-separated arguments. Run with
 * -close_fd_mask=3: the parsers print messages and usage texts.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "common_opts.h"
#include "enqueue_args.h"
#include "size_arg.h"
#include "term_escape.h"
#include "worker_args.h"

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A size the parser accepts is digits and at most one unit letter, worth
 * what strtoull reads times the unit (computed here without the parser). */
static void check_size(const char *text) {
    uint64_t sz = 0;
    if (arg_parse_size("fuzz", "--x", text, 0, UINT64_MAX, &sz) != 0) return;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(text, &end, 10);
    uint64_t unit = 0;
    if (*end == '\0') unit = 1;
    else if (end[1] == '\0' && strchr("kK", *end) != NULL) unit = UINT64_C(1) << 10;
    else if (end[1] == '\0' && strchr("mM", *end) != NULL) unit = UINT64_C(1) << 20;
    else if (end[1] == '\0' && strchr("gG", *end) != NULL) unit = UINT64_C(1) << 30;
    uint64_t want = 0;
    if (text[0] < '0' || text[0] > '9' || unit == 0 || errno == ERANGE ||
        __builtin_mul_overflow((uint64_t)n, unit, &want) || want != sz)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned sel = data[0];
    /* A private NUL-terminated copy: argv strings point into it. */
    char *buf = malloc(size);
    if (buf == NULL) return 0;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    static const char *const names[] = {"list", "enqueue", "worker", "show"};
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = (char *)names[sel % 4];
    for (size_t i = 0; i < size - 1 && argc <= MAX_ARGS;) {
        argv[argc++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    argv[argc] = NULL;

    switch (sel % 4) {
    case 0: {
        common_opts o;
        (void)common_opts_parse(
            argc, argv, COPT_STATUS | COPT_LIMIT | COPT_TIMEOUT | COPT_OLDER_THAN | COPT_VALUE, 0,
            "usage\n", &o);
        break;
    }
    case 1: {
        enqueue_args a;
        (void)enqueue_args_parse(argc, argv, &a);
        free(a.after);
        break;
    }
    case 2: {
        worker_args a;
        int rc = worker_args_parse(argc, argv, &a);
        /* What the parser accepts, the library must accept too. */
        if (rc < 0) {
            if (!(a.wopts.lease_s >= SITQ_LEASE_MIN_S && a.wopts.lease_s <= SITQ_LEASE_MAX_S) ||
                !(a.wopts.timeout_grace_s >= 0 &&
                  a.wopts.timeout_grace_s <= SITQ_TIMEOUT_GRACE_MAX_S) ||
                !(a.wopts.poll_interval_s == 0 || /* automatic, the default */
                  (a.wopts.poll_interval_s >= SITQ_POLL_MIN_S &&
                   a.wopts.poll_interval_s <= SITQ_POLL_MAX_S)) ||
                a.max_result < 1)
                abort();
        }
        break;
    }
    default: {
        common_opts o;
        (void)common_opts_parse(argc, argv, COPT_VALUE | COPT_TIMEOUT, 1, "usage\n", &o);
        break;
    }
    }
    /* The number grammar on its own: whatever it accepts, strtod reads whole. */
    const char *first = argc > 1 ? argv[1] : "";
    if (arg_number_syntax_ok(first, 1)) {
        char *end = NULL;
        (void)strtod(first, &end);
        if (*end != '\0') abort();
    }
    double d = 0;
    int64_t v = 0;
    sitq_task_id id = 0;
    (void)arg_parse_double("fuzz", "--x", first, 0.0, SITQ_SECONDS_MAX, &d);
    (void)arg_parse_i64("fuzz", "--x", first, INT64_MIN, INT64_MAX, &v);
    /* A duration the parser accepts is in range, whatever its unit. */
    if (arg_parse_duration("fuzz", "--x", first, 0.0, SITQ_SECONDS_MAX, &d) == 0 &&
        !(d >= 0.0 && d <= SITQ_SECONDS_MAX))
        abort();
    if (arg_parse_id("fuzz", "ID", first, &id) == 0 && id < 1) abort();
    check_size(first);
    free(buf);
    return 0;
}
