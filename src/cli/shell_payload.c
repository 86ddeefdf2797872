/*
 * shell_payload.c - encode, decode and display the argv payload of shell tasks.
 */
#include "shell_payload.h"

#include <stdlib.h>
#include <string.h>

/** The option names of the payload header, in bit order. */
static const char *const OPT_NAMES[] = {"stdin=deps"};
#define N_OPTS (sizeof OPT_NAMES / sizeof OPT_NAMES[0])

/** The bytes of the header that encodes opts (0 when opts is 0). */
static size_t header_len(unsigned opts) {
    if (opts == 0) return 0;
    size_t n = 2; /* the empty strings around the names */
    for (size_t i = 0; i < N_OPTS; i++)
        if (opts & (1u << i)) n += strlen(OPT_NAMES[i]) + 1;
    return n;
}

int shell_payload_encode(char *const *argv, int argc, unsigned opts, char **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    if (argc < 1 || argv == NULL || argv[0][0] == '\0' || (opts >> N_OPTS) != 0) return -1;
    size_t total = header_len(opts);
    for (int i = 0; i < argc; i++) total += strlen(argv[i]) + 1;
    char *buf = malloc(total);
    if (buf == NULL) return -1;
    size_t pos = 0;
    if (opts != 0) {
        buf[pos++] = '\0';
        for (size_t i = 0; i < N_OPTS; i++) {
            if (!(opts & (1u << i))) continue;
            size_t n = strlen(OPT_NAMES[i]) + 1;
            memcpy(buf + pos, OPT_NAMES[i], n);
            pos += n;
        }
        buf[pos++] = '\0';
    }
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]) + 1;
        memcpy(buf + pos, argv[i], n);
        pos += n;
    }
    *out = buf;
    *out_len = total;
    return 0;
}

/**
 * Read the option header at p (len bytes, ending in '\0'; p[0] == '\0'):
 * its bits into *opts and its size into *skip. Only the form the encoder
 * writes is accepted. Returns 0 or -1.
 */
static int parse_header(const char *p, size_t len, unsigned *opts, size_t *skip) {
    size_t pos = 1;
    size_t next = 0; /* the first bit that may still follow */
    *opts = 0;
    while (pos < len && p[pos] != '\0') {
        size_t n = strlen(p + pos);
        size_t i = next;
        while (i < N_OPTS && strcmp(p + pos, OPT_NAMES[i]) != 0) i++;
        if (i == N_OPTS) return -1;
        *opts |= 1u << i;
        next = i + 1;
        pos += n + 1;
    }
    /* No names, no command, or a command starting with an empty argument. */
    if (*opts == 0 || pos + 1 >= len || p[pos + 1] == '\0') return -1;
    *skip = pos + 1;
    return 0;
}

int shell_payload_decode(const void *payload, size_t len, char ***out_argv, int *out_argc,
                         unsigned *out_opts) {
    *out_argv = NULL;
    *out_argc = 0;
    if (out_opts != NULL) *out_opts = 0;
    const char *p = payload;
    if (p == NULL || len == 0 || p[len - 1] != '\0') return -1;
    unsigned opts = 0;
    if (p[0] == '\0') {
        size_t skip = 0;
        if (parse_header(p, len, &opts, &skip) != 0) return -1;
        p += skip;
        len -= skip;
    }
    size_t argc = 0;
    for (size_t i = 0; i < len; i++)
        if (p[i] == '\0') argc++;
    if (argc > (size_t)(1 << 30)) return -1;
    size_t ptrs = (argc + 1) * sizeof(char *);
    char **argv = malloc(ptrs + len);
    if (argv == NULL) return -2;
    char *strings = (char *)argv + ptrs;
    memcpy(strings, p, len);
    size_t k = 0;
    argv[k++] = strings;
    for (size_t i = 0; i + 1 < len; i++)
        if (strings[i] == '\0') argv[k++] = strings + i + 1;
    argv[argc] = NULL;
    *out_argv = argv;
    *out_argc = (int)argc;
    if (out_opts != NULL) *out_opts = opts;
    return 0;
}

/** 1 when s can be shown unquoted in a shell command line. */
static int is_safe_word(const char *s) {
    if (s[0] == '\0') return 0;
    for (const char *c = s; *c; c++) {
        unsigned char ch = (unsigned char)*c;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              strchr("_@%+=:,./-", ch) != NULL))
            return 0;
    }
    return 1;
}

char *shell_format_command(char *const *argv, int argc) {
    size_t cap = 1;
    for (int i = 0; i < argc; i++)
        cap += strlen(argv[i]) * 4 + 3; /* worst case: every char is a quote */
    char *out = malloc(cap);
    if (out == NULL) return NULL;
    size_t pos = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0) out[pos++] = ' ';
        if (is_safe_word(argv[i])) {
            size_t n = strlen(argv[i]);
            memcpy(out + pos, argv[i], n);
            pos += n;
            continue;
        }
        out[pos++] = '\'';
        for (const char *c = argv[i]; *c; c++) {
            if (*c == '\'') {
                memcpy(out + pos, "'\\''", 4);
                pos += 4;
            } else {
                out[pos++] = *c;
            }
        }
        out[pos++] = '\'';
    }
    out[pos] = '\0';
    return out;
}
