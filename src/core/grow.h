/* grow.h - one way to grow a heap array, for every part of sitq (engine,
 * backends, command line) that collects an unknown number of elements. */
#ifndef SITQ_CORE_GROW_H
#define SITQ_CORE_GROW_H

#include <stddef.h>

/* Make room for `need` elements of `size` bytes in *arr, whose capacity is
 * *cap elements: the capacity doubles (from 16) until it holds `need`.
 * Returns 0, or -1 when memory ran out or the size would overflow (*arr and
 * *cap are then unchanged, and the elements already there stay valid);
 * -1 also for size 0. */
int sitq__reserve(void **arr, size_t *cap, size_t need, size_t size);

#endif
