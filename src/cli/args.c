/*
 * args.c - numeric argument parsing: one strict decimal grammar for every
 * option, then strtoll/strtod and range checks.
 */
#include "args.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

int arg_number_syntax_ok(const char *text, int allow_fraction) {
    if (text == NULL) return 0;
    const char *p = text;
    if (*p == '+' || *p == '-') p++;
    size_t int_digits = 0, frac_digits = 0;
    while (isdigit((unsigned char)*p)) {
        p++;
        int_digits++;
    }
    if (allow_fraction && *p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) {
            p++;
            frac_digits++;
        }
    }
    if (int_digits + frac_digits == 0) return 0;
    if (allow_fraction && (*p == 'e' || *p == 'E')) {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!isdigit((unsigned char)*p)) return 0;
        while (isdigit((unsigned char)*p)) p++;
    }
    return *p == '\0';
}

int arg_parse_i64(const char *cmd, const char *name, const char *text, int64_t min, int64_t max,
                  int64_t *out) {
    if (!arg_number_syntax_ok(text, 0)) {
        cli_errorf(cmd, "invalid value '%s' for %s: expected a decimal integer", text ? text : "",
                   name);
        return -1;
    }
    errno = 0;
    long long v = strtoll(text, NULL, 10);
    if (errno == ERANGE || v < min || v > max) {
        cli_errorf(cmd, "invalid value '%s' for %s: must be between %" PRId64 " and %" PRId64, text,
                   name, min, max);
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

int arg_parse_int(const char *cmd, const char *name, const char *text, int min, int max, int *out) {
    int64_t v = 0;
    if (arg_parse_i64(cmd, name, text, min, max, &v) != 0) return -1;
    *out = (int)v;
    return 0;
}

int arg_parse_double(const char *cmd, const char *name, const char *text, double min, double max,
                     double *out) {
    if (!arg_number_syntax_ok(text, 1)) {
        cli_errorf(cmd, "invalid value '%s' for %s: expected a decimal number (e.g. 2 or 0.5)",
                   text ? text : "", name);
        return -1;
    }
    /* The grammar leaves strtod no hex, inf or nan to find; a huge exponent
     * gives HUGE_VAL (ERANGE), which the range check refuses. */
    double v = strtod(text, NULL);
    if (!isfinite(v) || v < min || v > max) {
        cli_errorf(cmd, "invalid value '%s' for %s: must be between %.10g and %.10g", text, name,
                   min, max);
        return -1;
    }
    *out = v;
    return 0;
}

/* Seconds per unit of a duration ("" is seconds); 0 for an unknown unit. */
static double unit_seconds(const char *unit) {
    static const struct {
        const char *name;
        double seconds;
    } units[] = {{"", 1.0}, {"ms", 1e-3}, {"s", 1.0}, {"m", 60.0}, {"h", 3600.0}, {"d", 86400.0}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(unit, units[i].name) == 0) return units[i].seconds;
    return 0.0;
}

int arg_parse_duration(const char *cmd, const char *name, const char *text, double min_s,
                       double max_s, double *out_s) {
    const char *t = text ? text : "";
    size_t len = strlen(t), num_len = len;
    /* The unit is the trailing letters; an exponent's 'e' is always
     * followed by digits, so it never ends the text. */
    while (num_len > 0 && isalpha((unsigned char)t[num_len - 1])) num_len--;
    char num[64];
    double per = unit_seconds(t + num_len);
    if (num_len == 0 || num_len >= sizeof num || per == 0.0) {
        cli_errorf(cmd,
                   "invalid value '%s' for %s: expected a duration: a number of seconds, or "
                   "a number with a unit ms, s, m, h or d (e.g. 30s, 10m, 1h, 7d, 250ms)",
                   t, name);
        return -1;
    }
    memcpy(num, t, num_len);
    num[num_len] = '\0';
    if (!arg_number_syntax_ok(num, 1)) {
        cli_errorf(cmd,
                   "invalid value '%s' for %s: expected a duration: a number of seconds, or "
                   "a number with a unit ms, s, m, h or d (e.g. 30s, 10m, 1h, 7d, 250ms)",
                   t, name);
        return -1;
    }
    double v = strtod(num, NULL) * per;
    if (!isfinite(v) || v < min_s || v > max_s) {
        cli_errorf(cmd, "invalid value '%s' for %s: must be between %.10g and %.10g seconds", t,
                   name, min_s, max_s);
        return -1;
    }
    *out_s = v;
    return 0;
}

int arg_parse_id(const char *cmd, const char *name, const char *text, sitq_task_id *out) {
    errno = 0;
    long long v = arg_number_syntax_ok(text, 0) ? strtoll(text, NULL, 10) : 0;
    if (errno == ERANGE || v < 1) {
        cli_errorf(cmd, "invalid %s '%s': expected a positive decimal integer", name,
                   text ? text : "");
        return -1;
    }
    *out = (sitq_task_id)v;
    return 0;
}

void arg_report_getopt(const char *cmd, int c, char **argv) {
    const char *tok = (optind > 0 && argv[optind - 1] != NULL) ? argv[optind - 1] : "?";
    int is_long = tok[0] == '-' && tok[1] == '-';
    if (c == ':') {
        if (is_long || optopt == 0) cli_errorf(cmd, "option '%s' requires a value", tok);
        else cli_errorf(cmd, "option '-%c' requires a value", optopt);
    } else if (is_long || optopt == 0) {
        cli_errorf(cmd, "unknown or invalid option '%s' (see 'sitq %s --help')", tok, cmd);
    } else {
        cli_errorf(cmd, "unknown option '-%c' (see 'sitq %s --help')", optopt, cmd);
    }
}

int arg_check_positionals(const char *cmd, int argc, char **argv, int min, int max,
                          const char *what) {
    int n = argc - optind;
    if (n < min) {
        cli_errorf(cmd, "missing argument: expected %s (see 'sitq %s --help')", what, cmd);
        return -1;
    }
    if (max >= 0 && n > max) {
        cli_errorf(cmd, "unexpected argument '%s' (expected %s; see 'sitq %s --help')",
                   argv[optind + max], what, cmd);
        return -1;
    }
    return 0;
}

int arg_parse_name(const char *cmd, const char *name, const char *text, const char **out) {
    if (text[0] == '\0' || strlen(text) > SITQ_NAME_MAX) {
        cli_errorf(cmd, "invalid value '%s' for %s: must be 1..%d bytes", text, name,
                   SITQ_NAME_MAX);
        return -1;
    }
    *out = text;
    return 0;
}

int arg_parse_queue(const char *cmd, const char *text, const char **out) {
    return arg_parse_name(cmd, "--queue", text, out);
}
