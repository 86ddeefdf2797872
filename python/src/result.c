/*
 * result.c - sitq.Result: a snapshot of a task and, once it finished, its
 * result. The stored value (a record of its repr and pickle, or a bare
 * pickle stored before records: value_record.c) is unpickled on first
 * access of .value.
 */
#include "sitqpy.h"

#include <string.h>

static PyObject *str_or_none(const char *s) {
    if (!s) Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
}

static PyObject *deps_of(const sitq_result *r) {
    PyObject *t = PyTuple_New((Py_ssize_t)r->n_depends_on);
    if (!t) return NULL;
    for (size_t i = 0; i < r->n_depends_on; i++) {
        PyObject *v = PyLong_FromLongLong(r->depends_on[i]);
        if (!v) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, (Py_ssize_t)i, v);
    }
    return t;
}

/* The line that python/sitq/_remote.py appends to a stored traceback. */
#define EXC_MARKER "sitq-exception-v1:"

/* Split a stored traceback t (may be NULL) into the text shown (*tb, str or
 * None) and the base64 pickle of the exception after the last marker line
 * (*blob, str or None). 0, or -1 with the error set. */
static int split_traceback(const char *t, PyObject **tb, PyObject **blob) {
    const char *line = NULL;
    for (const char *p = t; p && (p = strstr(p, EXC_MARKER)) != NULL; p++)
        if (p == t || p[-1] == '\n') line = p;
    if (!line) {
        *tb = str_or_none(t);
        *blob = Py_NewRef(Py_None);
        return *tb ? 0 : -1;
    }
    const char *b = line + strlen(EXC_MARKER);
    *tb = PyUnicode_DecodeUTF8(t, line - t, "replace");
    *blob = PyUnicode_DecodeUTF8(b, (Py_ssize_t)strcspn(b, "\n"), "replace");
    return *tb && *blob ? 0 : -1;
}

PyObject *sitqpy_result_new(const sitq_result *r) {
    SitqResultObject *self = PyObject_GC_New(SitqResultObject, &SitqResult_Type);
    if (!self) return NULL;
    self->id = r->id;
    self->status = (int)r->status;
    self->priority = r->priority;
    self->attempts = r->attempts;
    self->max_retries = r->max_retries;
    self->progress = r->progress;
    self->timeout_s = r->timeout_s;
    self->cancel_requested = r->cancel_requested;
    self->enqueued_at_us = r->enqueued_at_us;
    self->eta_us = r->eta_us;
    self->started_at_us = r->started_at_us;
    self->finished_at_us = r->finished_at_us;
    self->queue_name = str_or_none(r->queue);
    self->function = str_or_none(r->function);
    self->error = str_or_none(r->error);
    self->traceback = self->exc_blob = NULL;
    int split = split_traceback(r->traceback, &self->traceback, &self->exc_blob);
    self->worker_id = str_or_none(r->worker_id);
    self->unique_key = str_or_none(r->unique_key);
    self->depends_on = deps_of(r);
    self->value = NULL;
    self->raw = NULL;
    if (r->value) self->raw = PyBytes_FromStringAndSize(r->value, (Py_ssize_t)r->value_len);
    if (!self->queue_name || !self->function || !self->error || split < 0 || !self->worker_id ||
        !self->unique_key || !self->depends_on || (r->value && !self->raw)) {
        PyObject_GC_Track(self);
        Py_DECREF(self);
        return NULL;
    }
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

static PyObject *time_or_none(sitq_time_us us) { return sitqpy_datetime_from_us(us); }

PyObject *sitqpy_result_info_dict(const sitq_result *r) {
    PyObject *d = PyDict_New();
    if (!d) return NULL;
    PyObject *progress = r->progress < 0 ? Py_NewRef(Py_None) : PyFloat_FromDouble(r->progress);
    struct {
        const char *k;
        PyObject *v;
    } items[] = {
        {"id", PyLong_FromLongLong(r->id)},
        {"queue", str_or_none(r->queue)},
        {"function", str_or_none(r->function)},
        {"status", PyUnicode_FromString(sitq_status_name((int)r->status))},
        {"priority", PyLong_FromLong(r->priority)},
        {"attempts", PyLong_FromLong(r->attempts)},
        {"max_retries", PyLong_FromLong(r->max_retries)},
        {"error", str_or_none(r->error)},
        {"worker_id", str_or_none(r->worker_id)},
        {"unique_key", str_or_none(r->unique_key)},
        {"progress", progress},
        {"depends_on", deps_of(r)},
        {"enqueued_at", time_or_none(r->enqueued_at_us)},
        {"eta", time_or_none(r->eta_us)},
        {"started_at", time_or_none(r->started_at_us)},
        {"finished_at", time_or_none(r->finished_at_us)},
    };
    int ok = 1;
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        if (!items[i].v || PyDict_SetItemString(d, items[i].k, items[i].v) < 0) ok = 0;
        Py_XDECREF(items[i].v);
    }
    if (!ok) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

static int result_traverse(SitqResultObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->value);
    return 0;
}

