/*
 * size_arg.c - byte sizes with binary units on the command line. The
 * grammar is deliberately small (digits and one unit letter) so that every
 * spelling a user may try is either exact or an error.
 */
#include "size_arg.h"

#include <inttypes.h>

#include "diag.h"

/* The multiplier of unit letter c, or 0 when c is not a unit. */
static uint64_t unit_of(char c) {
    switch (c) {
    case 'k':
    case 'K': return UINT64_C(1) << 10;
    case 'm':
    case 'M': return UINT64_C(1) << 20;
    case 'g':
    case 'G': return UINT64_C(1) << 30;
    default: return 0;
    }
}

/* Digits then an optional unit into *out; -1 on bad syntax or overflow. */
static int parse_size_text(const char *text, uint64_t *out) {
    const char *p = text;
    uint64_t v = 0;
    if (*p < '0' || *p > '9') return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    uint64_t mul = 1;
    if (*p != '\0') {
        mul = unit_of(*p);
        if (mul == 0 || p[1] != '\0') return -1;
    }
    if (v > UINT64_MAX / mul) return -1;
    *out = v * mul;
    return 0;
}

int arg_parse_size(const char *cmd, const char *name, const char *text, uint64_t min, uint64_t max,
                   uint64_t *out) {
    uint64_t v = 0;
    if (parse_size_text(text, &v) != 0) {
        cli_errorf(cmd,
                   "%s must be a size in bytes, optionally with a unit k, M or G (e.g. 65536, 64k, "
                   "16M), got '%s'",
                   name, text);
        return -1;
    }
    /* No upper bound of its own (the caller checks one it learns later,
     * such as the database's): only the lower one is named. */
    if (v < min && (max == UINT64_MAX || max == SIZE_MAX)) {
        cli_errorf(cmd, "%s must be at least %" PRIu64 " byte%s, got '%s'", name, min,
                   min == 1 ? "" : "s", text);
        return -1;
    }
    if (v < min || v > max) {
        cli_errorf(cmd, "%s must be %" PRIu64 "..%" PRIu64 " bytes, got '%s' (%" PRIu64 " bytes)",
                   name, min, max, text, v);
        return -1;
    }
    *out = v;
    return 0;
}
