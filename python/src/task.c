/*
 * task.c - sitq.Task (a function call with options) and its serialisation
 * into a libsitq task: stored function name "py:module.qualname" and a
 * pickled payload (format, function, args, kwargs, memory token).
 *
 * Payload format 1: pickle of the tuple
 *     (1, fn_blob, args, kwargs, token)
 * Format 2 is the same tuple, (2, ...), for a task whose args and kwargs
 * hold sitq.result_of placeholders stored as sitq._result_of._Slot(position
 * of the dependency): the worker substitutes the dependencies' values.
 * fn_blob: bytes (the function pickled with cloudpickle when importable,
 *          else pickle) or None when the function cannot be pickled;
 * args, kwargs: tuple and dict, or None when they cannot be pickled;
 * token:   None, or a str "PID-NONCE-N" naming the entry of this process's
 *          memory registry that holds (function, args, kwargs) for what
 *          could not be pickled.
 */
#include "sitqpy.h"

#include <string.h>
#include <unistd.h>

static unsigned long long token_counter;
static unsigned long long token_nonce;

/* ------------------------------------------------------------------ */
/* Function names                                                      */
/* ------------------------------------------------------------------ */

static PyObject *get_str_attr(PyObject *o, const char *name) {
    PyObject *v = PyObject_GetAttrString(o, name);
    if (!v) {
        if (PyErr_ExceptionMatches(PyExc_Exception)) PyErr_Clear();
        return NULL;
    }
    if (!PyUnicode_Check(v)) {
        Py_DECREF(v);
        return NULL;
    }
    return v;
}

