/*
 * shell_payload.c - encode, decode and display the argv payload of shell tasks.
 */
#include "shell_payload.h"

#include <stdlib.h>
#include <string.h>

int shell_payload_encode(char *const *argv, int argc, char **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    if (argc < 1 || argv == NULL) return -1;
    size_t total = 0;
    for (int i = 0; i < argc; i++) total += strlen(argv[i]) + 1;
    char *buf = malloc(total);
    if (buf == NULL) return -1;
    size_t pos = 0;
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]) + 1;
        memcpy(buf + pos, argv[i], n);
        pos += n;
    }
    *out = buf;
    *out_len = total;
    return 0;
}

int shell_payload_decode(const void *payload, size_t len, char ***out_argv, int *out_argc) {
    *out_argv = NULL;
    *out_argc = 0;
    const char *p = payload;
    if (p == NULL || len == 0 || p[len - 1] != '\0') return -1;
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
