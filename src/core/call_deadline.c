/* call_deadline.c - the deadline of the wait running on this thread, the
 * note that its last read lost the connection, and the flag that cuts its
 * lock waits short.
 *
 * A thread-local rather than a parameter of the backend's read ops: only a
 * backend whose reply can stall (PostgreSQL) looks at it, and every read a
 * wait makes goes through ops that know nothing of waits. */
#include "internal.h"

static _Thread_local int64_t deadline;

int64_t sitq__call_deadline(void) { return deadline; }

int64_t sitq__set_call_deadline(int64_t deadline_us) {
    int64_t prev = deadline;
    deadline = deadline_us;
    return prev;
}

static _Thread_local int lost;

void sitq__call_note_lost(void) { lost = 1; }

int sitq__call_lost(void) { return lost; }

int sitq__call_take_lost(void) {
    int was = lost;
    lost = 0;
    return was;
}

static _Thread_local const atomic_int *abort_flag;

const atomic_int *sitq__set_call_abort(const atomic_int *flag) {
    const atomic_int *prev = abort_flag;
    abort_flag = flag;
    return prev;
}

int sitq__call_abortable(void) { return abort_flag != NULL; }

int sitq__call_aborted(void) { return abort_flag != NULL && atomic_load(abort_flag) != 0; }
