/* internal.h - helpers shared by the engine's files; not installed. */
#ifndef SITQ_INTERNAL_H
#define SITQ_INTERNAL_H

#include "sitq.h"

#include <stdarg.h>
#include <stdint.h>

/* Fill err (if non-NULL) with code and a printf-style message. */
void sitq__set_error(sitq_error *err, sitq_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* sitq__set_error, then the value code, so callers can write
 * `return sitq__fail(err, SITQ_EINVAL, "...")`. A macro so that the static
 * analyzer sees the result is code (never SITQ_OK when code is an error),
 * which it cannot see through a call into another file. code is evaluated
 * twice: pass a constant or a plain variable. */
#define sitq__fail(err, code, ...) (sitq__set_error((err), (code), __VA_ARGS__), sitq__pass(code))

/* code itself (a call, so that an unused sitq__fail result draws no warning). */
static inline sitq_code sitq__pass(sitq_code code) { return code; }

/* Mark err as success (code SITQ_OK, empty message); returns SITQ_OK. */
sitq_code sitq__ok(sitq_error *err);

/* Monotonic clock in microseconds (for waits and deadlines, never stored). */
int64_t sitq__mono_us(void);

/* Seconds (double) to microseconds, saturating; NaN gives 0. */
int64_t sitq__seconds_to_us(double s);

/* Thread-safe random numbers: 64 random bits, and a uniform double in [0,1). */
uint64_t sitq__rand64(void);
double sitq__rand_unit(void);

/* strdup that returns NULL for NULL. */
char *sitq__strdup(const char *s);

/* Length of the longest prefix of s[0..n) that is well-formed UTF-8 (RFC
 * 3629: shortest forms only, no surrogates, at most U+10FFFF); n when all
 * of it is. Pure. */
size_t sitq__utf8_valid_prefix(const char *s, size_t n);

/* Check a name argument (a queue, function, handler, unique key or worker
 * id: every text sitq stores as text rather than bytes): non-NULL, 1..
 * SITQ_NAME_MAX bytes and valid UTF-8, the same for every backend
 * (PostgreSQL's text refuses other bytes). what names it in the message,
 * e.g. "queue name" or "task 3: function name". SITQ_OK, or SITQ_EINVAL
 * with err filled ("WHAT must be 1..255 bytes", "WHAT is not valid UTF-8
 * (byte 0xXX at offset N): ..."). */
sitq_code sitq__name_check(const char *s, const char *what, sitq_error *err);

/* Validate task options (NULL is fine); `what` prefixes the message, e.g.
 * "task 3: ". Returns SITQ_OK or SITQ_EINVAL. */
sitq_code sitq__task_options_check(const sitq_task_options *opts, const char *what,
                                   sitq_error *err);

/* Sleep for us microseconds (interrupted sleeps are resumed). */
void sitq__sleep_us(int64_t us);

#endif
