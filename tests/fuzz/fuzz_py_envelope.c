/*
 * fuzz_py_envelope.c - libFuzzer target: the Python binding's
 * interpreter-free checks of a stored payload (framing and memory token).
 *
 * Checks: an accepted payload starts with PROTO 2..5 and ends with STOP; the
 * reason is always a terminated string; an accepted token's pid is positive.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char why[128];
    memset(why, 'x', sizeof why);
    /* the first byte picks the size of the reason buffer (0..128) */
    size_t why_len = size > 0 ? data[0] % (sizeof why + 1) : sizeof why;
    int rc =
        sitqpy_envelope_check(size > 1 ? data + 1 : NULL, size > 1 ? size - 1 : 0, why, why_len);
    if (why_len > 0 && memchr(why, '\0', why_len) == NULL) abort();
    if (rc == 0 && (size < 4 || data[1] != 0x80 || data[2] < SITQPY_PICKLE_PROTO_MIN ||
                    data[2] > SITQPY_PICKLE_PROTO_MAX || data[size - 1] != '.'))
        abort();
    if (rc != 0 && rc != -1) abort();

    char *token = malloc(size + 1);
    if (token == NULL) return 0;
    memcpy(token, data, size);
    token[size] = '\0';
    long pid = sitqpy_token_pid(token);
    if (pid == 0 || pid < -1) abort();
    free(token);
    return 0;
}
