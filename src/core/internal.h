/* internal.h - helpers shared by the engine's files; not installed. */
#ifndef SITQ_INTERNAL_H
#define SITQ_INTERNAL_H

#include "sitq.h"

#include <stdarg.h>
#include <stdatomic.h>
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

/* The deadline of the caller's wait running on this thread (monotonic
 * microseconds; 0: none; INT64_MAX: none, and sitq_wait sets none of its
 * own), for a backend whose statement could otherwise block past it:
 * sitq_wait sets its deadline plus SITQ__WAIT_READ_GRACE_US around its
 * reads, so that a server that stops answering cannot hold a wait far
 * beyond its timeout, unless the caller set one (a binding that waits in
 * slices sets the bound of its whole wait). set returns the previous
 * value, to restore (call_deadline.c). */
int64_t sitq__call_deadline(void);
int64_t sitq__set_call_deadline(int64_t deadline_us);

/* A backend whose connection to its store can be lost (PostgreSQL) notes,
 * on this thread, that the call failing now lost it or could not make it
 * again: the next call reconnects, so a wait repeats the read instead of
 * failing (sitq_wait, and a binding that waits in slices of it). lost
 * reads the note; take reads and clears it. */
void sitq__call_note_lost(void);
int sitq__call_lost(void);
int sitq__call_take_lost(void);

/* A flag that, once nonzero, tells a backend to stop waiting for a lock
 * another process holds in the call running on this thread, once that wait
 * has lasted SITQ__ABORT_GRACE_US (SQLite's busy handler gives up;
 * PostgreSQL's statement is cancelled): the call fails with SITQ_EBUSY and
 * writes nothing. The worker's dispatcher points it at its stop flag for
 * the cycles that record no outcome, so that a stop is not held by a claim
 * or a registry row waiting for a lock. NULL: none. set returns the
 * previous pointer, to restore; abortable says whether a flag is set,
 * aborted whether it is raised (call_deadline.c). */
const atomic_int *sitq__set_call_abort(const atomic_int *flag);
int sitq__call_abortable(void);
int sitq__call_aborted(void);

/* How long a lock wait goes on after the thread's abort flag is raised:
 * long enough for the short transactions of other workers (two workers
 * stopping at once write their last rows one after the other), far shorter
 * than a lock that a stopped or hung process keeps. */
#define SITQ__ABORT_GRACE_US 2000000

/* How long past a wait's timeout its last read may go on (a read that
 * started just before the deadline, a slow reply). */
#define SITQ__WAIT_READ_GRACE_US 1000000

/* Seconds (double) to microseconds, saturating; NaN gives 0. */
int64_t sitq__seconds_to_us(double s);

/* A retention in seconds (> 0, or SITQ_KEEP_FOREVER) as stored:
 * microseconds, -1 forever. */
int64_t sitq__keep_us(double s);

/* Check a retention in seconds: > 0 and at most SITQ_SECONDS_MAX, or
 * SITQ_KEEP_FOREVER; `zero_ok` also accepts 0. what names it. */
sitq_code sitq__keep_check(double s, int zero_ok, const char *what, sitq_error *err);

/* One window of the retention walk (core/retention.c): ops->expire over
 * the max_rows tasks above *cursor, with the default retentions, as of
 * now_us (0: this host's clock now); *cursor becomes the last id looked at
 * (0: the walk is over), *purged grows by what was deleted. */
sitq_code sitq__expire_window(sitq_backend *b, sitq_time_us now_us, sitq_task_id *cursor,
                              size_t max_rows, int64_t *purged, sitq_error *err);
/* sitq_purge_expired as of now_us (0: now); tests judge expiry at a time of
 * their choosing with it. */
sitq_code sitq__purge_expired_at(sitq_backend *backend, sitq_time_us now_us, size_t max_rows,
                                 int64_t *out_purged, sitq_error *err);
/* The pause after a window that took window_us, before the next one;
 * wrote: the window deleted tasks (a write transaction). */
int64_t sitq__expire_pause_us(int64_t window_us, int wrote);

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
