/*
 * cron.c - a small, strict parser of 5-field cron expressions.
 *
 * Dialect (docs/scheduling.md): minute hour day-of-month month day-of-week,
 * separated by blanks; each field a comma list of `*`, `N` and `N-M`, the
 * first and last optionally followed by a step `/S` (S >= 1); month names JAN..DEC and weekday names SUN..SAT
 * (case-insensitive); weekday 0 and 7 are both Sunday (so a range may end
 * at SUN: FRI-SUN); and the shortcuts
 * @yearly @annually @monthly @weekly @daily @midnight @hourly. Anything
 * else (a step on a single value, reversed ranges, Quartz's L W # ?, a
 * seconds or year field, @reboot) is refused rather than guessed at, so a
 * typo never becomes a schedule that fires at unexpected times.
 *
 * Each field becomes a bit set. The day fields combine by Vixie cron's rule:
 * when both are restricted a day matches if either matches. "Restricted"
 * means the set lacks some value (as croniter decides it), so a stepped star
 * (every other day) counts as restricted, where Vixie cron looks only at a
 * leading `*`.
 */
#include "cron.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Longest expression accepted; real ones are a few dozen bytes. */
#define CRON_MAX_LEN 1024
/* Longest excerpt of the input quoted in a message. */
#define QUOTE_MAX 48

typedef struct field_spec {
    const char *name;         /* as messages name it */
    int lo, hi;               /* values accepted (day-of-week: 0..7, 7 meaning Sunday) */
    const char *const *names; /* three-letter names of lo.., or NULL */
} field_spec;

/* ASCII classes, whatever the process's locale. */
static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

