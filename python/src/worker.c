/*
 * worker.c - sitq.Worker: a pool of threads running the Python tasks of a
 * queue, plus process_task (run one given task in the calling thread) and
 * run() (block until Ctrl-C).
 */
#include "sitqpy.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

/* Worker(worker_id=...): None, or 1..SITQ_NAME_MAX bytes of UTF-8 without
 * NUL (opts->worker_id points into wid's UTF-8). 0, or -1 with
 * InvalidArgumentError set. */
static int parse_worker_id(PyObject *wid, sitq_worker_options *opts) {
    if (wid == Py_None) return 0;
    if (!PyUnicode_Check(wid)) {
        sitqpy_invalid("worker_id must be a str or None, got %.100s", Py_TYPE(wid)->tp_name);
        return -1;
    }
    Py_ssize_t n;
    opts->worker_id = sitqpy_utf8_arg(wid, "worker_id", &n);
    if (!opts->worker_id) return -1;
    if (n == 0 || n > SITQ_NAME_MAX || (size_t)n != strlen(opts->worker_id)) {
        sitqpy_invalid("worker_id must be 1..%d bytes of UTF-8 without NUL", SITQ_NAME_MAX);
        return -1;
    }
    return 0;
}

/* Worker(concurrency=...): None or an int 1..1024. 0, or -1 with
 * InvalidArgumentError set. */
static int parse_concurrency(PyObject *conc, sitq_worker_options *opts) {
    if (conc == Py_None) return 0;
    if (!PyLong_Check(conc) || PyBool_Check(conc)) {
        sitqpy_invalid("concurrency must be an int 1..1024, got %.100s", Py_TYPE(conc)->tp_name);
        return -1;
    }
    int overflow = 0;
    long v = PyLong_AsLongAndOverflow(conc, &overflow);
    if (overflow || v < 1 || v > 1024) {
        if (overflow)
            sitqpy_invalid("concurrency must be 1..1024 (handler threads), got an int "
                           "beyond the machine's range");
        else sitqpy_invalid("concurrency must be 1..1024 (handler threads), got %ld", v);
        return -1;
    }
    opts->concurrency = (int)v;
    return 0;
}

/* Worker(prefetch=...): None or an int 0..65536. 0, or -1 with
 * InvalidArgumentError set. */
static int parse_prefetch(PyObject *prefetch, sitq_worker_options *opts) {
    if (prefetch == Py_None) return 0;
    if (!PyLong_Check(prefetch) || PyBool_Check(prefetch)) {
        sitqpy_invalid("prefetch must be an int 0..65536, got %.100s", Py_TYPE(prefetch)->tp_name);
        return -1;
    }
    int overflow = 0;
    long v = PyLong_AsLongAndOverflow(prefetch, &overflow);
    if (overflow || v < 0 || v > 65536) {
        if (overflow)
            sitqpy_invalid("prefetch must be 0..65536, got an int beyond the machine's range");
        else sitqpy_invalid("prefetch must be 0..65536, got %ld", v);
        return -1;
    }
    opts->prefetch = (int)v;
    return 0;
}

/* Worker(lease=..., poll_interval=..., heartbeat_interval=...) in seconds,
 * checked against the library's ranges here to name the Python arguments.
 * 0, or -1 with InvalidArgumentError set. */
static int parse_times(PyObject *lease, PyObject *poll, PyObject *hb, sitq_worker_options *opts) {
    if (sitqpy_seconds_arg(lease, "lease", opts->lease_s, 1, &opts->lease_s) < 0 ||
        sitqpy_seconds_arg(poll, "poll_interval", opts->poll_interval_s, 1,
                           &opts->poll_interval_s) < 0 ||
        sitqpy_seconds_arg(hb, "heartbeat_interval", opts->heartbeat_interval_s, 1,
                           &opts->heartbeat_interval_s) < 0)
        return -1;
    if (!(opts->lease_s >= 0.05 && opts->lease_s <= 604800)) {
        sitqpy_invalid("lease must be 0.05..604800 seconds (7 days), got %g", opts->lease_s);
        return -1;
    }
    /* 0 (automatic) only by default: an explicit value must be in range. */
    int poll_given = poll && poll != Py_None;
    if (poll_given && !(opts->poll_interval_s >= 0.0001 && opts->poll_interval_s <= 3600)) {
        sitqpy_invalid("poll_interval must be 0.0001..3600 seconds, got %g", opts->poll_interval_s);
        return -1;
    }
    if (hb != Py_None &&
        !(opts->heartbeat_interval_s > 0 && opts->heartbeat_interval_s < opts->lease_s)) {
        sitqpy_invalid("heartbeat_interval must be > 0 and below lease (%g s), got %g",
                       opts->lease_s, opts->heartbeat_interval_s);
        return -1;
    }
    return 0;
}

