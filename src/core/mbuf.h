/* mbuf.h - a growing text buffer for the Prometheus text the metrics
 * functions write (metrics.c, the worker's wmetrics.c): appends never fail
 * one by one; an allocation failure sticks in `failed`, checked once at the
 * end. */
#ifndef SITQ_CORE_MBUF_H
#define SITQ_CORE_MBUF_H

#include <stddef.h>

typedef struct sitq__mbuf {
    char *s; /* NUL-terminated once anything was appended */
    size_t len, cap;
    int failed;
} sitq__mbuf;

void sitq__mb_putn(sitq__mbuf *b, const char *s, size_t n);
void sitq__mb_printf(sitq__mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A label value, escaped as the text format asks (\\, \", \n). */
void sitq__mb_label(sitq__mbuf *b, const char *v);
/* The HELP and TYPE lines of a family. */
void sitq__mb_family(sitq__mbuf *b, const char *name, const char *type, const char *help);

#endif