static int result_clear(SitqResultObject *self) {
    Py_CLEAR(self->value);
    return 0;
}

static void result_dealloc(SitqResultObject *self) {
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->queue_name);
    Py_CLEAR(self->function);
    Py_CLEAR(self->error);
    Py_CLEAR(self->traceback);
    Py_CLEAR(self->exc_blob);
    Py_CLEAR(self->worker_id);
    Py_CLEAR(self->unique_key);
    Py_CLEAR(self->depends_on);
    Py_CLEAR(self->raw);
    Py_CLEAR(self->value);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* ------------------------------------------------------------------ */
/* Getters                                                             */
/* ------------------------------------------------------------------ */

static PyObject *res_value(SitqResultObject *self, void *c) {
    (void)c;
    if (self->value) return Py_NewRef(self->value);
    if (!self->raw) Py_RETURN_NONE;
    /* Not a Python function's (a shell command's output, a C handler's
     * bytes): the value is the stored bytes as they are. */
    const char *fn =
        self->function && PyUnicode_Check(self->function) ? PyUnicode_AsUTF8(self->function) : NULL;
    if (!fn) PyErr_Clear(); /* no name (an old row): read it as a Python value */
    if (fn && strncmp(fn, "py:", 3) != 0) {
        self->value = Py_NewRef(self->raw);
        return Py_NewRef(self->value);
    }
    const char *pickle = NULL;
    Py_ssize_t len = 0;
    /* Held for the call: unpickling may run Python code that lets another
     * thread read .value too, which drops self->raw when it is done. */
    PyObject *raw = Py_NewRef(self->raw);
    if (sitqpy_record_pickle(raw, (long long)self->id, &pickle, &len) != 0) {
        Py_DECREF(raw);
        return NULL;
    }
    /* a view of the pickle inside raw (no copy) */
    PyObject *view = PyMemoryView_FromMemory((char *)pickle, len, PyBUF_READ);
    PyObject *v = view ? PyObject_CallOneArg(sitqpy_pickle_loads, view) : NULL;
    Py_XDECREF(view);
    Py_DECREF(raw);
    if (!v) {
        if (!PyErr_ExceptionMatches(PyExc_Exception)) return NULL;
        PyObject *t, *e, *tb;
        PyErr_Fetch(&t, &e, &tb);
        PyErr_NormalizeException(&t, &e, &tb);
        if (tb) PyException_SetTraceback(e, tb);
        PyObject *what = e ? PyObject_Str(e) : NULL;
        PyObject *msg = PyUnicode_FromFormat(
            "cannot unpickle the result of task %lld (%S) in this process: %s: %S",
            (long long)self->id, self->function, t ? ((PyTypeObject *)t)->tp_name : "?",
            what ? what : Py_None);
        Py_XDECREF(what);
        if (msg) {
            PyObject *exc =
                PyObject_CallFunction(sitqpy_SerializationError, "Os", msg, "SITQ_ESERIALIZE");
            Py_DECREF(msg);
            if (exc) {
                if (e) {
                    Py_INCREF(e);
                    PyException_SetCause(exc, e);
                    Py_INCREF(e);
                    PyException_SetContext(exc, e);
                }
                PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
                Py_DECREF(exc);
            }
        }
        Py_XDECREF(t);
        Py_XDECREF(e);
        Py_XDECREF(tb);
        return NULL;
    }
    if (self->value) { /* another thread's read came first: one value for all */
        Py_DECREF(v);
        return Py_NewRef(self->value);
    }
    self->value = v;
    /* One copy only (large results); __reduce__ pickles the value again. */
    Py_CLEAR(self->raw);
    return Py_NewRef(v);
}

