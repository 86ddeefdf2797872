/*
 * fuzz_py_value.c - libFuzzer target: the stored form of a Python task's
 * result (src/core/pyvalue.h), as the `sitq` command and its dashboard read
 * it from whatever the database holds.
 *
 * Checks: the kind is one of four; a record's repr and pickle lie inside
 * the input, the repr is at most SITQ__PYVALUE_REPR_MAX bytes without NUL,
 * and building a record from its parts gives the input back byte for byte;
 * a bare pickle is the whole input; a refusal has a terminated reason and
 * no parts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/pyvalue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_record(const uint8_t *data, size_t size, const sitq__pyvalue *pv) {
    const uint8_t *end = data + size;
    if ((const uint8_t *)pv->repr < data || (const uint8_t *)pv->repr + pv->repr_len > end ||
        pv->pickle < data || pv->pickle + pv->pickle_len != end)
        abort();
    if (pv->repr_len > SITQ__PYVALUE_REPR_MAX || memchr(pv->repr, '\0', pv->repr_len) != NULL)
        abort();
    size_t len = 0;
    void *again = sitq__pyvalue_build(pv->repr, pv->repr_len, pv->pickle, pv->pickle_len, &len);
    if (again == NULL) return; /* out of memory only */
    if (len != size || memcmp(again, data, size) != 0) abort();
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sitq__pyvalue pv;
    char why[96];
    memset(why, 'x', sizeof why);
    /* the first byte picks the size of the reason buffer (0..96) */
    size_t why_len = size > 0 ? data[0] % (sizeof why + 1) : sizeof why;
    const uint8_t *p = size > 1 ? data + 1 : NULL;
    size_t n = size > 1 ? size - 1 : 0;
    sitq__pyvalue_kind k = sitq__pyvalue_parse(p, n, &pv, why, why_len);
    if (k != pv.kind) abort();
    if (why_len > 0 && memchr(why, '\0', why_len) == NULL) abort();
    switch (k) {
    case SITQ__PYVALUE_RECORD: check_record(p, n, &pv); break;
    case SITQ__PYVALUE_PICKLE:
        if (pv.pickle != p || pv.pickle_len != n || pv.repr != NULL || p[0] != 0x80) abort();
        break;
    case SITQ__PYVALUE_BAD:
    case SITQ__PYVALUE_OTHER:
        if (pv.repr != NULL || pv.pickle != NULL) abort();
        if (k == SITQ__PYVALUE_OTHER && why_len > 0 && why[0] != '\0') abort();
        break;
    default: abort();
    }
    return 0;
}