PyObject *sitqpy_function_name(PyObject *func) {
    PyObject *target = func;
    Py_INCREF(target);
    /* functools.partial and similar wrappers: name the wrapped function. */
    for (int depth = 0; depth < 4; depth++) {
        PyObject *q = get_str_attr(target, "__qualname__");
        if (q) {
            Py_DECREF(q);
            break;
        }
        if (PyErr_Occurred()) goto fail;
        PyObject *inner = PyObject_GetAttrString(target, "func");
        if (!inner) {
            PyErr_Clear();
            break;
        }
        Py_SETREF(target, inner);
    }
    PyObject *qual = get_str_attr(target, "__qualname__");
    if (!qual && !PyErr_Occurred())
        qual = get_str_attr((PyObject *)Py_TYPE(target), "__qualname__");
    PyObject *mod = get_str_attr(target, "__module__");
    if (!mod && !PyErr_Occurred()) mod = get_str_attr((PyObject *)Py_TYPE(target), "__module__");
    if (PyErr_Occurred()) {
        Py_XDECREF(qual);
        Py_XDECREF(mod);
        goto fail;
    }
    PyObject *name;
    if (mod && qual) name = PyUnicode_FromFormat("py:%U.%U", mod, qual);
    else if (qual) name = PyUnicode_FromFormat("py:%U", qual);
    else name = PyUnicode_FromFormat("py:%s", Py_TYPE(target)->tp_name);
    Py_XDECREF(qual);
    Py_XDECREF(mod);
    Py_DECREF(target);
    if (!name) return NULL;
    /* At most SITQ_NAME_MAX bytes of UTF-8, cut at a character boundary. */
    Py_ssize_t n = 0;
    const char *u = PyUnicode_AsUTF8AndSize(name, &n);
    if (!u && PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
        /* A name is only shown: replace what UTF-8 cannot encode (a lone
         * surrogate in a __qualname__) rather than refuse the function. */
        PyErr_Clear();
        PyObject *b = PyUnicode_AsEncodedString(name, "utf-8", "replace");
        Py_SETREF(name, b ? PyUnicode_FromEncodedObject(b, "utf-8", "strict") : NULL);
        Py_XDECREF(b);
        u = name ? PyUnicode_AsUTF8AndSize(name, &n) : NULL;
    }
    if (!u) {
        Py_XDECREF(name);
        return NULL;
    }
    if (n > SITQ_NAME_MAX || (Py_ssize_t)strlen(u) != n) {
        size_t cut = strlen(u);
        if (cut > SITQ_NAME_MAX) cut = SITQ_NAME_MAX;
        while (cut > 0 && ((unsigned char)u[cut] & 0xC0) == 0x80) cut--;
        Py_SETREF(name, PyUnicode_DecodeUTF8(u, (Py_ssize_t)cut, "replace"));
    }
    return name;
fail:
    Py_DECREF(target);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Task type                                                           */
/* ------------------------------------------------------------------ */

static int int32_arg(PyObject *obj, const char *what, long lo, long hi, int32_t *out) {
    if (!PyLong_Check(obj) || PyBool_Check(obj)) {
        sitqpy_invalid("%s must be an int, got %.100s", what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    int overflow = 0;
    long v = PyLong_AsLongAndOverflow(obj, &overflow);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (overflow || v < lo || v > hi) {
        sitqpy_invalid("%s must be in %ld..%ld", what, lo, hi);
        return -1;
    }
    *out = (int32_t)v;
    return 0;
}

static PyObject *deps_tuple(PyObject *obj, const char *what, int allow_tasks) {
    if (obj == NULL || obj == Py_None) return PyTuple_New(0);
    if (PyUnicode_Check(obj) || PyBytes_Check(obj) || PyLong_Check(obj) ||
        PyObject_TypeCheck(obj, &SitqTask_Type)) {
        sitqpy_invalid("%s must be a list of task ids, got %.100s", what, Py_TYPE(obj)->tp_name);
        return NULL;
    }
    PyObject *t = PySequence_Tuple(obj);
    if (!t) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            sitqpy_invalid("%s must be a list of task ids, got %.100s", what,
                           Py_TYPE(obj)->tp_name);
        }
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(t); i++) {
        sitq_task_id id;
        char buf[64];
        if (allow_tasks && PyObject_TypeCheck(PyTuple_GET_ITEM(t, i), &SitqTask_Type)) continue;
        snprintf(buf, sizeof buf, "%s[%zd]", what, i);
        if (sitqpy_task_id_arg(PyTuple_GET_ITEM(t, i), buf, &id) < 0) {
            Py_DECREF(t);
            return NULL;
        }
    }
    return t;
}

/* Raise InvalidArgumentError unless function(*args, **kwargs) binds to the
 * function's signature (sitq/_binding.py). 0, or -1 with the error set. */
static int check_binding(PyObject *function, PyObject *args, PyObject *kwargs) {
    PyObject *mod = PyImport_ImportModule("sitq._binding");
    if (!mod) return -1;
    PyObject *r = PyObject_CallMethod(mod, "check_call", "OOO", function, args, kwargs);
    Py_DECREF(mod);
    if (!r) return -1;
    Py_DECREF(r);
    return 0;
}

/* Task(args=...) as a new tuple (an empty one for None); NULL with
 * InvalidArgumentError set. */
static PyObject *args_tuple(PyObject *fargs) {
    if (fargs == Py_None) return PyTuple_New(0);
    /* Text would be split into characters, a set's order is arbitrary. */
    if (PyUnicode_Check(fargs) || PyBytes_Check(fargs) || PyByteArray_Check(fargs) ||
        PyMemoryView_Check(fargs) || PyDict_Check(fargs) || PyAnySet_Check(fargs)) {
        sitqpy_invalid("args must be a list or tuple of positional arguments, got %.100s",
                       Py_TYPE(fargs)->tp_name);
        return NULL;
    }
    PyObject *targs = PySequence_Tuple(fargs);
    if (!targs && PyErr_ExceptionMatches(PyExc_TypeError)) {
        PyErr_Clear();
        sitqpy_invalid("args must be a list or tuple of positional arguments, got %.100s",
                       Py_TYPE(fargs)->tp_name);
    }
    return targs;
}

/* Task(kwargs=...) as a new dict with str keys (an empty one for None);
 * NULL with InvalidArgumentError set. */
static PyObject *kwargs_dict(PyObject *fkwargs) {
    if (fkwargs == Py_None) return PyDict_New();
    if (!PyDict_Check(fkwargs)) {
        sitqpy_invalid("kwargs must be a dict of keyword arguments, got %.100s",
                       Py_TYPE(fkwargs)->tp_name);
        return NULL;
    }
    PyObject *key;
    Py_ssize_t pos = 0;
    while (PyDict_Next(fkwargs, &pos, &key, NULL)) {
        if (!PyUnicode_Check(key)) {
            sitqpy_invalid("kwargs keys must be str, got %.100s", Py_TYPE(key)->tp_name);
            return NULL;
        }
    }
    return PyDict_Copy(fkwargs);
}

/* Task(unique_key=...): None, or 1..SITQ_NAME_MAX bytes of UTF-8 without
 * NUL. 0, or -1 with InvalidArgumentError set. */
static int check_unique_key(PyObject *unique_key) {
    if (unique_key == Py_None) return 0;
    if (!PyUnicode_Check(unique_key)) {
        sitqpy_invalid("unique_key must be a str or None, got %.100s",
                       Py_TYPE(unique_key)->tp_name);
        return -1;
    }
    Py_ssize_t n;
    const char *k = sitqpy_utf8_arg(unique_key, "unique_key", &n);
    if (!k) return -1;
    if (n == 0 || n > SITQ_NAME_MAX || (size_t)n != strlen(k)) {
        sitqpy_invalid("unique_key must be 1..%d bytes of UTF-8 without NUL", SITQ_NAME_MAX);
        return -1;
    }
    return 0;
}

/* The sitq.result_of placeholders of args and kwargs (sitq/_result_of.py):
 * their tasks are added to *deps (replaced by a new tuple). 1 when there
 * are some, 0 when not, -1 with the error set. */
static int collect_refs(PyObject *args, PyObject *kwargs, PyObject **deps) {
    static PyObject *collect; /* sitq._result_of.collect, kept: called for every Task */
    if (!collect) {
        PyObject *mod = PyImport_ImportModule("sitq._result_of");
        collect = mod ? PyObject_GetAttrString(mod, "collect") : NULL;
        Py_XDECREF(mod);
        if (!collect) return -1;
    }
    PyObject *r = PyObject_CallFunctionObjArgs(collect, args, kwargs, *deps, NULL);
    if (!r) return -1;
    if (r == Py_None) {
        Py_DECREF(r);
        return 0;
    }
    Py_SETREF(*deps, r);
    return 1;
}

/* Task(finalizer=..., retention=...): a bool, and a retention (None: the
 * queue's, 0). 0, or -1 with InvalidArgumentError set. */
static int task_flags(PyObject *finalizer, PyObject *retention, double *keep_s) {
    if (!PyBool_Check(finalizer)) {
        sitqpy_invalid("finalizer must be a bool, got %.100s", Py_TYPE(finalizer)->tp_name);
        return -1;
    }
    return sitqpy_keep_arg(retention, "retention", 0, keep_s);
}

static int task_init(SitqTaskObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"function",    "args",          "kwargs",
                             "priority",    "eta",           "delay",
                             "max_retries", "timeout",       "unique_key",
                             "depends_on",  "retry_backoff", "retry_backoff_max",
                             "finalizer",   "retention",     NULL};
    PyObject *function = NULL, *fargs = Py_None, *fkwargs = Py_None, *priority = NULL,
             *eta = Py_None, *delay = Py_None, *max_retries = NULL, *timeout = Py_None,
             *unique_key = Py_None, *depends_on = Py_None, *backoff = Py_None,
             *backoff_max = Py_None, *finalizer = Py_False, *retention = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OOOOOOOOOOOOO:Task", kwlist, &function, &fargs,
                                     &fkwargs, &priority, &eta, &delay, &max_retries, &timeout,
                                     &unique_key, &depends_on, &backoff, &backoff_max, &finalizer,
                                     &retention))
        return -1;
    double keep_s = 0;
    if (task_flags(finalizer, retention, &keep_s) < 0) return -1;
    if (!PyCallable_Check(function)) {
        sitqpy_invalid("function must be callable, got %.100s", Py_TYPE(function)->tp_name);
        return -1;
    }
    PyObject *targs = args_tuple(fargs);
    if (!targs) return -1;
    PyObject *tkwargs = kwargs_dict(fkwargs);
    if (!tkwargs) {
        Py_DECREF(targs);
        return -1;
    }
    int32_t prio = 0, retries = 0;
    double delay_s = 0, timeout_s = 0, base = 1.0, cap = 3600.0;
    sitq_time_us eta_us = 0;
    PyObject *deps = NULL, *name = NULL;
    if ((priority && int32_arg(priority, "priority", -2147483647L - 1, 2147483647L, &prio) < 0) ||
        (max_retries && int32_arg(max_retries, "max_retries", 0, 1000000, &retries) < 0) ||
        sitqpy_seconds_arg(delay, "delay", 0, 1, &delay_s) < 0 ||
        sitqpy_seconds_arg(timeout, "timeout", 0, 1, &timeout_s) < 0 ||
        sitqpy_seconds_arg(backoff, "retry_backoff", 1.0, 1, &base) < 0 ||
        sitqpy_seconds_arg(backoff_max, "retry_backoff_max", 3600.0, 1, &cap) < 0)
        goto fail;
    if (eta != Py_None) {
        if (sitqpy_eta_arg(eta, &eta_us) < 0) goto fail;
        if (delay_s > 0) {
            sitqpy_invalid("eta and delay are mutually exclusive: give one of them");
            goto fail;
        }
    }
    if (check_unique_key(unique_key) < 0) goto fail;
    if (!(deps = deps_tuple(depends_on, "depends_on", 1))) goto fail;
    int refs = collect_refs(targs, tkwargs, &deps);
    if (refs < 0) goto fail;
    if (!(name = sitqpy_function_name(function))) goto fail;
    if (check_binding(function, targs, tkwargs) < 0) goto fail;

    Py_INCREF(function);
    Py_XSETREF(self->function, function);
    Py_XSETREF(self->args, targs);
    Py_XSETREF(self->kwargs, tkwargs);
    Py_XSETREF(self->name, name);
    Py_XSETREF(self->depends_on, deps);
    Py_XSETREF(self->unique_key, unique_key == Py_None ? NULL : Py_NewRef(unique_key));
    Py_XSETREF(self->eta, eta == Py_None ? NULL : Py_NewRef(eta));
    self->priority = prio;
    self->max_retries = retries;
    self->eta_us = eta_us;
    self->delay_s = delay_s;
    self->timeout_s = timeout_s;
    self->backoff_base_s = base;
    self->backoff_cap_s = cap;
    self->finalizer = finalizer == Py_True;
    self->keep_s = keep_s;
    self->has_refs = refs;
    return 0;