static const char *const MONTH_NAMES[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
                                          "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const DAY_NAMES[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

static const field_spec FIELDS[5] = {
    {"minute", 0, 59, NULL},          {"hour", 0, 23, NULL},
    {"day-of-month", 1, 31, NULL},    {"month", 1, 12, MONTH_NAMES},
    {"day-of-week", 0, 7, DAY_NAMES},
};

static const struct {
    const char *name, *expansion;
} SHORTCUTS[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* A slice of the input: one field, list item or value. */
typedef struct span {
    const char *p;
    size_t n;
} span;

/* Copy at most QUOTE_MAX bytes of s into buf for a message, printable ASCII
 * only (so a message stays valid UTF-8 whatever the input was). */
static const char *quote(span s, char *buf, size_t cap) {
    size_t n = s.n < QUOTE_MAX ? s.n : QUOTE_MAX;
    if (n >= cap) n = cap - 1;
    for (size_t i = 0; i < n; i++) buf[i] = (s.p[i] >= 0x20 && s.p[i] <= 0x7e) ? s.p[i] : '?';
    buf[n] = '\0';
    if (s.n > n && n >= 3) memcpy(buf + n - 3, "...", 3);
    return buf;
}

static sitq_code field_error(sitq_error *err, const field_spec *f, span text, const char *why) {
    char q[QUOTE_MAX + 1];
    return sitq__fail(err, SITQ_EINVAL, "cron %s field \"%s\": %s", f->name,
                      quote(text, q, sizeof q), why);
}

/* One value: decimal digits, or a name where the field has names. */
static sitq_code parse_value(const field_spec *f, span item, const char **pos, const char *end,
                             int *out, sitq_error *err) {
    const char *p = *pos;
    char why[128];
    if (p < end && is_digit(*p)) {
        long v = 0;
        const char *digits = p;
        while (p < end && is_digit(*p)) {
            if (v < 100000) v = v * 10 + (*p - '0');
            p++;
        }
        if (v < f->lo || v > f->hi) {
            /* quoted as written: v stops growing at 100000 */
            snprintf(why, sizeof why, "%.*s is out of range %d-%d",
                     (int)(p - digits > 40 ? 40 : p - digits), digits, f->lo, f->hi);
            return field_error(err, f, item, why);
        }
        *out = (int)v;
        *pos = p;
        return SITQ_OK;
    }
    const char *start = p;
    while (p < end && is_alpha(*p)) p++;
    if (p == start) return field_error(err, f, item, "expected a number, a range, a list or *");
    if (f->names) {
        for (int i = 0; f->names[i]; i++) {
            if ((size_t)(p - start) == 3 && strncasecmp(start, f->names[i], 3) == 0) {
                *out = f->lo + i; /* JAN is 1, SUN is 0 */
                *pos = p;
                return SITQ_OK;
            }
        }
        snprintf(why, sizeof why, "unknown name (use %s..%s)", f->names[0],
                 f->lo == 1 ? "DEC" : "SAT");
        return field_error(err, f, item, why);
    }
    return field_error(err, f, item, "names are allowed only in the month and day-of-week fields");
}

/* The step after '/': 1 .. the number of values of the field. */
static sitq_code parse_step(const field_spec *f, span item, const char **pos, const char *end,
                            int *step, sitq_error *err) {
    const char *p = *pos;
    long v = 0;
    if (p >= end || !is_digit(*p))
        return field_error(err, f, item, "a step must be a number after /");
    const char *digits = p;
    while (p < end && is_digit(*p)) {
        if (v < 100000) v = v * 10 + (*p - '0');
        p++;
    }
    int span_n = f->hi - f->lo + 1;
    if (v < 1 || v > span_n) {
        char why[96];
        /* quoted as written: v stops growing at 100000 */
        snprintf(why, sizeof why, "step %.*s is out of range 1-%d",
                 (int)(p - digits > 40 ? 40 : p - digits), digits, span_n);
        return field_error(err, f, item, why);
    }
    *step = (int)v;
    *pos = p;
    return SITQ_OK;
}

/* One list item: `*`, `N`, `N-M`, each of the first and last with `/S`. */
static sitq_code parse_item(const field_spec *f, span item, uint64_t *bits, sitq_error *err) {
    const char *p = item.p, *end = item.p + item.n;
    int a = f->lo, b = f->hi, step = 1, ranged = 1;
    sitq_code rc;
    if (item.n == 0) return field_error(err, f, item, "empty list item");
    if (*p == '*') {
        p++;
    } else {
        if ((rc = parse_value(f, item, &p, end, &a, err)) != SITQ_OK) return rc;
        b = a;
        ranged = 0;
        if (p < end && *p == '-') {
            p++;
            if ((rc = parse_value(f, item, &p, end, &b, err)) != SITQ_OK) return rc;
            /* Sunday is both ends of the week: FRI-SUN (5-0) is 5-7. */
            if (f->hi == 7 && b == 0 && a > 0) b = 7;
            if (b < a)
                return field_error(err, f, item, "the range is reversed (write N-M, N <= M)");
            ranged = 1;
        }
    }
    if (p < end && *p == '/') {
        if (!ranged) return field_error(err, f, item, "a step needs a range or * before /");
        p++;
        if ((rc = parse_step(f, item, &p, end, &step, err)) != SITQ_OK) return rc;
    }
    if (p != end) return field_error(err, f, item, "unexpected text");
    for (int v = a; v <= b; v += step) *bits |= (uint64_t)1 << v;
    return SITQ_OK;
}

static sitq_code parse_field(const field_spec *f, span text, uint64_t *bits, sitq_error *err) {
    const char *p = text.p, *end = text.p + text.n;
    *bits = 0;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        span item = {p, (size_t)(stop - p)};
        sitq_code rc = parse_item(f, item, bits, err);
        if (rc != SITQ_OK) return rc;
        if (!comma) break;
        p = comma + 1;
    }
    if (f->hi == 7 && (*bits & (1u << 7))) *bits = (*bits & ~(uint64_t)(1u << 7)) | 1u;
    return SITQ_OK;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* Split s into blank-separated fields; returns how many there are (stores
 * at most 5). */
static int split_fields(const char *s, span out[5]) {
    int n = 0;
    while (*s) {
        while (is_blank(*s)) s++;
        if (!*s) break;
        const char *start = s;
        while (*s && !is_blank(*s)) s++;
        if (n < 5) out[n] = (span){start, (size_t)(s - start)};
        n++;
    }
    return n;
}

/* A day-of-month restriction that no allowed month can hold (`0 0 30 2 *`)
 * would never fire: refuse it. */
static sitq_code check_days_exist(const sitq__cron *c, span dom, sitq_error *err) {
    static const int longest[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (c->days_or) return SITQ_OK;
    for (int m = 1; m <= 12; m++) {
        if (!(c->months & (1u << m))) continue;
        for (int d = 1; d <= longest[m]; d++)
            if (c->mdays & (1u << d)) return SITQ_OK;
    }
    return field_error(err, &FIELDS[2], dom, "no such day in any month the expression allows");
}

static const char *expand_shortcut(const char *s, sitq_error *err, sitq_code *rc) {
    size_t n = strlen(s);
    while (n > 0 && is_blank(s[n - 1])) n--;
    for (size_t i = 0; i < sizeof SHORTCUTS / sizeof SHORTCUTS[0]; i++) {
        if (strlen(SHORTCUTS[i].name) == n && strncasecmp(s, SHORTCUTS[i].name, n) == 0)
            return SHORTCUTS[i].expansion;
    }
    char q[QUOTE_MAX + 1];
    *rc = sitq__fail(err, SITQ_EINVAL,
                     "cron expression \"%s\": unknown shortcut (use @yearly, @annually, @monthly, "
                     "@weekly, @daily, @midnight or @hourly)",
                     quote((span){s, n}, q, sizeof q));
    return NULL;
}

sitq_code sitq__cron_parse(const char *expr, sitq__cron *out, sitq_error *err) {
    if (!expr || !out)
        return sitq__fail(err, SITQ_EINVAL, "cron expression and out must not be NULL");
    if (strlen(expr) > CRON_MAX_LEN)
        return sitq__fail(err, SITQ_EINVAL, "cron expression is longer than %d bytes",
                          CRON_MAX_LEN);
    while (is_blank(*expr)) expr++;
    if (*expr == '@') {
        sitq_code rc = SITQ_EINVAL;
        expr = expand_shortcut(expr, err, &rc);
        if (!expr) return rc;
    }
    span f[5];
    int n = split_fields(expr, f);
    if (n != 5) {
        char q[QUOTE_MAX + 1];
        return sitq__fail(err, SITQ_EINVAL,
                          "cron expression \"%s\": expected 5 fields (minute hour day-of-month "
                          "month day-of-week), got %d",
                          quote((span){expr, strlen(expr)}, q, sizeof q), n);
    }
    uint64_t bits[5];
    for (int i = 0; i < 5; i++) {
        sitq_code rc = parse_field(&FIELDS[i], f[i], &bits[i], err);
        if (rc != SITQ_OK) return rc;
    }
    sitq__cron c = {bits[0],           (uint32_t)bits[1], (uint32_t)bits[2],
                    (uint16_t)bits[3], (uint8_t)bits[4],  0};
    c.days_or = c.mdays != 0xFFFFFFFEu && c.wdays != 0x7F;
    sitq_code rc = check_days_exist(&c, f[2], err);
    if (rc != SITQ_OK) return rc;
    *out = c;
    return sitq__ok(err);
}

int sitq__cron_day_matches(const sitq__cron *c, int month, int mday, int weekday) {
    if (!(c->months & (1u << month))) return 0;
    int dom = (c->mdays >> mday) & 1, dow = (c->wdays >> weekday) & 1;
    return c->days_or ? (dom || dow) : (dom && dow);
}
