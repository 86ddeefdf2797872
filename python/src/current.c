/*
 * current.c - sitq.current_task() and its TaskContext: what a running task
 * may ask about its own attempt (id, attempt, queue, cancel flag) and tell
 * the worker (progress, a lease renewal).
 *
 * The handler (handler.c) marks the attempt as current on its thread for the
 * duration of the call (a thread-local, saved and restored so that a task
 * may run process_task itself). The TaskContext object is made on the first
 * current_task() call of an attempt and shared by later calls; when the
 * attempt ends it is cut off from the C context, which is freed then: its
 * plain attributes stay readable, `cancelled`, `set_progress` and
 * `heartbeat` raise InvalidStateError.
 *
 * A task may hand its TaskContext to threads of its own (a heartbeat thread
 * around a blocking call). Their calls run the C context without the GIL, so
 * the end of the attempt may come while one is in flight: each such method
 * holds the context (tc_hold) for its whole call, and the attempt's end
 * waits for the calls held to return before the worker may free it.
 */
#include "sitqpy.h"

#include <pthread.h>

#include "core/pyvalue.h"

typedef struct {
    PyObject_HEAD sitq_task_ctx *ctx; /* NULL once the attempt ended */
    int ending;                       /* set first: no call may start; held_mu */
    int calls;                        /* methods in flight on ctx; held_mu */
    sitq_task_id id;
    int32_t attempt;
    int32_t max_retries;
    double timeout_s;
    PyObject *function; /* str */
    PyObject *queue;    /* str */
} SitqTaskContextObject;

static _Thread_local sitqpy_current tl_current;

void sitqpy_current_enter(sitq_task_ctx *ctx, const char *queue, sitqpy_current *saved) {
    *saved = tl_current;
    tl_current.ctx = ctx;
    /* A worker of several queues passes none: the task's own, kept for the
     * process's life like the others (sitqpy_intern_queue_name). */
    tl_current.queue = queue ? queue : sitqpy_intern_queue_name(sitq_ctx_queue(ctx));
    tl_current.obj = NULL;
}

/* Lock invariant: a TaskContext's ending flag is set and its calls counted
 * under held_mu (and the GIL); held_cv is signalled when a count falls to
 * 0. Its ctx stays valid while calls > 0, and is cleared once ending is set
 * and no call is left. */
static pthread_mutex_t held_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t held_cv = PTHREAD_COND_INITIALIZER;

/* Start a call on self's context: -1 when the attempt has ended. */
static int tc_hold(SitqTaskContextObject *self) {
    pthread_mutex_lock(&held_mu);
    int ok = self->ctx && !self->ending;
    if (ok) self->calls++;
    pthread_mutex_unlock(&held_mu);
    return ok ? 0 : -1;
}

static void tc_release(SitqTaskContextObject *self) {
    pthread_mutex_lock(&held_mu);
    if (--self->calls == 0) pthread_cond_broadcast(&held_cv);
    pthread_mutex_unlock(&held_mu);
}

void sitqpy_current_leave(const sitqpy_current *saved) {
    SitqTaskContextObject *obj = (SitqTaskContextObject *)tl_current.obj;
    if (obj) {
        pthread_mutex_lock(&held_mu);
        obj->ending = 1; /* no new call starts */
        int busy = obj->calls > 0;
        pthread_mutex_unlock(&held_mu);
        if (busy) {
            /* without the GIL, which the calls need to return */
            Py_BEGIN_ALLOW_THREADS pthread_mutex_lock(&held_mu);
            while (obj->calls > 0) pthread_cond_wait(&held_cv, &held_mu);
            pthread_mutex_unlock(&held_mu);
            Py_END_ALLOW_THREADS
        }
        obj->ctx = NULL;
    }
    tl_current = *saved;
    Py_XDECREF((PyObject *)obj);
}

static PyObject *ended(SitqTaskContextObject *self) {
    sitq_error err = {SITQ_ESTATE, ""};
    snprintf(err.message, sizeof err.message,
             "the attempt of task %lld has ended: its TaskContext no longer reaches the worker",
             (long long)self->id);
    return sitqpy_raise(SITQ_ESTATE, &err);
}

