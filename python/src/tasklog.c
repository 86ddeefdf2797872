/*
 * tasklog.c - the per-task log events of the Python binding.
 *
 * The lines themselves are written by sitq/_tasklog.py (the `sitq.task`
 * logger) with the GIL held. Two sources feed it:
 *
 * - the handler thread, which holds the GIL anyway, reports an attempt's
 *   start and end directly (sitqpy_tasklog_started/_ended);
 * - the worker's dispatcher, which knows whether an outcome was committed or
 *   dropped (lease lost), reports each outcome through the completion hook
 *   (sitqpy_tasklog_completion). The dispatcher must never wait for the GIL
 *   (a CPU-bound task holds it for milliseconds at a time, and the dispatcher
 *   renews every lease), so the hook only appends the event to a buffer under
 *   a mutex; the log thread of _tasklog.py waits for it with _log_wait (GIL
 *   released) and takes the batch with _log_take.
 *
 * The buffer is process-wide and never freed: detached handler threads and
 * dispatchers of any worker may report at any time.
 */
#include "sitqpy.h"
#include "core/grow.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* At most this many events wait for the log thread; beyond, they are counted
 * as dropped (a stalled log handler must not grow memory without bound). */
#define TASKLOG_MAX_EVENTS (1 << 20)

typedef struct {
    sitq_task_id id;
    int succeeded, applied, retried, resent;
    char *error; /* malloc'd or NULL */
} tasklog_event;

static pthread_mutex_t tl_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tl_cv = PTHREAD_COND_INITIALIZER;
static tasklog_event *tl_events; /* under tl_mu */
static size_t tl_n, tl_cap;      /* under tl_mu */
static long long tl_dropped;     /* under tl_mu */
static int tl_wake;              /* under tl_mu: _log_wake was called */

/* Callables of sitq._tasklog, looked up on first use (GIL held). */
static PyObject *fn_started, *fn_ended, *fn_processed, *fn_worker;

void sitqpy_tasklog_completion(const sitq_completion_info *info, void *user_data) {
    (void)user_data;
    char *e = info->error ? strdup(info->error) : NULL;
    pthread_mutex_lock(&tl_mu);
    /* Past TASKLOG_MAX_EVENTS unread events (or without memory), events are
     * counted as dropped rather than stored. */
    if (tl_n == tl_cap && tl_cap < TASKLOG_MAX_EVENTS)
        (void)sitq__reserve((void **)&tl_events, &tl_cap, tl_n + 1, sizeof *tl_events);
    if (tl_n < tl_cap) {
        tl_events[tl_n++] = (tasklog_event){info->id,      info->succeeded, info->applied,
                                            info->retried, info->resent,    e};
        e = NULL;
        if (tl_n == 1) pthread_cond_broadcast(&tl_cv);
    } else {
        tl_dropped++;
    }
    pthread_mutex_unlock(&tl_mu);
    free(e);
}

/* Look up the callables of sitq._tasklog; 0, or -1 (no exception left set:
 * logging must never fail a task). */
static int load_fns(void) {
    if (fn_processed) return 0;
    PyObject *m = PyImport_ImportModule("sitq._tasklog");
    if (!m) {
        PyErr_Clear();
        return -1;
    }
    PyObject *s = PyObject_GetAttrString(m, "task_started");
    PyObject *e = PyObject_GetAttrString(m, "task_ended");
    PyObject *p = PyObject_GetAttrString(m, "task_processed");
    PyObject *w = PyObject_GetAttrString(m, "worker_event");
    Py_DECREF(m);
    if (!s || !e || !p || !w) {
        Py_XDECREF(s);
        Py_XDECREF(e);
        Py_XDECREF(p);
        Py_XDECREF(w);
        PyErr_Clear();
        return -1;
    }
    fn_worker = w;
    fn_started = s;
    fn_ended = e;
    fn_processed = p;
    return 0;
}

/* Call fn(args...) for its side effect, keeping any exception of the caller
 * (the task's own error may be pending) and swallowing its own. */
static void call_quietly(PyObject *fn, const char *fmt, ...) {
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    va_list ap;
    va_start(ap, fmt);
    PyObject *args = Py_VaBuildValue(fmt, ap);
    va_end(ap);
    PyObject *r = args ? PyObject_CallObject(fn, args) : NULL;
    if (!r && PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
        /* A Ctrl-C that landed in the log's code belongs to the program:
         * swallowed here it would be lost, and Worker.run() would never
         * stop. Armed again, it is raised at the next signal check. */
        PyErr_Clear();
        PyErr_SetInterrupt();
    } else if (!r) {
        PyErr_WriteUnraisable(fn);
    }
    Py_XDECREF(r);
    Py_XDECREF(args);
    PyErr_Restore(t, v, tb);
}

void sitqpy_tasklog_started(sitq_task_ctx *ctx, int direct) {
    if (load_fns() < 0) return;
    call_quietly(fn_started, "(Lsiii)", (long long)sitq_ctx_task_id(ctx), sitq_ctx_function(ctx),
                 (int)sitq_ctx_attempt(ctx), (int)sitq_ctx_max_retries(ctx), !direct);
}

