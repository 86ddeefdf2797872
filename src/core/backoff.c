/* backoff.c - exponential retry backoff with jitter (Celery's retry_backoff,
 * Sidekiq's capped exponential): computed in doubles so that no attempt
 * count can overflow, then clamped to the cap. */
#include "internal.h"

#include <math.h>

/* Longest delay returned: 100 years, in seconds. */
#define MAX_DELAY_S (100.0 * 365.25 * 86400.0)

int64_t sitq_backoff_us(int32_t retry, double base_s, double cap_s, double jitter, double u) {
    if (retry < 1) retry = 1;
    if (!isfinite(base_s) || base_s < 0) base_s = 0;
    if (!isfinite(cap_s) || cap_s < 0) cap_s = 0;
    if (!(jitter >= 0)) jitter = 0; /* also catches NaN */
    if (jitter > 1) jitter = 1;
    if (!(u >= 0)) u = 0;
    if (u >= 1) u = nextafter(1.0, 0.0);

    /* 2^(retry-1) overflows to +inf for large retry; fmin then yields cap. */
    int exp = retry - 1 > 1100 ? 1100 : retry - 1;
    double delay = fmin(cap_s, ldexp(base_s, exp));
    delay *= 1.0 + jitter * (2.0 * u - 1.0);
    if (delay > cap_s) delay = cap_s;
    if (delay > MAX_DELAY_S) delay = MAX_DELAY_S; /* keeps microseconds in int64 */
    if (delay < 0) delay = 0;
    return (int64_t)llround(delay * 1e6);
}
