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
#include <time.h>

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

int arg_parse_keep(const char *cmd, const char *name, const char *text, double *out_s) {
    if (text && strcmp(text, "forever") == 0) {
        *out_s = SITQ_KEEP_FOREVER;
        return 0;
    }
    return arg_parse_duration(cmd, name, text, 0.001, SITQ_SECONDS_MAX, out_s);
}

/* Read exactly n digits at *p into *out and advance; -1 when not digits. */
static int read_digits(const char **p, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* "YYYY-MM-DD[(T| )HH:MM[:SS[.frac]]][Z]" in UTC; -1 when malformed. */
static int parse_iso_utc(const char *t, sitq_time_us *out_us) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = t;
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    int64_t frac_us = 0;
    if (read_digits(&p, 4, &y) || *p++ != '-' || read_digits(&p, 2, &mo) || *p++ != '-' ||
        read_digits(&p, 2, &d))
        return -1;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (read_digits(&p, 2, &h) || *p++ != ':' || read_digits(&p, 2, &mi)) return -1;
        if (*p == ':') {
            p++;
            if (read_digits(&p, 2, &sec)) return -1;
            if (*p == '.') {
                p++;
                int64_t scale = 100000;
                if (!isdigit((unsigned char)*p)) return -1;
                for (; isdigit((unsigned char)*p); p++, scale /= 10) frac_us += (*p - '0') * scale;
            }
        }
    }
    if (*p == 'Z') p++;
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t secs = timegm(&tm);
    if (secs == (time_t)-1 || secs < 0 || tm.tm_mday != d) return -1; /* 2026-02-31 */
    *out_us = (sitq_time_us)secs * 1000000 + frac_us;
    return 0;
}

int arg_parse_time(const char *cmd, const char *name, const char *text, sitq_time_us now_us,
                   sitq_time_us *out_us) {
    const char *t = text ? text : "";
    if (strlen(t) >= 10 && t[4] == '-') {
        if (parse_iso_utc(t, out_us) == 0) return 0;
        cli_errorf(cmd,
                   "invalid value '%s' for %s: expected a duration before now (30m, 1h, 7d) "
                   "or a UTC date and time (2026-12-03 or 2026-12-03T07:00:00Z)",
                   t, name);
        return -1;
    }
    double ago = 0;
    if (arg_parse_duration(cmd, name, t, 0.0, SITQ_SECONDS_MAX, &ago) != 0) return -1;
    *out_us = now_us - (sitq_time_us)(ago * 1e6);
    if (*out_us < 1) *out_us = 1; /* 0 would mean "no bound" */
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
