/* grow.c - sitq__reserve: the growth rule of every heap array (grow.h). */
#include "grow.h"

#include <stdint.h>
#include <stdlib.h>

int sitq__reserve(void **arr, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return 0;
    if (size == 0) return -1; /* no element type has size 0: a caller's mistake */
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2) return -1;
        n *= 2;
    }
    if (n > SIZE_MAX / size) return -1;
    void *p = realloc(*arr, n * size);
    if (!p) return -1;
    *arr = p;
    *cap = n;
    return 0;
}