fail:
    Py_DECREF(targs);
    Py_DECREF(tkwargs);
    Py_XDECREF(deps);
    Py_XDECREF(name);
    return -1;
}

PyObject *sitqpy_task_from_call(PyObject *func, PyObject *args, PyObject *kwargs) {
    PyObject *a = Py_BuildValue("(OOO)", func, args ? args : Py_None, kwargs ? kwargs : Py_None);
    if (!a) return NULL;
    PyObject *t = PyObject_Call((PyObject *)&SitqTask_Type, a, NULL);
    Py_DECREF(a);
    return t;
}

static int task_traverse(SitqTaskObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->function);
    Py_VISIT(self->args);
    Py_VISIT(self->kwargs);
    Py_VISIT(self->eta);
    Py_VISIT(self->depends_on);
    return 0;
}

static int task_clear(SitqTaskObject *self) {
    Py_CLEAR(self->function);
    Py_CLEAR(self->args);
    Py_CLEAR(self->kwargs);
    Py_CLEAR(self->name);
    Py_CLEAR(self->unique_key);
    Py_CLEAR(self->depends_on);
    Py_CLEAR(self->eta);
    return 0;
}

static void task_dealloc(SitqTaskObject *self) {
    PyObject_GC_UnTrack(self);
    task_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *task_repr(SitqTaskObject *self) {
    if (!self->name) return PyUnicode_FromString("<sitq.Task (uninitialised)>");
    return PyUnicode_FromFormat("<sitq.Task %U args=%zd kwargs=%zd priority=%d max_retries=%d>",
                                self->name, PyTuple_GET_SIZE(self->args),
                                PyDict_GET_SIZE(self->kwargs), (int)self->priority,
                                (int)self->max_retries);
}

#define OBJ_GETTER(field, dflt)                                                                    \
    static PyObject *task_get_##field(SitqTaskObject *self, void *c) {                             \
        (void)c;                                                                                   \
        if (!self->field) return dflt;                                                             \
        return Py_NewRef(self->field);                                                             \
    }