/* Create the C worker of the queues and register the Python handler.
 * 0, or -1 with an exception set. */
static int worker_create(SitqWorkerObject *self, sitq_queue **qs, size_t n,
                         const sitq_worker_options *opts) {
    sitq_worker *w = NULL;
    sitq_error err = {0};
    sitq_code rc = sitq_worker_create_multi(qs, n, opts, &w, &err);
    if (rc != SITQ_OK) {
        sitqpy_raise(rc, &err);
        return -1;
    }
    /* One queue: its name for sitq.current_task(); several: the task's own. */
    const char *qname = n == 1 ? sitqpy_intern_queue_name(sitq_queue_name(qs[0])) : NULL;
    rc = sitq_worker_register(w, "py:*", sitqpy_handler, (void *)qname, &err);
    /* Outcomes as committed, for the `sitq.task` log (tasklog.c). */
    if (rc == SITQ_OK) rc = sitq_worker_on_completion(w, sitqpy_tasklog_completion, NULL, &err);
    if (rc != SITQ_OK) {
        sitq_worker_free(w);
        sitqpy_raise(rc, &err);
        return -1;
    }
    self->worker = w;
    return 0;
}

static int worker_init(SitqWorkerObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {
        "queue",    "worker_id",          "concurrency", "lease",     "poll_interval",
        "prefetch", "heartbeat_interval", "order",       "retention", "retention_interval",
        NULL};
    PyObject *queue = NULL, *wid = Py_None, *conc = Py_None, *lease = Py_None, *poll = Py_None,
             *prefetch = Py_None, *hb = Py_None, *order = Py_None, *ret_every = Py_None,
             *keep = Py_True;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OOOOOOOOO:Worker", kwlist, &queue, &wid, &conc,
                                     &lease, &poll, &prefetch, &hb, &order, &keep, &ret_every))
        return -1;
    int retention = sitqpy_bool_arg(keep, "retention");
    if (retention < 0) return -1;
    if (self->worker) {
        sitqpy_invalid("Worker is already initialised");
        return -1;
    }
    sitq_queue *qs[SITQ_WORKER_QUEUES_MAX];
    size_t n_queues = 0;
    PyObject *queues = NULL;
    if (sitqpy_worker_queues_arg(queue, &queues, qs, &n_queues) < 0) return -1;
    sitq_worker_options opts;
    sitq_worker_options_init(&opts);
    /* An attempt starts when the user's function is called (handler.c), not
     * while its thread waits for the GIL or unpickles the payload. */
    opts.handlers_mark_start = 1;
    opts.retention = retention;
    if (sitqpy_seconds_arg(ret_every, "retention_interval", 60.0, 1, &opts.retention_interval_s) <
            0 ||
        (ret_every != Py_None &&
         !(opts.retention_interval_s >= 0.01 && opts.retention_interval_s <= 86400))) {
        if (!PyErr_Occurred())
            sitqpy_invalid("retention_interval must be 0.01..86400 seconds, got %g",
                           opts.retention_interval_s);
        return -1;
    }
    if (parse_worker_id(wid, &opts) < 0 || parse_concurrency(conc, &opts) < 0 ||
        parse_prefetch(prefetch, &opts) < 0 || parse_times(lease, poll, hb, &opts) < 0 ||
        sitqpy_worker_order_arg(order, &opts) < 0 || worker_create(self, qs, n_queues, &opts) < 0) {
        Py_DECREF(queues);
        return -1;
    }
    self->concurrency = opts.concurrency;
    self->lease_s = opts.lease_s;
    self->pid = (long)getpid();
    Py_XSETREF(self->queue, Py_NewRef(PyTuple_GET_ITEM(queues, 0)));
    Py_XSETREF(self->queues, queues);
    return 0;
}

/* 1 when self was made before a fork, in another process: its threads, locks
 * and connections are the parent's, and nothing of it runs here. */
static int inherited(const SitqWorkerObject *self) {
    return self->worker && self->pid != (long)getpid();
}

/* A worker whose last reference went on one of its own handler threads,
 * with the references it held (worker_dealloc). */
typedef struct {
    sitq_worker *worker;
    PyObject *queue, *queues;
} deferred_free;