static PyObject *res_task_id(SitqResultObject *self, void *c) {
    (void)c;
    return PyLong_FromLongLong(self->id);
}
static PyObject *res_status(SitqResultObject *self, void *c) {
    (void)c;
    return PyUnicode_FromString(sitq_status_name(self->status));
}
static PyObject *res_is_error(SitqResultObject *self, void *c) {
    (void)c;
    return PyBool_FromLong(self->status == SITQ_FAILED || self->status == SITQ_CANCELLED);
}
static PyObject *res_is_success(SitqResultObject *self, void *c) {
    (void)c;
    return PyBool_FromLong(self->status == SITQ_SUCCEEDED);
}
static PyObject *res_is_finished(SitqResultObject *self, void *c) {
    (void)c;
    return PyBool_FromLong(sitq_status_is_terminal(self->status));
}
static PyObject *res_attempts(SitqResultObject *self, void *c) {
    (void)c;
    return PyLong_FromLong(self->attempts);
}
static PyObject *res_max_retries(SitqResultObject *self, void *c) {
    (void)c;
    return PyLong_FromLong(self->max_retries);
}
static PyObject *res_priority(SitqResultObject *self, void *c) {
    (void)c;
    return PyLong_FromLong(self->priority);
}
static PyObject *res_progress(SitqResultObject *self, void *c) {
    (void)c;
    if (self->progress < 0) Py_RETURN_NONE;
    return PyFloat_FromDouble(self->progress);
}
static PyObject *res_timeout(SitqResultObject *self, void *c) {
    (void)c;
    if (self->timeout_s <= 0) Py_RETURN_NONE;
    return PyFloat_FromDouble(self->timeout_s);
}
static PyObject *res_cancel_requested(SitqResultObject *self, void *c) {
    (void)c;
    return PyBool_FromLong(self->cancel_requested);
}
static PyObject *res_enqueued_at(SitqResultObject *self, void *c) {
    (void)c;
    return time_or_none(self->enqueued_at_us);
}
static PyObject *res_started_at(SitqResultObject *self, void *c) {
    (void)c;
    return time_or_none(self->started_at_us);
}
static PyObject *res_finished_at(SitqResultObject *self, void *c) {
    (void)c;
    return time_or_none(self->finished_at_us);
}
static PyObject *res_eta(SitqResultObject *self, void *c) {
    (void)c;
    return time_or_none(self->eta_us);
}
static PyObject *res_duration(SitqResultObject *self, void *c) {
    (void)c;
    if (!self->started_at_us || !self->finished_at_us || self->finished_at_us < self->started_at_us)
        Py_RETURN_NONE;
    return PyFloat_FromDouble((double)(self->finished_at_us - self->started_at_us) / 1e6);
}

#define RES_OBJ(field)                                                                             \
    static PyObject *res_##field(SitqResultObject *self, void *c) {                                \
        (void)c;                                                                                   \
        return Py_NewRef(self->field);                                                             \
    }
RES_OBJ(error)
RES_OBJ(traceback)
RES_OBJ(function)
RES_OBJ(worker_id)
RES_OBJ(unique_key)
RES_OBJ(depends_on)
static PyObject *res_queue(SitqResultObject *self, void *c) {
    (void)c;
    return Py_NewRef(self->queue_name);
}