OBJ_GETTER(function, Py_NewRef(Py_None))
OBJ_GETTER(args, PyTuple_New(0))
OBJ_GETTER(kwargs, PyDict_New())
OBJ_GETTER(name, Py_NewRef(Py_None))
OBJ_GETTER(unique_key, Py_NewRef(Py_None))
OBJ_GETTER(depends_on, PyTuple_New(0))
OBJ_GETTER(eta, Py_NewRef(Py_None))

static PyObject *task_get_priority(SitqTaskObject *self, void *c) {
    (void)c;
    return PyLong_FromLong(self->priority);
}
static PyObject *task_get_max_retries(SitqTaskObject *self, void *c) {
    (void)c;
    return PyLong_FromLong(self->max_retries);
}
static PyObject *task_get_timeout(SitqTaskObject *self, void *c) {
    (void)c;
    if (self->timeout_s <= 0) Py_RETURN_NONE;
    return PyFloat_FromDouble(self->timeout_s);
}
static PyObject *task_get_delay(SitqTaskObject *self, void *c) {
    (void)c;
    if (self->delay_s <= 0) Py_RETURN_NONE;
    return PyFloat_FromDouble(self->delay_s);
}

static PyObject *task_get_finalizer(SitqTaskObject *self, void *c) {
    (void)c;
    return PyBool_FromLong(self->finalizer);
}