static void *deferred_free_main(void *arg) {
    deferred_free *d = arg;
    sitq_worker_shutdown(d->worker, 0, NULL); /* abandons the task that dropped it */
    sitq_worker_free(d->worker);
    /* At interpreter exit the references are left to the process's end. */
    if (!atomic_load(&sitqpy_finalizing) && Py_IsInitialized()) {
        PyGILState_STATE g = PyGILState_Ensure();
        Py_XDECREF(d->queue);
        Py_XDECREF(d->queues);
        PyGILState_Release(g);
    }
    free(d);
    return NULL;
}

/* Stop and free w on a thread of its own, then drop queue and queues
 * (stolen); -1, with nothing freed, when no thread could be started. */
static int defer_free(sitq_worker *w, PyObject *queue, PyObject *queues) {
    deferred_free *d = malloc(sizeof *d);
    if (!d) return -1;
    *d = (deferred_free){w, queue, queues};
    pthread_attr_t attr;
    pthread_t t;
    int rc = pthread_attr_init(&attr);
    if (rc == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        rc = pthread_create(&t, &attr, deferred_free_main, d);
        pthread_attr_destroy(&attr);
    }
    if (rc != 0) {
        free(d);
        return -1;
    }
    return 0;
}

static void worker_dealloc(SitqWorkerObject *self) {
    PyObject_GC_UnTrack(self);
    if (self->weakrefs) PyObject_ClearWeakRefs((PyObject *)self);
    if (inherited(self)) self->worker = NULL; /* the parent's: never stopped nor freed here */
    if (self->worker) {
        sitq_worker *w = self->worker;
        self->worker = NULL;
        /* A running worker is kept alive by the registry until stop(), so a
         * worker still started here had its stop() time out: its owner gave
         * up on it, and a deallocation must not wait for tasks that may never
         * return. Handlers need the GIL to finish, hence the release. */
        sitq_code rc;
        Py_BEGIN_ALLOW_THREADS rc = sitq_worker_shutdown(w, 0, NULL);
        if (rc != SITQ_ESTATE) sitq_worker_free(w);
        Py_END_ALLOW_THREADS
            /* SITQ_ESTATE: the last reference went on one of the worker's own
         * handler threads, where its stop and free are refused (they would
         * wait for this very task). Its dispatcher still runs on the queue
         * and backend: another thread stops and frees it, then lets them go. */
            if (rc == SITQ_ESTATE) {
            /* Without a thread, they are kept for ever rather than closed
             * under the dispatcher. */
            (void)defer_free(w, self->queue, self->queues);
            self->queue = NULL;
            self->queues = NULL;
        }
    }
    Py_CLEAR(self->queue);
    Py_CLEAR(self->queues);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int worker_traverse(SitqWorkerObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->queue);
    Py_VISIT(self->queues);
    return 0;
}

static int check_worker(SitqWorkerObject *self) {
    if (!self->worker) {
        sitqpy_invalid("Worker is not initialised (call sitq.Worker(queue))");
        return -1;
    }
    if (inherited(self)) {
        sitq_error e = {SITQ_ESTATE, ""};
        snprintf(e.message, sizeof e.message,
                 "this Worker was made in process %ld and does not cross a fork (its threads "
                 "stay there): make a new sitq.Worker in this process",
                 self->pid);
        sitqpy_raise(SITQ_ESTATE, &e);
        return -1;
    }
    return 0;
}

/* The name of the worker's queue (valid while the worker lives). */
static const char *worker_queue_name(SitqWorkerObject *self) {
    return sitq_queue_name(((SitqQueueObject *)self->queue)->queue);
}

PyDoc_STRVAR(start_doc, "start() -> None\n--\n\n"
                        "Start the worker's threads (returns at once): they claim tasks of the\n"
                        "queue and run them, `concurrency` at a time. A running worker is kept\n"
                        "alive until stop() (or interpreter exit, which stops it as stop() does).\n"
                        "Raises InvalidStateError when already running. Thread-safe.");

