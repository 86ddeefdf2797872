/* envelope.c - interpreter-free checks of stored Python task payloads. */
#include "envelope.h"

#include <ctype.h>
#include <stdio.h>

#define PICKLE_PROTO 0x80 /* opcode: protocol number follows */
#define PICKLE_STOP  '.'  /* opcode: end of the pickle */

int sitqpy_envelope_check(const void *payload, size_t len, char *why, size_t why_len) {
    const unsigned char *p = payload;
    char dummy[1];
    if (!why || why_len == 0) {
        why = dummy;
        why_len = sizeof dummy;
    }
    if (!p || len == 0) {
        snprintf(why, why_len, "the payload is empty");
        return -1;
    }
    if (len < 3 || p[0] != PICKLE_PROTO) {
        snprintf(why, why_len, "the payload is not a pickle (it starts with byte 0x%02x)", p[0]);
        return -1;
    }
    if (p[1] < SITQPY_PICKLE_PROTO_MIN || p[1] > SITQPY_PICKLE_PROTO_MAX) {
        snprintf(why, why_len, "pickle protocol %u is not supported (%d..%d)", p[1],
                 SITQPY_PICKLE_PROTO_MIN, SITQPY_PICKLE_PROTO_MAX);
        return -1;
    }
    if (p[len - 1] != PICKLE_STOP) {
        snprintf(why, why_len, "the pickle is truncated (it does not end with STOP)");
        return -1;
    }
    why[0] = '\0';
    return 0;
}

/* Length of the run of characters at s accepted by ok(), at most max + 1. */
static size_t run_length(const char *s, int (*ok)(int), size_t max) {
    size_t n = 0;
    while (n <= max && s[n] && ok((unsigned char)s[n])) n++;
    return n;
}

long sitqpy_token_pid(const char *token) {
    if (!token) return -1;
    size_t n = run_length(token, isdigit, 10);
    if (n == 0 || n > 10 || token[n] != '-' || token[0] == '0') return -1;
    long long pid = 0;
    for (size_t i = 0; i < n; i++) pid = pid * 10 + (token[i] - '0');
    if (pid > 2147483647LL) return -1;
    const char *s = token + n + 1;
    n = run_length(s, isxdigit, 16);
    if (n == 0 || n > 16 || s[n] != '-') return -1;
    s += n + 1;
    n = run_length(s, isdigit, 20);
    if (n == 0 || n > 20 || s[n] != '\0') return -1;
    return (long)pid;
}
