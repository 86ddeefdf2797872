/*
 * fuzz_shell_payload.c - libFuzzer target: decoding a stored shell-task
 * payload, showing it as a command line and escaping it for a terminal.
 *
 * Checks: a decoded payload encodes back to the same bytes; escaped text is
 * valid UTF-8 with no control character (C0, DEL, C1).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shell_payload.h"
#include "term_escape.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/** Abort unless s is valid UTF-8 without C0 (but '\n', '\t' when allowed), DEL or C1. */
static void check_clean(const char *s, int layout) {
    size_t n = strlen(s);
    char *again = term_escape(s, n, layout ? TERM_KEEP_LAYOUT : 0);
    /* Clean text is a fixed point of the escaping. */
    if (again == NULL || strcmp(again, s) != 0) abort();
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char **argv = NULL;
    int argc = 0;
    unsigned opts = 0;
    int rc = shell_payload_decode(data, size, &argv, &argc, &opts);
    if (rc == 0) {
        if (argc < 1 || argv[argc] != NULL) abort();
        char *enc = NULL;
        size_t len = 0;
        if (shell_payload_encode(argv, argc, opts, &enc, &len) != 0 || len != size ||
            memcmp(enc, data, size) != 0)
            abort();
        free(enc);
        char *line = shell_format_command(argv, argc);
        if (line != NULL) {
            char *safe = term_escape_str(line, 0);
            if (safe != NULL) check_clean(safe, 0);
            free(safe);
        }
        free(line);
    } else if (rc != -1 && rc != -2) {
        abort();
    }
    free(argv);
    for (int layout = 0; layout < 2; layout++) {
        char *safe = term_escape((const char *)data, size, layout ? TERM_KEEP_LAYOUT : 0);
        if (safe != NULL) {
            check_clean(safe, layout);
            size_t cut = term_prefix_len(safe, 7);
            if (cut > strlen(safe) || ((unsigned char)safe[cut] & 0xC0) == 0x80) abort();
        }
        free(safe);
    }
    return 0;
}