static PyObject *worker_start(SitqWorkerObject *self, PyObject *noargs) {
    (void)noargs;
    if (check_worker(self) < 0) return NULL;
    if (atomic_load(&sitqpy_finalizing)) {
        sitq_error fe = {SITQ_ESTATE, "the Python interpreter is shutting down"};
        return sitqpy_raise(SITQ_ESTATE, &fe);
    }
    sitq_error err = {0};
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc = sitq_worker_start(self->worker, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    atomic_store(&self->running, 1);
    if (sitqpy_track_worker((PyObject *)self) < 0) return NULL;
    sitqpy_tasklog_worker("started", self->worker, worker_queue_name(self), self->concurrency);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(stop_doc,
             "stop(timeout=None) -> None\n--\n\n"
             "Stop gracefully: claim nothing more, give back claimed tasks that did not\n"
             "start, let running tasks finish and record their results, then join the\n"
             "threads. timeout: seconds to wait for running tasks (None: no limit); when\n"
             "it passes, TaskTimeoutError is raised and the threads finish in the\n"
             "background (deallocating the Worker then abandons them, see below).\n"
             "A task still running a grace after its own timeout (10% of it, 0.5..5 s)\n"
             "does not hold the stop: its attempt is already recorded as failed, and its\n"
             "thread, which cannot be interrupted, is abandoned (see Worker).\n"
             "Ctrl-C while waiting abandons the running tasks (recorded as failed\n"
             "'abandoned: still running when worker ... stopped') and raises\n"
             "KeyboardInterrupt. Stopping a stopped worker does nothing; a stopped worker\n"
             "can be started again. Raises InvalidStateError when called from one of\n"
             "this worker's own tasks (the stop would wait for that task): stop it from\n"
             "another thread. Releases the GIL while waiting. Thread-safe.");

/* Wait for the stop in slices so that Ctrl-C is seen; on Ctrl-C abandon the
 * running tasks. The slices leave the tasks' cancel flags alone (a graceful
 * stop does not ask them to stop early); the end of a time limit sets them.
 * Returns the stop's code; *interrupted is set when a signal handler raised
 * (the exception is set). Called with the GIL. */
#define STOP_SLICE_S 0.1
static sitq_code stop_in_slices(SitqWorkerObject *self, double timeout, sitq_error *err,
                                int *interrupted) {
    *interrupted = 0;
    double waited = 0;
    for (;;) {
        double slice = STOP_SLICE_S;
        if (timeout >= 0 && timeout - waited < slice) slice = timeout - waited;
        sitq_code rc;
        Py_BEGIN_ALLOW_THREADS rc = sitq_worker_stop_wait(self->worker, slice, err);
        Py_END_ALLOW_THREADS if (rc != SITQ_ETIMEDOUT) return rc;
        waited += slice;
        if (PyErr_CheckSignals() < 0) {
            *interrupted = 1;
            Py_BEGIN_ALLOW_THREADS sitq_worker_shutdown(self->worker, 0, NULL);
            Py_END_ALLOW_THREADS return SITQ_OK;
        }
        if (timeout >= 0 && waited >= timeout) {
            Py_BEGIN_ALLOW_THREADS rc = sitq_worker_stop(self->worker, 0, err); /* the flags */
            Py_END_ALLOW_THREADS if (rc != SITQ_ETIMEDOUT) return rc;
            sitq_worker_stats st;
            sitq_worker_get_stats(self->worker, &st);
            if (st.running == 0) /* what holds the stop is the store, not a task */
                snprintf(err->message, sizeof err->message,
                         "worker %s: no task is running, but outcomes are not yet recorded "
                         "after %g s (the last store error: %.300s); it keeps trying in the "
                         "background",
                         sitq_worker_id(self->worker), timeout,
                         st.last_error[0] ? st.last_error : "none");
            else
                snprintf(err->message, sizeof err->message,
                         "worker %s: %d task(s) still running after %g s; they finish in the "
                         "background",
                         sitq_worker_id(self->worker), st.running, timeout);
            return rc;
        }
    }
}

static void forget_running(SitqWorkerObject *self) {
    if (atomic_load(&self->running))
        sitqpy_tasklog_worker("stopped", self->worker, worker_queue_name(self), self->concurrency);
    atomic_store(&self->running, 0);
    Py_INCREF(self);
    sitqpy_untrack_worker((PyObject *)self);
    Py_DECREF(self);
}

static PyObject *worker_stop(SitqWorkerObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"timeout", NULL};
    PyObject *tobj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:stop", kwlist, &tobj)) return NULL;
    if (inherited(self)) { /* nothing of it runs in this process: nothing to stop */
        atomic_store(&self->running, 0);
        Py_INCREF(self);
        sitqpy_untrack_worker((PyObject *)self);
        Py_DECREF(self);
        Py_RETURN_NONE;
    }
    if (check_worker(self) < 0) return NULL;
    double timeout;
    if (sitqpy_seconds_arg(tobj, "timeout", -1.0, 1, &timeout) < 0) return NULL;
    sitq_error err = {0};
    int interrupted;
    sitq_code rc = stop_in_slices(self, timeout, &err, &interrupted);
    if (rc == SITQ_ESTATE) return sitqpy_raise(rc, &err); /* from its own task: still running */
    forget_running(self);
    if (interrupted) return NULL;
    if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    Py_RETURN_NONE;
}

void sitqpy_worker_abandon(PyObject *obj) {
    SitqWorkerObject *self = (SitqWorkerObject *)obj;
    if (!self->worker || inherited(self)) return;
    Py_BEGIN_ALLOW_THREADS sitq_worker_shutdown(self->worker, 0, NULL);
    Py_END_ALLOW_THREADS forget_running(self);
}

PyDoc_STRVAR(process_task_doc,
             "process_task(task_id) -> Result\n--\n\n"
             "Run the given task now, in the calling thread, and return its Result\n"
             "after the attempt (the worker need not be started). A task that raises\n"
             "gives a Result with is_error True (or status 'scheduled' when retries\n"
             "remain), not an exception.\n"
             "Raises TaskNotReadyError (the task is waiting for dependencies, scheduled,\n"
             "running elsewhere or finished), TaskNotFoundError, NoHandlerError (not a\n"
             "Python task), InvalidArgumentError, StorageError; KeyboardInterrupt when\n"
             "Ctrl-C interrupted the task. Thread-safe.");

static PyObject *worker_process_task(SitqWorkerObject *self, PyObject *idobj) {
    sitq_task_id id;
    if (check_worker(self) < 0 || sitqpy_task_id_arg(idobj, "task_id", &id) < 0) return NULL;
    if (atomic_load(&sitqpy_finalizing)) {
        sitq_error fe = {SITQ_ESTATE, "the Python interpreter is shutting down"};
        return sitqpy_raise(SITQ_ESTATE, &fe);
    }
    sitq_result *r = NULL;
    sitq_error err = {0};
    sitq_code rc;
    sitqpy_take_interrupt();
    int direct = sitqpy_tl_direct; /* the attempt's outcome is logged here, not by the hook */
    sitqpy_tl_direct = 1;
    Py_BEGIN_ALLOW_THREADS rc = sitq_worker_process_task(self->worker, id, &r, &err);
    Py_END_ALLOW_THREADS sitqpy_tl_direct = direct;
    int interrupted = sitqpy_take_interrupt();
    if (rc == SITQ_OK) sitqpy_tasklog_processed(r);
    if (rc != SITQ_OK) {
        sitq_result_free(r);
        return sitqpy_raise(rc, &err);
    }
    if (interrupted) {
        sitq_result_free(r);
        PyErr_SetNone(PyExc_KeyboardInterrupt);
        return NULL;
    }
    if (!r) {
        /* process_task with out set always returns a snapshot; be safe */
        PyObject *q = self->queue;
        sitq_error e2 = {0};
        Py_BEGIN_ALLOW_THREADS rc = sitq_get_result(((SitqQueueObject *)q)->queue, id, &r, &e2);
        Py_END_ALLOW_THREADS if (rc != SITQ_OK) return sitqpy_raise(rc, &e2);
    }
    PyObject *res = sitqpy_result_new(r);
    sitq_result_free(r);
    return res;
}

PyDoc_STRVAR(run_doc, "run(until_empty=False, eta_bound=None) -> None\n--\n\n"
                      "Start the worker (unless running) and block until stop() is called from\n"
                      "another thread or Ctrl-C. On Ctrl-C the worker stops gracefully (running\n"
                      "tasks finish, as stop()) and KeyboardInterrupt is re-raised; a second\n"
                      "Ctrl-C during that stop abandons the running tasks. The GIL is released\n"
                      "while blocking.\n\n"
                      "until_empty=True (burst mode, for batch jobs): drain, then return. The\n"
                      "worker stops by itself, as stop() would, once none of its queues holds a\n"
                      "Python task that is ready, running (in any worker: it may fail and be\n"
                      "retried), waiting on dependencies (it becomes ready when they finish,\n"
                      "wherever they run), or scheduled to run within eta_bound seconds from now\n"
                      "(an ETA or a retry's backoff; default None: 60 s, so that retries with a\n"
                      "short backoff run before it returns; 0: only tasks due now). Tasks\n"
                      "scheduled later do not hold it. The worker must not be running (raises\n"
                      "InvalidStateError); it can be started again afterwards, without burst\n"
                      "mode. Raises InvalidArgumentError for a bad eta_bound, InvalidStateError\n"
                      "when called from one of the worker's own tasks (it would wait for itself).");

/* Start the worker unless it is running; 0, or -1 with an exception set. */
static int start_unless_running(SitqWorkerObject *self) {
    if (atomic_load(&self->running)) return 0;
    PyObject *r = worker_start(self, NULL);
    if (!r) return -1;
    Py_DECREF(r);
    return 0;
}

/* Ctrl-C (or another signal handler's exception) while run() blocks: stop
 * gracefully and re-raise it. Returns NULL. */
static PyObject *run_interrupted(SitqWorkerObject *self) {
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyObject *empty = PyTuple_New(0);
    PyObject *r = empty ? worker_stop(self, empty, NULL) : NULL;
    Py_XDECREF(empty);
    /* A second Ctrl-C abandoned the running tasks: the first
     * KeyboardInterrupt, re-raised below, says enough. */
    if (!r && PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) PyErr_Clear();
    else if (!r) PyErr_WriteUnraisable((PyObject *)self);
    Py_XDECREF(r);
    PyErr_Restore(t, v, tb);
    return NULL;
}

/* run(until_empty=True): burst mode for this run only. */
static PyObject *run_until_empty(SitqWorkerObject *self, double eta_bound) {
    sitq_error err = {0};
    if (atomic_load(&self->running)) {
        snprintf(err.message, sizeof err.message,
                 "run(until_empty=True) needs a stopped worker: stop() it first");
        return sitqpy_raise(SITQ_ESTATE, &err);
    }
    sitq_code rc = sitq_worker_set_burst(self->worker, 1, eta_bound, &err);
    if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    PyObject *r = worker_start(self, NULL);
    for (; r && atomic_load(&self->running);) {
        Py_BEGIN_ALLOW_THREADS rc = sitq_worker_wait(self->worker, 0.1, NULL);
        Py_END_ALLOW_THREADS if (rc == SITQ_OK) break; /* drained (or stopped) */
        if (PyErr_CheckSignals() < 0) {
            Py_CLEAR(r);
            run_interrupted(self);
        }
    }
    if (r) { /* join the threads; the worker is stopped already */
        PyObject *empty = PyTuple_New(0);
        Py_SETREF(r, empty ? worker_stop(self, empty, NULL) : NULL);
        Py_XDECREF(empty);
    }
    sitq_worker_set_burst(self->worker, 0, -1, NULL);
    return r;
}

static PyObject *worker_run(SitqWorkerObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"until_empty", "eta_bound", NULL};
    PyObject *empty = Py_False, *bound = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:run", kwlist, &empty, &bound)) return NULL;
    int until_empty = sitqpy_bool_arg(empty, "until_empty");
    if (until_empty < 0) return NULL;
    if (check_worker(self) < 0) return NULL;
    double eta_bound = -1;
    if (sitqpy_seconds_arg(bound, "eta_bound", -1.0, 1, &eta_bound) < 0) return NULL;
    if (until_empty) return run_until_empty(self, eta_bound);
    if (sitq_worker_wait(self->worker, 0, NULL) == SITQ_ESTATE) {
        /* on one of its own handler threads: it would wait for itself */
        sitq_error err = {SITQ_ESTATE, "Worker.run() was called from one of the worker's own "
                                       "tasks, which it would wait for: return from the task "
                                       "first, or call it from another thread"};
        return sitqpy_raise(SITQ_ESTATE, &err);
    }
    if (start_unless_running(self) < 0) return NULL;
    while (atomic_load(&self->running)) {
        Py_BEGIN_ALLOW_THREADS struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        Py_END_ALLOW_THREADS if (PyErr_CheckSignals() < 0) return run_interrupted(self);
    }
    Py_RETURN_NONE;
}