void sitqpy_tasklog_ended(sitq_task_ctx *ctx, int direct) {
    if (direct || load_fns() < 0) return;
    call_quietly(fn_ended, "(Li)", (long long)sitq_ctx_task_id(ctx), sitq_ctx_cancelled(ctx));
}

void sitqpy_tasklog_processed(const sitq_result *r) {
    if (!r || load_fns() < 0) return;
    call_quietly(fn_processed, "(Lssiiz)", (long long)r->id, r->function ? r->function : "",
                 sitq_status_name(r->status), (int)r->attempts, (int)r->max_retries, r->error);
}

void sitqpy_tasklog_worker(const char *event, sitq_worker *w, const char *queue, int concurrency) {
    if (load_fns() < 0) return;
    call_quietly(fn_worker, "(sssi)", event, sitq_worker_id(w), queue, concurrency);
}

PyDoc_STRVAR(log_wait_doc,
             "_log_wait(timeout) -> bool\n--\n\n"
             "Wait (GIL released) up to timeout seconds until worker outcomes are ready\n"
             "for _log_take, or _log_wake is called. True when events are ready.");

static PyObject *mod_log_wait(PyObject *self, PyObject *arg) {
    (void)self;
    double timeout = PyFloat_AsDouble(arg);
    if (timeout == -1.0 && PyErr_Occurred()) return NULL;
    if (!(timeout >= 0)) timeout = 0;
    if (timeout > 3600) timeout = 3600;
    int ready;
    Py_BEGIN_ALLOW_THREADS struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ns = (long long)ts.tv_nsec + (long long)(timeout * 1e9);
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    pthread_mutex_lock(&tl_mu);
    while (tl_n == 0 && tl_dropped == 0 && !tl_wake) {
        if (pthread_cond_timedwait(&tl_cv, &tl_mu, &ts) == ETIMEDOUT) break;
    }
    tl_wake = 0;
    ready = tl_n > 0 || tl_dropped > 0;
    pthread_mutex_unlock(&tl_mu);
    Py_END_ALLOW_THREADS return PyBool_FromLong(ready);
}

PyDoc_STRVAR(log_wake_doc, "_log_wake() -> None\n--\n\n"
                           "Wake the thread blocked in _log_wait (to stop it).");

static PyObject *mod_log_wake(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    pthread_mutex_lock(&tl_mu);
    tl_wake = 1;
    pthread_cond_broadcast(&tl_cv);
    pthread_mutex_unlock(&tl_mu);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(log_take_doc,
             "_log_take() -> (list, int)\n--\n\n"
             "Take the worker outcomes reported since the last call, in commit order:\n"
             "a list of (task_id, succeeded, applied, error or None, retried, resent), and the\n"
             "number of outcomes dropped because too many were waiting.");

static PyObject *mod_log_take(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    pthread_mutex_lock(&tl_mu);
    tasklog_event *ev = tl_events;
    size_t n = tl_n;
    long long dropped = tl_dropped;
    tl_events = NULL;
    tl_n = tl_cap = 0;
    tl_dropped = 0;
    pthread_mutex_unlock(&tl_mu);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; i < n; i++) {
        if (list) {
            PyObject *t = Py_BuildValue(
                "(LOOzOO)", (long long)ev[i].id, ev[i].succeeded ? Py_True : Py_False,
                ev[i].applied ? Py_True : Py_False, ev[i].error, ev[i].retried ? Py_True : Py_False,
                ev[i].resent ? Py_True : Py_False);
            if (!t) Py_CLEAR(list);
            else PyList_SET_ITEM(list, (Py_ssize_t)i, t);
        }
        free(ev[i].error);
    }
    free(ev);
    if (!list) return NULL;
    return Py_BuildValue("(NL)", list, dropped);
}

static PyMethodDef tasklog_methods[] = {{"_log_wait", mod_log_wait, METH_O, log_wait_doc},
                                        {"_log_wake", mod_log_wake, METH_NOARGS, log_wake_doc},
                                        {"_log_take", mod_log_take, METH_NOARGS, log_take_doc},
                                        {NULL, NULL, 0, NULL}};

/* A forked child has none of its parent's threads: tl_mu or tl_cv may be
 * held or waited on by the parent's log thread (the child's own log thread
 * and dispatcher then wait on them for good), and the events are the
 * parent's outcomes. Start afresh. */
static void tasklog_after_fork_in_child(void) {
    pthread_mutex_init(&tl_mu, NULL);
    pthread_cond_init(&tl_cv, NULL);
    for (size_t i = 0; i < tl_n; i++) free(tl_events[i].error);
    free(tl_events);
    tl_events = NULL;
    tl_n = tl_cap = 0;
    tl_dropped = 0;
    tl_wake = 0;
}

int sitqpy_tasklog_init(PyObject *m) {
    if (pthread_atfork(NULL, NULL, tasklog_after_fork_in_child) != 0) {
        PyErr_SetString(PyExc_OSError, "cannot register the log's fork handler");
        return -1;
    }
    return PyModule_AddFunctions(m, tasklog_methods);
}