static PyGetSetDef result_getset[] = {
    {"value", (getter)res_value, NULL,
     "The task's return value, unpickled on first access (None while the task is\n"
     "not finished, or when it failed). Raises SerializationError when the value\n"
     "cannot be unpickled in this process (e.g. its class cannot be imported).\n"
     "A task whose function is not a Python one (not 'py:...': a shell command\n"
     "of the sitq command, a C handler) gives its stored bytes as they are.",
     NULL},
    {"task_id", (getter)res_task_id, NULL, "The task id (int).", NULL},
    {"id", (getter)res_task_id, NULL, "Alias of task_id.", NULL},
    {"status", (getter)res_status, NULL,
     "Status name: 'queued', 'waiting', 'scheduled', 'running', 'succeeded',\n"
     "'failed' or 'cancelled'.",
     NULL},
    {"is_error", (getter)res_is_error, NULL, "True when the task failed or was cancelled.", NULL},
    {"is_success", (getter)res_is_success, NULL, "True when the task succeeded.", NULL},
    {"is_finished", (getter)res_is_finished, NULL,
     "True when the status is final (succeeded, failed or cancelled).", NULL},
    {"error", (getter)res_error, NULL,
     "Error of a failed task, 'ExceptionType: message' for a Python exception; else None.", NULL},
    {"traceback", (getter)res_traceback, NULL,
     "Formatted Python traceback of the failing attempt (str), or None.", NULL},
    {"attempts", (getter)res_attempts, NULL, "Attempts started so far (int).", NULL},
    {"max_retries", (getter)res_max_retries, NULL, "The task's max_retries (int).", NULL},
    {"priority", (getter)res_priority, NULL, "The task's priority (int).", NULL},
    {"function", (getter)res_function, NULL, "Stored function name, e.g. 'py:module.qualname'.",
     NULL},
    {"queue", (getter)res_queue, NULL, "Name of the task's queue.", NULL},
    {"worker_id", (getter)res_worker_id, NULL, "Id of the last worker that ran the task, or None.",
     NULL},
    {"unique_key", (getter)res_unique_key, NULL, "The task's unique_key or None.", NULL},
    {"depends_on", (getter)res_depends_on, NULL, "Ids of the task's dependencies (tuple).", NULL},
    {"progress", (getter)res_progress, NULL, "Last reported progress 0..1, or None.", NULL},
    {"timeout", (getter)res_timeout, NULL, "The task's run time limit in seconds, or None.", NULL},
    {"cancel_requested", (getter)res_cancel_requested, NULL,
     "True when cancellation was requested while the task was running.", NULL},
    {"enqueued_at", (getter)res_enqueued_at, NULL, "Enqueue time, datetime in UTC.", NULL},
    {"eta", (getter)res_eta, NULL,
     "Not-before time (ETA or retry backoff), datetime in UTC, or None.", NULL},
    {"started_at", (getter)res_started_at, NULL,
     "Start of the last attempt, datetime in UTC, or None.", NULL},
    {"finished_at", (getter)res_finished_at, NULL, "Finish time, datetime in UTC, or None.", NULL},
    {"duration", (getter)res_duration, NULL,
     "finished_at - started_at in seconds (float), or None.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyObject *result_repr(SitqResultObject *self) {
    const char *st = sitq_status_name(self->status);
    if (self->status == SITQ_FAILED || self->status == SITQ_CANCELLED)
        return PyUnicode_FromFormat("<sitq.Result task_id=%lld status='%s' attempts=%d error=%R>",
                                    (long long)self->id, st, (int)self->attempts, self->error);
    if (self->status != SITQ_SUCCEEDED)
        return PyUnicode_FromFormat("<sitq.Result task_id=%lld status='%s' attempts=%d>",
                                    (long long)self->id, st, (int)self->attempts);
    if (self->raw && PyBytes_GET_SIZE(self->raw) > 4096) {
        /* the repr the worker stored, when there is one, else the size */
        PyObject *stored = sitqpy_record_repr(self->raw);
        if (!stored) return NULL;
        if (stored != Py_None) {
            PyObject *out =
                PyUnicode_FromFormat("<sitq.Result task_id=%lld status='%s' attempts=%d value=%U>",
                                     (long long)self->id, st, (int)self->attempts, stored);
            Py_DECREF(stored);
            return out;
        }
        Py_DECREF(stored);
        return PyUnicode_FromFormat(
            "<sitq.Result task_id=%lld status='%s' attempts=%d value=<%zd pickled bytes>>",
            (long long)self->id, st, (int)self->attempts, PyBytes_GET_SIZE(self->raw));
    }
    PyObject *v = res_value(self, NULL);
    if (!v) {
        PyErr_Clear();
        return PyUnicode_FromFormat(
            "<sitq.Result task_id=%lld status='%s' attempts=%d value=<cannot be unpickled here>>",
            (long long)self->id, st, (int)self->attempts);
    }
    PyObject *r = PyObject_Repr(v);
    Py_DECREF(v);
    if (!r) return NULL;
    if (PyUnicode_GET_LENGTH(r) > 200) {
        PyObject *cut = PyUnicode_Substring(r, 0, 197);
        Py_DECREF(r);
        if (!cut) return NULL;
        r = PyUnicode_FromFormat("%U...", cut);
        Py_DECREF(cut);
        if (!r) return NULL;
    }
    PyObject *out =
        PyUnicode_FromFormat("<sitq.Result task_id=%lld status='%s' attempts=%d value=%U>",
                             (long long)self->id, st, (int)self->attempts, r);
    Py_DECREF(r);
    return out;
}

static PyObject *result_unwrap(SitqResultObject *self, PyObject *noargs) {
    (void)noargs;
    if (self->status != SITQ_FAILED && self->status != SITQ_CANCELLED) return res_value(self, NULL);
    PyObject *mod = PyImport_ImportModule("sitq._remote");
    if (!mod) return NULL;
    PyObject *exc =
        PyObject_CallMethod(mod, "failure", "OOOLs", self->error, self->traceback, self->exc_blob,
                            (long long)self->id, sitq_status_name(self->status));
    Py_DECREF(mod);
    if (exc) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}

/* Pickling. A Result travels to a task process (process mode's dependency
 * reads) as its fields and its stored value's bytes, never the unpickled
 * value: .value is unpickled where it is read, as in the worker's own
 * process, and a Result pickles whatever its value is. Once .value was
 * read here the bytes are gone, and the value is pickled again. */
#define RESULT_STATE_FMT "LiiiiddiLLLLOOOOOOOOO"

static PyObject *result_reduce(SitqResultObject *self, PyObject *noargs) {
    (void)noargs;
    PyObject *mod = PyImport_ImportModule("sitq._sitq");
    PyObject *restore = mod ? PyObject_GetAttrString(mod, "_result_restore") : NULL;
    Py_XDECREF(mod);
    if (!restore) return NULL;
    /* The stored bytes were dropped when .value was read: its pickle now. */
    PyObject *raw = self->raw     ? Py_NewRef(self->raw)
                    : self->value ? sitqpy_dump_value(self->value)
                                  : Py_NewRef(Py_None);
    if (!raw) {
        Py_DECREF(restore);
        return NULL;
    }
    PyObject *state = Py_BuildValue(
        "(" RESULT_STATE_FMT ")", (long long)self->id, self->status, (int)self->priority,
        (int)self->attempts, (int)self->max_retries, self->progress, self->timeout_s,
        self->cancel_requested, (long long)self->enqueued_at_us, (long long)self->eta_us,
        (long long)self->started_at_us, (long long)self->finished_at_us, self->queue_name,
        self->function, self->error, self->traceback, self->exc_blob, self->worker_id,
        self->unique_key, self->depends_on, raw);
    Py_DECREF(raw);
    if (!state) {
        Py_DECREF(restore);
        return NULL;
    }
    return Py_BuildValue("(N(N))", restore, state);
}

static int str_or_none_ok(PyObject *o) { return o == Py_None || PyUnicode_Check(o); }

PyObject *sitqpy_result_restore(PyObject *module, PyObject *state) {
    (void)module;
    long long id, enq, eta, started, finished;
    int status, priority, attempts, max_retries, cancel;
    double progress, timeout_s;
    PyObject *queue, *function, *error, *tb, *blob, *worker, *unique, *deps, *raw;
    if (!PyTuple_Check(state))
        return sitqpy_invalid("a Result's pickled state must be a tuple, got %.100s",
                              Py_TYPE(state)->tp_name);
    if (!PyArg_ParseTuple(state, RESULT_STATE_FMT ":_result_restore", &id, &status, &priority,
                          &attempts, &max_retries, &progress, &timeout_s, &cancel, &enq, &eta,
                          &started, &finished, &queue, &function, &error, &tb, &blob, &worker,
                          &unique, &deps, &raw)) {
        /* a TypeError of the parser, told as the bad argument it is */
        PyObject *t, *e, *tb;
        PyErr_Fetch(&t, &e, &tb);
        PyObject *what = e ? PyObject_Str(e) : NULL;
        const char *text = what ? PyUnicode_AsUTF8(what) : NULL;
        PyErr_Clear();
        sitqpy_invalid("a Result's pickled state is not one this version wrote: %s",
                       text ? text : "?");
        Py_XDECREF(what);
        Py_XDECREF(t);
        Py_XDECREF(e);
        Py_XDECREF(tb);
        return NULL;
    }
    PyObject *texts[] = {queue, function, error, tb, blob, worker, unique};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        if (!str_or_none_ok(texts[i]))
            return sitqpy_invalid("a Result's pickled state has a %.100s where a str or None "
                                  "belongs (field %zu of its texts)",
                                  Py_TYPE(texts[i])->tp_name, i);
    if (status < 0 || status >= SITQ_STATUS_COUNT || !PyTuple_Check(deps) ||
        (raw != Py_None && !PyBytes_Check(raw)))
        return sitqpy_invalid("a Result's pickled state is not one this version wrote "
                              "(status %d, depends_on %.100s, value %.100s)",
                              status, Py_TYPE(deps)->tp_name, Py_TYPE(raw)->tp_name);
    SitqResultObject *self = PyObject_GC_New(SitqResultObject, &SitqResult_Type);
    if (!self) return NULL;
    self->id = (sitq_task_id)id;
    self->status = status;
    self->priority = priority;
    self->attempts = attempts;
    self->max_retries = max_retries;
    self->progress = progress;
    self->timeout_s = timeout_s;
    self->cancel_requested = cancel;
    self->enqueued_at_us = enq;
    self->eta_us = eta;
    self->started_at_us = started;
    self->finished_at_us = finished;
    self->queue_name = Py_NewRef(queue);
    self->function = Py_NewRef(function);
    self->error = Py_NewRef(error);
    self->traceback = Py_NewRef(tb);
    self->exc_blob = Py_NewRef(blob);
    self->worker_id = Py_NewRef(worker);
    self->unique_key = Py_NewRef(unique);
    self->depends_on = Py_NewRef(deps);
    self->raw = raw == Py_None ? NULL : Py_NewRef(raw);
    self->value = NULL;
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

static PyMethodDef result_methods[] = {
    {"__reduce__", (PyCFunction)result_reduce, METH_NOARGS,
     "__reduce__($self)\n--\n\nPickle support: the fields and the stored value's bytes (the\n"
     "value is unpickled where .value is read)."},
    {"unwrap", (PyCFunction)result_unwrap, METH_NOARGS,
     "unwrap($self)\n--\n\n"
     "Return .value when the task succeeded (SerializationError when it cannot\n"
     "be unpickled here). For a failed task, re-raise the exception its\n"
     "function raised, of its own type, when the worker could pickle it and it\n"
     "unpickles in this process: its __cause__ is a TaskFailedError and a note\n"
     "holds the remote traceback. Otherwise (a timeout, a lost lease, an\n"
     "exception that cannot be pickled or imported here, a row stored by an\n"
     "older version) and for a cancelled task, raise TaskFailedError (error,\n"
     "remote_traceback, task_id, status). For an unfinished task, return None."},
    {NULL, NULL, 0, NULL}};

PyDoc_STRVAR(result_doc,
             "A snapshot of a task: its status and, once finished, its result.\n\n"
             "Returned by TaskQueue.get_result and Worker.process_task; not created\n"
             "directly. Attributes: value, is_error, is_success, is_finished, error,\n"
             "traceback, status, task_id, attempts, enqueued_at, started_at, finished_at\n"
             "(datetimes in UTC) and more. Immutable apart from the cached value; safe\n"
             "to share between threads. Pickles as its fields and its stored value's\n"
             "bytes: .value is unpickled where it is read.");

PyTypeObject SitqResult_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sitq.Result",
    .tp_basicsize = sizeof(SitqResultObject),
    .tp_dealloc = (destructor)result_dealloc,
    .tp_repr = (reprfunc)result_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = result_doc,
    .tp_traverse = (traverseproc)result_traverse,
    .tp_clear = (inquiry)result_clear,
    .tp_methods = result_methods,
    .tp_getset = result_getset,
};