static PyObject *worker_enter(SitqWorkerObject *self, PyObject *noargs) {
    (void)noargs;
    if (check_worker(self) < 0) return NULL;
    if (start_unless_running(self) < 0) return NULL;
    return Py_NewRef(self);
}

static PyObject *worker_exit(SitqWorkerObject *self, PyObject *args) {
    (void)args;
    PyObject *empty = PyTuple_New(0);
    if (!empty) return NULL;
    PyObject *r = worker_stop(self, empty, NULL);
    Py_DECREF(empty);
    if (!r) return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

PyDoc_STRVAR(stats_doc, "stats() -> dict\n--\n\n"
                        "The worker's counters since creation: claimed, succeeded, failed,\n"
                        "cancelled (attempts that ended cancelled; not in failed), released,\n"
                        "lost, commits, errors (failed database transactions, retried\n"
                        "by the worker), last_error (the message of the last one, or ''),\n"
                        "running. Thread-safe.");

static PyObject *worker_stats(SitqWorkerObject *self, PyObject *noargs) {
    (void)noargs;
    if (check_worker(self) < 0) return NULL;
    sitq_worker_stats st;
    memset(&st, 0, sizeof st);
    sitq_worker_get_stats(self->worker, &st);
    st.last_error[sizeof st.last_error - 1] = '\0';
    return Py_BuildValue("{sLsLsLsLsLsLsLsLsssi}", "claimed", (long long)st.claimed, "succeeded",
                         (long long)st.succeeded, "failed", (long long)st.failed, "cancelled",
                         (long long)st.cancelled, "released", (long long)st.released, "lost",
                         (long long)st.lost, "commits", (long long)st.commits, "errors",
                         (long long)st.errors, "last_error", st.last_error, "running", st.running);
}

static PyMethodDef worker_methods[] = {
    {"start", (PyCFunction)worker_start, METH_NOARGS, start_doc},
    {"stop", (PyCFunction)(void (*)(void))worker_stop, METH_VARARGS | METH_KEYWORDS, stop_doc},
    {"process_task", (PyCFunction)worker_process_task, METH_O, process_task_doc},
    {"run", (PyCFunction)(void (*)(void))worker_run, METH_VARARGS | METH_KEYWORDS, run_doc},
    {"stats", (PyCFunction)worker_stats, METH_NOARGS, stats_doc},
    {"__enter__", (PyCFunction)worker_enter, METH_NOARGS,
     "Start the worker (unless running) and return it."},
    {"__exit__", (PyCFunction)worker_exit, METH_VARARGS,
     "Stop the worker gracefully (running tasks finish)."},
    SITQPY_NO_PICKLE_METHODS,
    {NULL, NULL, 0, NULL}};

static PyObject *worker_get_id(SitqWorkerObject *self, void *c) {
    (void)c;
    if (!self->worker) Py_RETURN_NONE;
    return PyUnicode_FromString(sitq_worker_id(self->worker));
}
static PyObject *worker_get_running(SitqWorkerObject *self, void *c) {
    (void)c;
    return PyBool_FromLong(atomic_load(&self->running) && !inherited(self));
}
static PyObject *worker_get_concurrency(SitqWorkerObject *self, void *c) {
    (void)c;
    return PyLong_FromLong(self->concurrency);
}
static PyObject *worker_get_queue(SitqWorkerObject *self, void *c) {
    (void)c;
    if (!self->queue) Py_RETURN_NONE;
    return Py_NewRef(self->queue);
}
static PyObject *worker_get_queues(SitqWorkerObject *self, void *c) {
    (void)c;
    if (!self->queues) return PyTuple_New(0);
    return Py_NewRef(self->queues);
}

static PyGetSetDef worker_getset[] = {
    {"worker_id", (getter)worker_get_id, NULL, "The worker's id (str).", NULL},
    {"is_running", (getter)worker_get_running, NULL, "True between start() and stop().", NULL},
    {"concurrency", (getter)worker_get_concurrency, NULL, "Number of handler threads.", NULL},
    {"queue", (getter)worker_get_queue, NULL,
     "The TaskQueue the worker serves (the first, when it serves several).", NULL},
    {"queues", (getter)worker_get_queues, NULL,
     "The TaskQueues the worker serves, in priority order (tuple).", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyObject *worker_repr(SitqWorkerObject *self) {
    if (!self->worker) return PyUnicode_FromString("<sitq.Worker (not initialised)>");
    /* The id as Python quotes it (%R): control characters escaped. */
    PyObject *id = PyUnicode_DecodeUTF8(
        sitq_worker_id(self->worker), (Py_ssize_t)strlen(sitq_worker_id(self->worker)), "replace");
    if (!id) return NULL;
    PyObject *r =
        PyUnicode_FromFormat("<sitq.Worker id=%R concurrency=%d %s>", id, self->concurrency,
                             atomic_load(&self->running) ? "running" : "stopped");
    Py_DECREF(id);
    return r;
}

PyDoc_STRVAR(worker_doc,
             "Worker(queue, worker_id=None, concurrency=1, lease=30.0, poll_interval=None,\n"
             "       prefetch=None, heartbeat_interval=None, order='priority',\n"
             "       retention=True, retention_interval=60.0)\n"
             "--\n\n"
             "Runs the Python tasks of one or more queues on its own threads.\n\n"
             "queue: the sitq.TaskQueue to serve, or a list of up to 64 TaskQueues opened\n"
             "    on the same backend object, in priority order (Worker([high, low])).\n"
             "order: how a worker of several queues picks its next task: 'priority'\n"
             "    (the default) always takes from the first queue that has a ready task\n"
             "    (a lower queue runs only while those before it have none ready; a task\n"
             "    that becomes ready in a higher queue runs next, before tasks of lower\n"
             "    queues claimed ahead but not started); 'round-robin' takes from the\n"
             "    queues in turn. Within a queue: priority, then ETA, then id.\n"
             "worker_id: str shown in the database (default 'host:pid:start-time:n').\n"
             "concurrency: handler threads, 1..1024 (default 1). Tasks hold the GIL only\n"
             "    while Python runs; for CPU-bound Python use several processes\n"
             "    (`python -m sitq worker DB --concurrency N`).\n"
             "lease: seconds a claimed task is held without a heartbeat before another\n"
             "    worker may take it over (default 30; renewed automatically).\n"
             "poll_interval: seconds between looks for tasks enqueued by other\n"
             "    processes (default None: 0.05, or 1 on PostgreSQL, whose notifications\n"
             "    wake idle workers at once and which also wakes them when the next\n"
             "    scheduled task or retry becomes due).\n"
             "prefetch: tasks claimed beyond concurrency (default = concurrency).\n"
             "heartbeat_interval: seconds between lease renewals (default\n"
             "    min(lease/3, 1)).\n"
             "retention: True (the default): the worker deletes the expired finished\n"
             "    tasks of every queue of its database while it runs (see\n"
             "    TaskQueue.set_retention), from a thread of its own, in short\n"
             "    transactions; False: it does not.\n"
             "retention_interval: seconds between two looks over the tasks for expired\n"
             "    ones, 0.01..86400 (default 60).\n\n"
             "Use start()/stop(), `with Worker(queue):`, run() (blocking),\n"
             "run(until_empty=True) (drain the queues, then return) or process_task(id)\n"
             "(one task of any of its queues, in the calling thread, no start needed).\n\n"
             "Stopping is bounded by the tasks' timeouts. Leaving `with`, stop(), run()\n"
             "after Ctrl-C and interpreter exit wait for running tasks, but a task still\n"
             "running a grace after its timeout (10% of it, 0.5..5 s) has its attempt\n"
             "recorded as failed and no longer holds the stop. A thread cannot be\n"
             "interrupted: the stuck function keeps running on an abandoned thread until\n"
             "it returns (its outcome is dropped) or the interpreter exits (the thread\n"
             "ends when it next needs the GIL, or with the process). Tasks without a\n"
             "timeout are waited for; Ctrl-C during the wait abandons them (recorded as\n"
             "failed 'abandoned: still running when worker ... stopped'), and so does\n"
             "deallocating a Worker whose stop(timeout) timed out. Give long tasks a\n"
             "timeout, or run them with `python -m sitq worker`, whose second SIGTERM or\n"
             "SIGINT exits at once.\n\n"
             "Cancelling: Python cannot interrupt a thread, so queue.cancel(id) of a\n"
             "running task only sets its flag, which the worker reads at its heartbeats\n"
             "(a timeout sets it too). A long task polls sitq.current_task().cancelled\n"
             "and raises to end cancelled (returning normally records a success). To\n"
             "have tasks stopped for real (killed after a short grace), run them in\n"
             "task processes: `python -m sitq worker DB --pool process`.\n\n"
             "Logging: each attempt's start and outcome is logged on the `sitq.task`\n"
             "logger (start, success, cancel: INFO; retry, lost lease: WARNING; failure:\n"
             "ERROR), the worker's start and stop on `sitq.worker` (DEBUG). The library\n"
             "adds only a NullHandler; stop() returns after the lines of the outcomes it\n"
             "recorded were written.\n"
             "Raises InvalidArgumentError naming a bad argument (also for queues of\n"
             "different backend objects, or one queue given twice). Thread-safe. Cannot be\n"
             "pickled (TypeError).");

PyTypeObject SitqWorker_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sitq.Worker",
    .tp_basicsize = sizeof(SitqWorkerObject),
    .tp_dealloc = (destructor)worker_dealloc,
    .tp_repr = (reprfunc)worker_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = worker_doc,
    .tp_traverse = (traverseproc)worker_traverse,
    .tp_weaklistoffset = offsetof(SitqWorkerObject, weakrefs),
    .tp_methods = worker_methods,
    .tp_getset = worker_getset,
    .tp_init = (initproc)worker_init,
    .tp_new = PyType_GenericNew,
};