static void tc_dealloc(SitqTaskContextObject *self) {
    Py_XDECREF(self->function);
    Py_XDECREF(self->queue);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *tc_get_cancelled(SitqTaskContextObject *self, void *c) {
    (void)c;
    if (!self->ctx) return ended(self);
    return PyBool_FromLong(sitq_ctx_cancelled(self->ctx));
}

static PyObject *tc_get_id(SitqTaskContextObject *self, void *c) {
    (void)c;
    return PyLong_FromLongLong((long long)self->id);
}
static PyObject *tc_get_attempt(SitqTaskContextObject *self, void *c) {
    (void)c;
    return PyLong_FromLong(self->attempt);
}
static PyObject *tc_get_max_retries(SitqTaskContextObject *self, void *c) {
    (void)c;
    return PyLong_FromLong(self->max_retries);
}
static PyObject *tc_get_timeout(SitqTaskContextObject *self, void *c) {
    (void)c;
    if (self->timeout_s <= 0) Py_RETURN_NONE;
    return PyFloat_FromDouble(self->timeout_s);
}
static PyObject *tc_get_function(SitqTaskContextObject *self, void *c) {
    (void)c;
    return Py_NewRef(self->function);
}
static PyObject *tc_get_queue(SitqTaskContextObject *self, void *c) {
    (void)c;
    return Py_NewRef(self->queue);
}

/* Renew the lease now and store progress (< 0: unchanged); the context is
 * held by the caller (TC_HELD). */
static PyObject *heartbeat_now(SitqTaskContextObject *self, double progress) {
    sitq_error err = {0};
    sitq_code rc;
    sitq_task_ctx *ctx = self->ctx;
    Py_BEGIN_ALLOW_THREADS rc = sitq_ctx_heartbeat(ctx, progress, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(set_progress_doc,
             "set_progress(fraction) -> None\n--\n\n"
             "Store the task's progress (a float 0..1, shown as Result.progress and by\n"
             "`sitq list`) and renew its lease now. Each call writes the database: call\n"
             "it at most a few times a second. Raises InvalidArgumentError (fraction not\n"
             "a number in 0..1), LeaseLostError (the lease was lost, or the attempt was\n"
             "already recorded as timed out: stop working), StorageError,\n"
             "InvalidStateError (the attempt has ended).");

static PyObject *tc_set_progress_held(SitqTaskContextObject *self, PyObject *arg) {
    if (!PyFloat_Check(arg) && !(PyLong_Check(arg) && !PyBool_Check(arg)))
        return sitqpy_invalid("fraction must be a number 0..1, got %.100s", Py_TYPE(arg)->tp_name);
    double f = PyFloat_AsDouble(arg);
    if (f == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return sitqpy_invalid("fraction must be a number 0..1");
    }
    if (!(f >= 0 && f <= 1)) return sitqpy_invalid("fraction must be 0..1, got %g", f);
    return heartbeat_now(self, f);
}

PyDoc_STRVAR(heartbeat_doc,
             "heartbeat() -> None\n--\n\n"
             "Renew the task's lease now (the worker also renews it on its own every\n"
             "heartbeat interval; this is for a task that wants to know at once whether\n"
             "it still holds its lease) and refresh `cancelled`. Writes the database.\n"
             "Raises LeaseLostError (stop working), StorageError, InvalidStateError\n"
             "(the attempt has ended).");

static PyObject *tc_heartbeat_held(SitqTaskContextObject *self, PyObject *noargs) {
    (void)noargs;
    return heartbeat_now(self, -1.0);
}

/* The result of dependency number index, read without the GIL; a new
 * sitq.Result, or NULL with the error set. */
static PyObject *dependency_result(SitqTaskContextObject *self, size_t index) {
    sitq_task_ctx *ctx = self->ctx;
    sitq_result *r = NULL;
    sitq_error err = {0};
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc = sitq_ctx_dependency_result(ctx, index, &r, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    PyObject *res = sitqpy_result_new(r);
    sitq_result_free(r);
    return res;
}

/* The number of dependencies, looked up without the GIL on first use. */
static size_t dependency_count(SitqTaskContextObject *self) {
    sitq_task_ctx *ctx = self->ctx;
    size_t n;
    Py_BEGIN_ALLOW_THREADS n = sitq_ctx_dependency_count(ctx);
    Py_END_ALLOW_THREADS return n;
}

/* Positions first .. first + n - 1 of the private reads below were numbered
 * by sitq.result_of at enqueue, so each was declared: one at or past the
 * count is one whose edge purge dropped once it had succeeded and this task
 * had finished (the task runs again by a retry). How many of them, from
 * first, are within the count (n when all are); -1 with the error set (the
 * count lookup's own error when that failed). The reads report a missing one
 * as gone (positions_gone), as a purged failed one leaves a gap, after
 * reading those before it, so that the lowest missing position is named. */
static Py_ssize_t positions_counted(SitqTaskContextObject *self, size_t first, size_t n) {
    size_t count = dependency_count(self);
    if (first + n <= count) return (Py_ssize_t)n;
    /* a failed lookup also counts 0: reading position count reports why */
    PyObject *r = dependency_result(self, count);
    if (r) {
        Py_DECREF(r); /* not expected: the count said it is not there */
        return (Py_ssize_t)n;
    }
    if (!PyErr_ExceptionMatches(sitqpy_InvalidArgument)) return -1;
    PyErr_Clear();
    return count > first ? (Py_ssize_t)(count - first) : 0;
}

/* TaskNotFoundError for position pos, past the stored edges; NULL. */
static PyObject *positions_gone(SitqTaskContextObject *self, size_t pos) {
    sitq_error err = {0};
    snprintf(err.message, sizeof err.message,
             "dependency %zu of task %lld is gone (purged after it finished, or never declared)",
             pos, (long long)self->id);
    err.code = SITQ_ENOTFOUND;
    return sitqpy_raise(SITQ_ENOTFOUND, &err);
}

/* Slice size of a range read: bounds the results held in C at once. */
#define RANGE_SLICE 1024

/* Dependencies first .. first + n - 1 appended to list out as sitq.Result,
 * read RANGE_SLICE positions per statement without the GIL; 0, or -1 with
 * the error set (TaskNotFoundError for a purged dependency). */
static int dependency_range(SitqTaskContextObject *self, size_t first, size_t n, PyObject *out) {
    sitq_result *slice[RANGE_SLICE];
    for (size_t at = first; at < first + n; at += RANGE_SLICE) {
        size_t k = first + n - at < RANGE_SLICE ? first + n - at : RANGE_SLICE;
        sitq_task_ctx *ctx = self->ctx;
        sitq_error err = {0};
        sitq_code rc;
        Py_BEGIN_ALLOW_THREADS rc = sitq_ctx_dependency_results(ctx, at, k, slice, &err);
        Py_END_ALLOW_THREADS if (rc != SITQ_OK) {
            sitqpy_raise(rc, &err);
            return -1;
        }
        int failed = 0;
        for (size_t i = 0; i < k; i++) {
            if (!failed && !slice[i]) {
                err.code = SITQ_ENOTFOUND;
                snprintf(err.message, sizeof err.message,
                         "dependency %zu of task %lld is gone (purged after it finished)", at + i,
                         (long long)self->id);
                sitqpy_raise(SITQ_ENOTFOUND, &err);
                failed = 1;
            } else if (!failed) {
                PyObject *r = sitqpy_result_new(slice[i]);
                if (!r || PyList_Append(out, r) < 0) failed = 1;
                Py_XDECREF(r);
            }
            sitq_result_free(slice[i]);
        }
        if (failed) return -1;
    }
    return 0;
}

PyDoc_STRVAR(dependency_results_doc,
             "dependency_results() -> list[Result]\n--\n\n"
             "The sitq.Result of each dependency of the running task, in the order\n"
             "they were declared (depends_on, then the sitq.Task items of an\n"
             "enqueue_batch; sitq.result_of adds its tasks after the explicit ones;\n"
             "an id named twice counts once). Read when called, 1,024 dependencies\n"
             "per statement, never copied into this task. A normal task's dependencies\n"
             "all succeeded; a finalizer's have all finished (succeeded, failed or\n"
             "cancelled: check is_error). An empty list for a task without\n"
             "dependencies. Raises TaskNotFoundError (a dependency was purged),\n"
             "StorageError, InvalidStateError (the attempt has ended).");

static PyObject *tc_dependency_results_held(SitqTaskContextObject *self, PyObject *noargs) {
    (void)noargs;
    size_t n = dependency_count(self);
    if (n == 0) {
        /* 0 also when the lookup failed: reading index 0 reports why */
        PyObject *r = dependency_result(self, 0);
        if (r) Py_DECREF(r); /* not expected: the count said none */
        else if (!PyErr_ExceptionMatches(sitqpy_InvalidArgument)) return NULL;
        PyErr_Clear();
        return PyList_New(0);
    }
    PyObject *out = PyList_New(0);
    if (out && dependency_range(self, 0, n, out) < 0) Py_CLEAR(out);
    return out;
}

/* _dependency_range(first, n): the Results of n dependencies from position
 * first, read by ranges (sitq.result_of resolves a fan-in with it). */
static PyObject *tc_dependency_range_held(SitqTaskContextObject *self, PyObject *args) {
    Py_ssize_t first, n;
    if (!PyArg_ParseTuple(args, "nn:_dependency_range", &first, &n)) return NULL;
    if (first < 0 || n < 1)
        return sitqpy_invalid("a dependency range needs first >= 0 and n >= 1, got %zd, %zd", first,
                              n);
    Py_ssize_t k = positions_counted(self, (size_t)first, (size_t)n);
    if (k < 0) return NULL;
    PyObject *out = PyList_New(0);
    if (out && k > 0 && dependency_range(self, (size_t)first, (size_t)k, out) < 0) Py_CLEAR(out);
    if (out && k < n) {
        Py_CLEAR(out);
        return positions_gone(self, (size_t)(first + k));
    }
    return out;
}

/* The value of a succeeded dependency v, unpickled (raw: its pickle as
 * bytes, for a task process to unpickle); NULL with no error set when only
 * its whole Result can say what it is (not a value this binding stored, or
 * one that cannot be unpickled here: Result.value raises the error that
 * explains it), NULL with an error set when memory ran out. */
static PyObject *dependency_value(const sitq_dependency_value *v, int raw) {
    if (!v->value) Py_RETURN_NONE;
    sitq__pyvalue pv;
    sitq__pyvalue_kind k = sitq__pyvalue_parse(v->value, v->value_len, &pv, NULL, 0);
    if (k != SITQ__PYVALUE_RECORD && k != SITQ__PYVALUE_PICKLE) return NULL;
    if (raw) return PyBytes_FromStringAndSize((const char *)pv.pickle, (Py_ssize_t)pv.pickle_len);
    PyObject *view =
        PyMemoryView_FromMemory((char *)pv.pickle, (Py_ssize_t)pv.pickle_len, PyBUF_READ);
    PyObject *out = view ? PyObject_CallOneArg(sitqpy_pickle_loads, view) : NULL;
    Py_XDECREF(view);
    if (!out && PyErr_ExceptionMatches(PyExc_Exception)) PyErr_Clear();
    return out;
}

/* Positions first .. first + n - 1 into values (list, one item each) and
 * others ({position - first: Result}): a succeeded dependency's unpickled
 * value (raw: its pickle, bytes) goes to values; any other, or a value that
 * only its Result can explain, gets None in values and its whole Result in
 * others. 0, or -1 with the error set. */
static int dependency_values(SitqTaskContextObject *self, size_t first, size_t n, int raw,
                             PyObject *values, PyObject *others) {
    sitq_dependency_value slice[RANGE_SLICE];
    for (size_t at = first; at < first + n; at += RANGE_SLICE) {
        size_t k = first + n - at < RANGE_SLICE ? first + n - at : RANGE_SLICE;
        sitq_task_ctx *ctx = self->ctx;
        sitq_error err = {0};
        sitq_code rc;
        Py_BEGIN_ALLOW_THREADS rc = sitq_ctx_dependency_values(ctx, at, k, slice, &err);
        Py_END_ALLOW_THREADS if (rc != SITQ_OK) {
            sitqpy_raise(rc, &err);
            return -1;
        }
        int failed = 0;
        for (size_t i = 0; i < k && !failed; i++) {
            PyObject *v =
                slice[i].status == SITQ_SUCCEEDED ? dependency_value(&slice[i], raw) : NULL;
            if (!v && PyErr_Occurred()) failed = 1;
            else if (!v) {
                /* dependency_result also reports a purged dependency */
                PyObject *r = dependency_result(self, at + i);
                PyObject *key = r ? PyLong_FromSize_t(at + i - first) : NULL;
                failed = !key || PyDict_SetItem(others, key, r) < 0 ||
                         PyList_Append(values, Py_None) < 0;
                Py_XDECREF(key);
                Py_XDECREF(r);
            } else {
                failed = PyList_Append(values, v) < 0;
                Py_DECREF(v);
            }
        }
        sitq_dependency_values_clear(slice, k);
        if (failed) return -1;
    }
    return 0;
}

/* _dependency_values(first, n, raw=False): (values, others) of
 * dependency_values. */
static PyObject *tc_dependency_values_held(SitqTaskContextObject *self, PyObject *args) {
    Py_ssize_t first, n;
    int raw = 0;
    if (!PyArg_ParseTuple(args, "nn|p:_dependency_values", &first, &n, &raw)) return NULL;
    if (first < 0 || n < 1)
        return sitqpy_invalid("a dependency range needs first >= 0 and n >= 1, got %zd, %zd", first,
                              n);
    Py_ssize_t k = positions_counted(self, (size_t)first, (size_t)n);
    if (k < 0) return NULL;
    PyObject *values = PyList_New(0), *others = PyDict_New();
    PyObject *out = NULL;
    if (values && others &&
        (k == 0 || dependency_values(self, (size_t)first, (size_t)k, raw, values, others) == 0))
        out = k < n ? positions_gone(self, (size_t)(first + k)) : PyTuple_Pack(2, values, others);
    Py_XDECREF(values);
    Py_XDECREF(others);
    return out;
}

/* _dependency_result(index): one dependency's Result (sitq.result_of). */
static PyObject *tc_dependency_result_held(SitqTaskContextObject *self, PyObject *arg) {
    Py_ssize_t i = PyLong_AsSsize_t(arg);
    if (i == -1 && PyErr_Occurred()) return NULL;
    if (i < 0) return sitqpy_invalid("a dependency index must be >= 0, got %zd", i);
    Py_ssize_t k = positions_counted(self, (size_t)i, 1);
    if (k < 0) return NULL;
    return k == 0 ? positions_gone(self, (size_t)i) : dependency_result(self, (size_t)i);
}

/* The methods that reach the C context, each holding it for its call. */
#define TC_HELD(name)                                                                              \
    static PyObject *name(SitqTaskContextObject *self, PyObject *arg) {                            \
        if (tc_hold(self) < 0) return ended(self);                                                 \
        PyObject *out = name##_held(self, arg);                                                    \
        tc_release(self);                                                                          \
        return out;                                                                                \
    }
TC_HELD(tc_set_progress)
TC_HELD(tc_heartbeat)
TC_HELD(tc_dependency_results)
TC_HELD(tc_dependency_range)
TC_HELD(tc_dependency_values)
TC_HELD(tc_dependency_result)

static PyObject *tc_repr(SitqTaskContextObject *self) {
    return PyUnicode_FromFormat("<sitq.TaskContext id=%lld attempt=%d function=%R queue=%R%s>",
                                (long long)self->id, (int)self->attempt, self->function,
                                self->queue, self->ctx ? "" : " ended");
}

static PyMethodDef tc_methods[] = {
    {"set_progress", (PyCFunction)tc_set_progress, METH_O, set_progress_doc},
    {"heartbeat", (PyCFunction)tc_heartbeat, METH_NOARGS, heartbeat_doc},
    {"dependency_results", (PyCFunction)tc_dependency_results, METH_NOARGS, dependency_results_doc},
    {"_dependency_result", (PyCFunction)tc_dependency_result, METH_O,
     "_dependency_result(index) -> Result: one dependency's (used by sitq.result_of)."},
    {"_dependency_values", (PyCFunction)tc_dependency_values, METH_VARARGS,
     "_dependency_values(first, n, raw=False) -> (list, dict): the values of n dependencies\n"
     "from position first, read by ranges without building a Result each (used by\n"
     "sitq.result_of): a succeeded dependency's value in the list (raw: its pickle, bytes,\n"
     "that a task process unpickles itself); for any other, None in the list and its\n"
     "Result in the dict under its position - first. Raises as dependency_results()."},
    {"_dependency_range", (PyCFunction)tc_dependency_range, METH_VARARGS,
     "_dependency_range(first, n) -> list[Result]: n dependencies from position first, read\n"
     "by ranges (used by sitq.result_of). Raises as dependency_results()."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef tc_getset[] = {
    {"id", (getter)tc_get_id, NULL, "The task's id (int).", NULL},
    {"attempt", (getter)tc_get_attempt, NULL, "This attempt's number, 1 for the first (int).",
     NULL},
    {"max_retries", (getter)tc_get_max_retries, NULL, "The task's max_retries (int).", NULL},
    {"timeout", (getter)tc_get_timeout, NULL, "The task's timeout in seconds, or None.", NULL},
    {"function", (getter)tc_get_function, NULL, "The stored function name, 'py:module.name'.",
     NULL},
    {"queue", (getter)tc_get_queue, NULL, "The name of the task's queue (str).", NULL},
    {"cancelled", (getter)tc_get_cancelled, NULL,
     "True once the task should stop early: queue.cancel(id) was called (the\n"
     "worker sees it at its next heartbeat, every heartbeat_interval), its\n"
     "timeout passed, its lease was lost or its worker is being stopped with a\n"
     "time limit. A Python thread cannot be interrupted: a long task polls this\n"
     "and raises (the attempt then ends cancelled when a cancel was asked;\n"
     "returning normally records a success). InvalidStateError once the\n"
     "attempt has ended.",
     NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyDoc_STRVAR(tc_doc, "The running attempt of a task, as returned by sitq.current_task().\n\n"
                     "Attributes: id, attempt, max_retries, timeout, function, queue,\n"
                     "cancelled. Methods: set_progress(fraction), heartbeat(),\n"
                     "dependency_results(). Valid during\n"
                     "the attempt, on the thread that runs it; cannot be created directly.");

static PyTypeObject SitqTaskContext_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sitq.TaskContext",
    .tp_basicsize = sizeof(SitqTaskContextObject),
    .tp_dealloc = (destructor)tc_dealloc,
    .tp_repr = (reprfunc)tc_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = tc_doc,
    .tp_methods = tc_methods,
    .tp_getset = tc_getset,
};

PyDoc_STRVAR(current_task_doc,
             "current_task() -> TaskContext\n--\n\n"
             "The attempt running on this thread: call it inside a task function run\n"
             "by a sitq Worker (or Worker.process_task). Raises InvalidStateError\n"
             "outside a task, including in threads the task starts itself.");

static PyObject *mod_current_task(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    if (!tl_current.ctx) {
        sitq_error err = {SITQ_ESTATE, "sitq.current_task() was called outside a task: it works "
                                       "only in a task function run by a sitq Worker, on "
                                       "the thread that runs it"};
        return sitqpy_raise(SITQ_ESTATE, &err);
    }
    if (tl_current.obj) return Py_NewRef(tl_current.obj);
    SitqTaskContextObject *o = PyObject_New(SitqTaskContextObject, &SitqTaskContext_Type);
    if (!o) return NULL;
    sitq_task_ctx *ctx = tl_current.ctx;
    o->ctx = ctx;
    o->ending = 0;
    o->calls = 0;
    o->id = sitq_ctx_task_id(ctx);
    o->attempt = sitq_ctx_attempt(ctx);
    o->max_retries = sitq_ctx_max_retries(ctx);
    o->timeout_s = sitq_ctx_timeout_s(ctx);
    o->function =
        PyUnicode_DecodeUTF8(sitq_ctx_function(ctx), strlen(sitq_ctx_function(ctx)), "replace");
    const char *q = tl_current.queue ? tl_current.queue : "default";
    o->queue = PyUnicode_DecodeUTF8(q, strlen(q), "replace");
    if (!o->function || !o->queue) {
        Py_DECREF(o);
        return NULL;
    }
    tl_current.obj = Py_NewRef((PyObject *)o);
    return (PyObject *)o;
}

PyObject *sitqpy_current_object(void) { return mod_current_task(NULL, NULL); }

static PyMethodDef current_methods[] = {
    {"current_task", mod_current_task, METH_NOARGS, current_task_doc}, {NULL, NULL, 0, NULL}};

int sitqpy_current_init(PyObject *m) {
    if (PyType_Ready(&SitqTaskContext_Type) < 0) return -1;
    Py_INCREF(&SitqTaskContext_Type);
    if (PyModule_AddObject(m, "TaskContext", (PyObject *)&SitqTaskContext_Type) < 0) {
        Py_DECREF(&SitqTaskContext_Type);
        return -1;
    }
    return PyModule_AddFunctions(m, current_methods);
}

/* Queue names handed to handlers as user_data: kept for the life of the
 * process, because a handler thread abandoned by a stop may outlive its
 * worker (and its queue). One copy per distinct name. */
static PyObject *interned_names; /* dict str -> bytes (the copy's owner) */

const char *sitqpy_intern_queue_name(const char *name) {
    if (!interned_names && !(interned_names = PyDict_New())) return NULL;
    PyObject *item = PyDict_GetItemString(interned_names, name);
    if (item) return PyBytes_AS_STRING(item);
    PyObject *b = PyBytes_FromString(name);
    if (!b || PyDict_SetItemString(interned_names, name, b) < 0) {
        Py_XDECREF(b);
        PyErr_Clear();
        return NULL;
    }
    Py_DECREF(b); /* the dict keeps it */
    return PyBytes_AS_STRING(b);
}