static PyObject *task_get_retention(SitqTaskObject *self, void *c) {
    (void)c;
    if (self->keep_s == 0) Py_RETURN_NONE;
    return sitqpy_keep_value(self->keep_s);
}

static PyGetSetDef task_getset[] = {
    {"function", (getter)task_get_function, NULL, "The callable to run.", NULL},
    {"args", (getter)task_get_args, NULL, "Positional arguments (tuple).", NULL},
    {"kwargs", (getter)task_get_kwargs, NULL, "Keyword arguments (dict, a copy taken at creation).",
     NULL},
    {"name", (getter)task_get_name, NULL,
     "The readable function reference stored in the database, e.g. 'py:module.qualname'.", NULL},
    {"priority", (getter)task_get_priority, NULL, "Priority (int, higher runs first).", NULL},
    {"eta", (getter)task_get_eta, NULL,
     "Earliest run time as given (datetime or Unix seconds) or None.", NULL},
    {"delay", (getter)task_get_delay, NULL, "Delay before the task may run, seconds, or None.",
     NULL},
    {"max_retries", (getter)task_get_max_retries, NULL, "Retries after a failed first attempt.",
     NULL},
    {"timeout", (getter)task_get_timeout, NULL, "Run time limit in seconds, or None.", NULL},
    {"unique_key", (getter)task_get_unique_key, NULL, "Deduplication key or None.", NULL},
    {"depends_on", (getter)task_get_depends_on, NULL,
     "Tasks that must succeed first (tuple of ids, and of sitq.Task objects of the\n"
     "same enqueue_batch), with the tasks of sitq.result_of placeholders added.",
     NULL},
    {"finalizer", (getter)task_get_finalizer, NULL,
     "True: the task runs once its dependencies finished, whatever their outcome.", NULL},
    {"retention", (getter)task_get_retention, NULL,
     "How long the task is kept once finished: seconds, \"forever\", or None (its\n"
     "queue's retention).",
     NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef task_methods[] = {SITQPY_NO_PICKLE_METHODS, {NULL, NULL, 0, NULL}};

PyDoc_STRVAR(task_doc,
             "Task(function, args=None, kwargs=None, priority=0, eta=None, delay=None,\n"
             "     max_retries=0, timeout=None, unique_key=None, depends_on=None,\n"
             "     retry_backoff=1.0, retry_backoff_max=3600.0, finalizer=False,\n"
             "     retention=None)\n"
             "--\n\n"
             "A call of `function(*args, **kwargs)` to enqueue with TaskQueue.enqueue.\n\n"
             "function: any callable. It is pickled (with cloudpickle when it can be\n"
             "    imported, so lambdas and closures work) and run by any worker on the\n"
             "    database. A callable that cannot be pickled (e.g. a bound method of an\n"
             "    object holding a queue or worker) is kept in this process's memory and\n"
             "    runs only on workers of this process; workers elsewhere fail the task\n"
             "    with an error saying why.\n"
             "args: list/tuple of positional arguments; kwargs: dict of keyword arguments.\n"
             "    Pickled too (kept in memory like the function when they cannot be).\n"
             "    A sitq.result_of(dep) placeholder in them (also inside lists, tuples\n"
             "    and dicts) adds dep to depends_on and is replaced, when the task runs,\n"
             "    by the value dep returned.\n"
             "priority: int, higher runs first (FIFO within a priority); default 0.\n"
             "eta: datetime (aware; naive means local time, as datetime.timestamp()) or\n"
             "    Unix time in seconds: do not run before. Exclusive with delay.\n"
             "delay: seconds to wait before the task may run.\n"
             "max_retries: retries after a failed first attempt, 0..1000000; default 0.\n"
             "timeout: run time limit in seconds (None: none). The attempt is recorded as\n"
             "    failed at the limit; a Python function running in a thread cannot be\n"
             "    interrupted and finishes in the background (its result is dropped).\n"
             "unique_key: str; while a task of the queue with the same key is unfinished,\n"
             "    enqueue returns that task's id instead of adding one.\n"
             "depends_on: ids of tasks that must succeed before this one runs; in\n"
             "    enqueue_batch also sitq.Task objects listed earlier in the same batch.\n"
             "retry_backoff, retry_backoff_max: retry n waits retry_backoff * 2**(n-1)\n"
             "    seconds (+-10% jitter), at most retry_backoff_max seconds.\n"
             "finalizer: bool. True: the task runs once every dependency finished,\n"
             "    whatever its outcome (a chord that sees failures: read them with\n"
             "    current_task().dependency_results(); a result_of placeholder of a\n"
             "    failed or cancelled dependency becomes its sitq.Result). False: a\n"
             "    dependency that fails or is cancelled fails the task at once.\n"
             "    A finalizer needs at least one dependency (enqueue raises\n"
             "    InvalidArgumentError otherwise).\n"
             "retention: how long the task is kept (with its result) once finished:\n"
             "    seconds > 0, or \"forever\"; None (the default): its queue's retention\n"
             "    (TaskQueue.set_retention). Running workers delete expired tasks.\n\n"
             "Raises InvalidArgumentError naming the bad argument, also when args and\n"
             "kwargs do not bind to the function's signature (inspect.signature(function)\n"
             ".bind(*args, **kwargs) fails). Immutable; may be\n"
             "shared between threads. The Task object itself cannot be pickled.");

PyTypeObject SitqTask_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sitq.Task",
    .tp_basicsize = sizeof(SitqTaskObject),
    .tp_dealloc = (destructor)task_dealloc,
    .tp_repr = (reprfunc)task_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = task_doc,
    .tp_traverse = (traverseproc)task_traverse,
    .tp_clear = (inquiry)task_clear,
    .tp_methods = task_methods,
    .tp_getset = task_getset,
    .tp_init = (initproc)task_init,
    .tp_new = PyType_GenericNew,
};

/* ------------------------------------------------------------------ */
/* Serialisation                                                       */
/* ------------------------------------------------------------------ */

/* dumps(obj) with pickle, then cloudpickle; NULL (error cleared) when
 * neither can pickle it; NULL with the error set for BaseException
 * (KeyboardInterrupt) and MemoryError. prefer_cloud: try cloudpickle first
 * (functions: pickles __main__ functions by value so other processes can
 * load them). */
static PyObject *try_dumps(PyObject *obj, int prefer_cloud) {
    PyObject *fns[2];
    int n = 0;
    if (prefer_cloud && sitqpy_cloudpickle_dumps) fns[n++] = sitqpy_cloudpickle_dumps;
    fns[n++] = sitqpy_pickle_dumps;
    if (!prefer_cloud && sitqpy_cloudpickle_dumps) fns[n++] = sitqpy_cloudpickle_dumps;
    for (int i = 0; i < n; i++) {
        PyObject *b = PyObject_CallFunctionObjArgs(fns[i], obj, sitqpy_highest_protocol, NULL);
        if (b) {
            if (PyBytes_Check(b)) return b;
            Py_DECREF(b);
            continue;
        }
        /* InvalidArgumentError: a sitq.result_of placeholder where it is not
         * replaced, which must not be kept in memory and reach the function. */
        if (!PyErr_ExceptionMatches(PyExc_Exception) || PyErr_ExceptionMatches(PyExc_MemoryError) ||
            PyErr_ExceptionMatches(sitqpy_InvalidArgument))
            return NULL;
        PyErr_Clear();
    }
    return NULL;
}

static PyObject *new_token(void) {
    if (token_nonce == 0) {
        token_nonce = ((unsigned long long)sitq_now_us() * 6364136223846793005ULL) ^
                      ((unsigned long long)getpid() << 17) ^
                      (unsigned long long)(uintptr_t)&token_counter;
        if (token_nonce == 0) token_nonce = 1;
    }
    token_counter++;
    char buf[96];
    snprintf(buf, sizeof buf, "%ld-%llx-%llu", (long)getpid(), token_nonce, token_counter);
    return PyUnicode_FromString(buf);
}

/* A copy of the UTF-8 of str in PyMem_RawMalloc'd memory; NULL with the
 * error set. */
static char *raw_strdup(PyObject *str) {
    const char *k = PyUnicode_AsUTF8(str);
    if (!k) return NULL;
    size_t kl = strlen(k);
    char *copy = PyMem_RawMalloc(kl + 1);
    if (!copy) {
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(copy, k, kl + 1);
    return copy;
}

/* The options of the task (its dependencies followed by extra_deps), its
 * unique key and its function name, copied into out. 0, or -1 with the
 * error set (out is cleared by the caller). */
static int prepare_options(SitqTaskObject *task, PyObject *extra_deps, int in_batch,
                           sitqpy_prepared *out) {
    out->opts.priority = task->priority;
    out->opts.max_retries = task->max_retries;
    out->opts.eta_us = task->eta_us;
    out->opts.delay_s = task->delay_s;
    out->opts.timeout_s = task->timeout_s;
    out->opts.backoff_base_s = task->backoff_base_s;
    out->opts.backoff_cap_s = task->backoff_cap_s;
    out->opts.finalizer = task->finalizer;
    out->opts.keep_s = task->keep_s;
    PyObject *deps = deps_tuple(extra_deps, "depends_on", 0);
    if (!deps) return -1;
    Py_ssize_t nd = PyTuple_GET_SIZE(deps);
    if (task->finalizer && nd == 0 && PyTuple_GET_SIZE(task->depends_on) == 0) {
        Py_DECREF(deps);
        sitqpy_invalid("a finalizer (finalizer=True) needs dependencies: give depends_on, or "
                       "an argument that is sitq.result_of(...)");
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(task->depends_on); i++) {
        if (PyLong_Check(PyTuple_GET_ITEM(task->depends_on, i))) nd++;
        else if (!in_batch) {
            Py_DECREF(deps);
            sitqpy_invalid("depends_on[%zd] is a sitq.Task (named in depends_on or by "
                           "sitq.result_of): a Task dependency is resolved only by enqueue_batch, "
                           "among the tasks of the same batch (give a task id here)",
                           i);
            return -1;
        }
    }
    if (nd > 0) {
        out->deps = PyMem_RawMalloc(sizeof(sitq_task_id) * (size_t)nd);
        if (!out->deps) {
            Py_DECREF(deps);
            PyErr_NoMemory();
            return -1;
        }
        Py_ssize_t k = 0;
        int bad = 0;
        for (Py_ssize_t i = 0; !bad && i < PyTuple_GET_SIZE(task->depends_on); i++)
            if (PyLong_Check(PyTuple_GET_ITEM(task->depends_on, i)))
                bad = sitqpy_task_id_arg(PyTuple_GET_ITEM(task->depends_on, i), "depends_on",
                                         &out->deps[k++]) < 0;
        for (Py_ssize_t i = 0; !bad && i < PyTuple_GET_SIZE(deps); i++)
            bad = sitqpy_task_id_arg(PyTuple_GET_ITEM(deps, i), "depends_on", &out->deps[k++]) < 0;
        if (bad) {
            Py_DECREF(deps);
            return -1;
        }
        out->n_deps = (size_t)nd;
        out->opts.depends_on = out->deps;
        out->opts.n_depends_on = out->n_deps;
    }
    Py_DECREF(deps);
    if (task->unique_key) {
        if (!(out->unique_key = raw_strdup(task->unique_key))) return -1;
        out->opts.unique_key = out->unique_key;
    }
    if (!(out->function = raw_strdup(task->name))) return -1;
    return 0;
}

/* The payload (format, function blob, args, kwargs, memory token) into
 * out->payload. A function or arguments that cannot be pickled are kept in
 * this process's memory under out->mem_token. 0, or -1 with the error set
 * (out is cleared by the caller, which drops mem_token). */
static int prepare_payload(SitqTaskObject *task, PyObject *args, PyObject *kwargs, int format,
                           sitqpy_prepared *out) {
    PyObject *payload = NULL, *entry = NULL, *tup = NULL;
    PyObject *fn_blob = try_dumps(task->function, 1);
    if (!fn_blob) {
        if (PyErr_Occurred()) goto fail;
        fn_blob = Py_NewRef(Py_None);
        if (!(out->mem_token = new_token())) goto fail;
    }
    tup = Py_BuildValue("(iOOOO)", format, fn_blob, args, kwargs,
                        out->mem_token ? out->mem_token : Py_None);
    if (!tup) goto fail;
    payload = try_dumps(tup, 0);
    Py_CLEAR(tup);
    if (payload) {
        if (out->mem_token) entry = Py_BuildValue("(OOO)", task->function, Py_None, Py_None);
    } else {
        if (PyErr_Occurred()) goto fail;
        /* arguments cannot be pickled: keep them in memory too */
        if (!out->mem_token && !(out->mem_token = new_token())) goto fail;
        tup = Py_BuildValue("(iOOOO)", format, fn_blob, Py_None, Py_None, out->mem_token);
        if (!tup) goto fail;
        payload =
            PyObject_CallFunctionObjArgs(sitqpy_pickle_dumps, tup, sitqpy_highest_protocol, NULL);
        Py_CLEAR(tup);
        if (!payload) goto fail;
        entry = Py_BuildValue("(OOO)", task->function, args, kwargs);
    }
    if (out->mem_token) {
        if (!entry || PyDict_SetItem(sitqpy_memfuncs, out->mem_token, entry) < 0) goto fail;
    }
    Py_XDECREF(entry);
    Py_DECREF(fn_blob);
    out->payload = payload;
    return 0;
fail:
    Py_XDECREF(fn_blob);
    Py_XDECREF(payload);
    Py_XDECREF(entry);
    Py_XDECREF(tup);
    return -1;
}

/* The payload of task: format 1, or format 2 with its sitq.result_of
 * placeholders replaced by the positions of their dependencies (the order
 * of prepare_options: the Task's ids, then enqueue's extra ids, which come
 * after every placeholder's, then its batch Tasks). 0, or -1 with the error
 * set. */
static int prepare_args(SitqTaskObject *task, sitqpy_prepared *out) {
    if (!task->has_refs) return prepare_payload(task, task->args, task->kwargs, 1, out);
    PyObject *mod = PyImport_ImportModule("sitq._result_of");
    if (!mod) return -1;
    PyObject *r =
        PyObject_CallMethod(mod, "encode", "OOO", task->args, task->kwargs, task->depends_on);
    Py_DECREF(mod);
    if (!r) return -1;
    int rc = -1;
    if (PyTuple_Check(r) && PyTuple_GET_SIZE(r) == 2)
        rc = prepare_payload(task, PyTuple_GET_ITEM(r, 0), PyTuple_GET_ITEM(r, 1), 2, out);
    else PyErr_SetString(PyExc_SystemError, "sitq._result_of.encode returned a bad value");
    Py_DECREF(r);
    return rc;
}

int sitqpy_prepare(SitqTaskObject *task, PyObject *extra_deps, int in_batch, sitqpy_prepared *out) {
    memset(out, 0, sizeof *out);
    sitq_task_options_init(&out->opts);
    if (!task->function) {
        sitqpy_invalid("task is not initialised (call sitq.Task(function, ...))");
        return -1;
    }
    if (prepare_options(task, extra_deps, in_batch, out) == 0 && prepare_args(task, out) == 0)
        return 0;
    Py_CLEAR(out->mem_token); /* not registered */
    sitqpy_prepared_clear(out);
    return -1;
}

void sitqpy_prepared_unregister(sitqpy_prepared *p) {
    if (p->mem_token) {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        if (PyDict_DelItem(sitqpy_memfuncs, p->mem_token) < 0) PyErr_Clear();
        PyErr_Restore(t, v, tb);
    }
}

void sitqpy_prepared_clear(sitqpy_prepared *p) {
    Py_CLEAR(p->payload);
    Py_CLEAR(p->mem_token);
    PyMem_RawFree(p->function);
    PyMem_RawFree(p->deps);
    PyMem_RawFree(p->unique_key);
    p->function = NULL;
    p->deps = NULL;
    p->unique_key = NULL;
    p->n_deps = 0;
}
