/*
 * module.c - the sitq._sitq module: initialisation, cached helpers, the
 * mapping from sitq error codes to the Python exception hierarchy, argument
 * helpers, datetime conversion and the registry of running workers.
 */
#include "sitqpy.h"

#include <datetime.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

PyObject *sitqpy_pickle_dumps;
PyObject *sitqpy_pickle_loads;
PyObject *sitqpy_cloudpickle_dumps;
PyObject *sitqpy_format_exception;
PyObject *sitqpy_format_exception_only;
PyObject *sitqpy_epoch;
PyObject *sitqpy_highest_protocol;
PyObject *sitqpy_Error;
PyObject *sitqpy_InvalidArgument;
PyObject *sitqpy_TaskTimeout;
PyObject *sitqpy_SerializationError;
PyObject *sitqpy_Retry;
PyObject *sitqpy_NoRetry;
PyObject *sitqpy_memfuncs;
atomic_int sitqpy_finalizing;

static PyObject *errors_by_code;  /* dict: "SITQ_EINVAL" -> class */
static PyObject *running_workers; /* set of running Worker objects */

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

static PyObject *raise_class(PyObject *cls, const char *code_name, const char *message) {
    PyObject *exc = PyObject_CallFunction(cls, "ss", message, code_name);
    if (exc) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}

PyObject *sitqpy_raise(sitq_code code, const sitq_error *err) {
    if (code == SITQ_ENOMEM) return PyErr_NoMemory();
    const char *name = sitq_code_name(code);
    const char *msg = (err && err->message[0]) ? err->message : name;
    PyObject *cls = errors_by_code ? PyDict_GetItemString(errors_by_code, name) : NULL;
    if (!cls) cls = sitqpy_Error ? sitqpy_Error : PyExc_RuntimeError;
    if (cls == PyExc_RuntimeError) {
        PyErr_SetString(cls, msg);
        return NULL;
    }
    return raise_class(cls, name, msg);
}

PyObject *sitqpy_invalid(const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (!sitqpy_InvalidArgument) {
        PyErr_SetString(PyExc_ValueError, buf);
        return NULL;
    }
    return raise_class(sitqpy_InvalidArgument, "SITQ_EINVAL", buf);
}

/*
 * Check that sitq.errors.BY_CODE has a class for every code of libsitq's
 * table (SITQ_ERRNO_MAP), so that a code added in C without a Python class
 * fails the import instead of raising the base class; and publish the table
 * as ERROR_CODES {"SITQ_EINVAL": (1, "invalid argument"), ...} (for tests
 * and tools). Returns 0, or -1 with an exception set.
 */
static int add_error_codes(PyObject *m) {
    PyObject *codes = PyDict_New();
    if (!codes) return -1;
    int rc = 0;
#define SITQPY_ADD_CODE(name, value, message)                                                      \
    if (rc == 0 && !PyDict_GetItemString(errors_by_code, "SITQ_" #name)) {                         \
        PyErr_SetString(PyExc_ImportError, "sitq.errors.BY_CODE has no class for SITQ_" #name);    \
        rc = -1;                                                                                   \
    }                                                                                              \
    if (rc == 0) {                                                                                 \
        PyObject *entry = Py_BuildValue("(is)", value, message);                                   \
        if (!entry || PyDict_SetItemString(codes, "SITQ_" #name, entry) < 0) rc = -1;              \
        Py_XDECREF(entry);                                                                         \
    }
    SITQ_ERRNO_MAP(SITQPY_ADD_CODE)
#undef SITQPY_ADD_CODE
    if (rc == 0 && PyModule_AddObject(m, "ERROR_CODES", codes) == 0) return 0;
    Py_DECREF(codes);
    return -1;
}

/* ------------------------------------------------------------------ */
/* Argument helpers                                                    */
/* ------------------------------------------------------------------ */

int sitqpy_seconds_arg(PyObject *obj, const char *what, double dflt, int allow_none, double *out) {
    if (obj == NULL || (obj == Py_None && allow_none)) {
        *out = dflt;
        return 0;
    }
    if (PyBool_Check(obj) || !(PyFloat_Check(obj) || PyLong_Check(obj))) {
        sitqpy_invalid("%s must be a number of seconds%s, got %.100s", what,
                       allow_none ? " or None" : "", Py_TYPE(obj)->tp_name);
        return -1;
    }
    double v = PyFloat_AsDouble(obj);
    if (v == -1.0 && PyErr_Occurred()) return -1;
    if (!isfinite(v) || v < 0 || v > SITQ_SECONDS_MAX) {
        sitqpy_invalid("%s must be a finite number of seconds 0..%.0f (100 years), got %g", what,
                       SITQ_SECONDS_MAX, v);
        return -1;
    }
    *out = v;
    return 0;
}

int sitqpy_keep_arg(PyObject *obj, const char *what, double dflt, double *out) {
    if (obj == NULL || obj == Py_None) {
        *out = dflt;
        return 0;
    }
    if (PyUnicode_Check(obj) && PyUnicode_CompareWithASCIIString(obj, "forever") == 0) {
        *out = SITQ_KEEP_FOREVER;
        return 0;
    }
    if (PyBool_Check(obj) || !(PyFloat_Check(obj) || PyLong_Check(obj))) {
        sitqpy_invalid("%s must be a number of seconds, \"forever\" or None, got %.100s", what,
                       Py_TYPE(obj)->tp_name);
        return -1;
    }
    double v = PyFloat_AsDouble(obj);
    if (v == -1.0 && PyErr_Occurred()) return -1;
    if (!isfinite(v) || v <= 0 || v > SITQ_SECONDS_MAX) {
        sitqpy_invalid("%s must be > 0 and at most %.0f seconds (100 years), or \"forever\", "
                       "got %g",
                       what, SITQ_SECONDS_MAX, v);
        return -1;
    }
    *out = v;
    return 0;
}

PyObject *sitqpy_keep_value(double s) {
    return s < 0 ? PyUnicode_FromString("forever") : PyFloat_FromDouble(s);
}

const char *sitqpy_utf8_arg(PyObject *obj, const char *what, Py_ssize_t *len) {
    Py_ssize_t n = 0;
    const char *s = PyUnicode_AsUTF8AndSize(obj, &n);
    if (!s) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) return NULL;
        PyErr_Clear();
        PyObject *r = PyObject_ASCII(obj);
        const char *shown = r ? PyUnicode_AsUTF8(r) : NULL;
        sitqpy_invalid("%s must be text that UTF-8 can encode (no lone surrogates), got %.200s",
                       what, shown ? shown : "?");
        Py_XDECREF(r);
        return NULL;
    }
    /* Without len the caller uses s as a C string: an embedded NUL would
     * cut it short silently (another schema, another schedule's name). */
    if (!len && (size_t)n != strlen(s)) {
        sitqpy_invalid("%s must not contain NUL characters", what);
        return NULL;
    }
    if (len) *len = n;
    return s;
}

int sitqpy_bool_arg(PyObject *obj, const char *what) {
    if (obj == Py_True) return 1;
    if (obj == Py_False) return 0;
    sitqpy_invalid("%s must be True or False, got %.100s", what, Py_TYPE(obj)->tp_name);
    return -1;
}

int sitqpy_int_arg(PyObject *obj, const char *what, long lo, long hi, long *out) {
    if (!PyLong_Check(obj) || PyBool_Check(obj)) {
        sitqpy_invalid("%s must be an int %ld..%ld, got %.100s", what, lo, hi,
                       Py_TYPE(obj)->tp_name);
        return -1;
    }
    int overflow = 0;
    long v = PyLong_AsLongAndOverflow(obj, &overflow);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (overflow || v < lo || v > hi) {
        PyObject *r = PyObject_Repr(obj);
        const char *shown = r ? PyUnicode_AsUTF8(r) : NULL;
        if (!shown) PyErr_Clear();
        sitqpy_invalid("%s must be %ld..%ld, got %.60s%s", what, lo, hi, shown ? shown : "?",
                       shown && strlen(shown) > 60 ? "..." : "");
        Py_XDECREF(r);
        return -1;
    }
    *out = v;
    return 0;
}

int sitqpy_task_id_arg(PyObject *obj, const char *what, sitq_task_id *out) {
    if (!PyLong_Check(obj) || PyBool_Check(obj)) {
        sitqpy_invalid("%s must be an int task id, got %.100s", what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (overflow || v <= 0) {
        PyErr_Clear();
        PyObject *r = PyObject_Repr(obj);
        sitqpy_invalid("%s must be a positive task id, got %s", what,
                       r ? PyUnicode_AsUTF8(r) : "?");
        Py_XDECREF(r);
        return -1;
    }
    *out = (sitq_task_id)v;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Datetimes                                                           */
/* ------------------------------------------------------------------ */

PyObject *sitqpy_datetime_from_us(sitq_time_us us) {
    if (us == 0) Py_RETURN_NONE;
    long long days = us / 86400000000LL;
    long long rem = us % 86400000000LL;
    if (rem < 0) {
        rem += 86400000000LL;
        days -= 1;
    }
    PyObject *delta = PyDelta_FromDSU((int)days, (int)(rem / 1000000), (int)(rem % 1000000));
    if (!delta) return NULL;
    PyObject *dt = PyNumber_Add(sitqpy_epoch, delta);
    Py_DECREF(delta);
    return dt;
}

/* eta: datetime (aware; naive means local time, as datetime.timestamp()) or
 * a number of seconds since the Unix epoch. */
int sitqpy_eta_arg(PyObject *obj, sitq_time_us *out) {
    double secs;
    if (PyDateTime_Check(obj)) {
        PyObject *ts = PyObject_CallMethod(obj, "timestamp", NULL);
        if (!ts) { /* a datetime near year 1 or 9999 has no timestamp */
            PyErr_Clear();
            sitqpy_invalid("eta must be a time after 1970 and at most 100 years from now, got "
                           "a datetime with no Unix timestamp");
            return -1;
        }
        secs = PyFloat_AsDouble(ts);
        Py_DECREF(ts);
        if (secs == -1.0 && PyErr_Occurred()) return -1;
    } else if ((PyFloat_Check(obj) || PyLong_Check(obj)) && !PyBool_Check(obj)) {
        secs = PyFloat_AsDouble(obj);
        if (secs == -1.0 && PyErr_Occurred()) return -1;
    } else {
        sitqpy_invalid("eta must be a datetime or a Unix time in seconds, got %.100s",
                       Py_TYPE(obj)->tp_name);
        return -1;
    }
    /* At most SITQ_SECONDS_MAX (100 years) ahead, as the C API's eta_us. */
    double now = (double)time(NULL);
    if (!isfinite(secs) || secs <= 0 || secs - now > SITQ_SECONDS_MAX) {
        sitqpy_invalid("eta must be a time after 1970 and at most 100 years from now "
                       "(Unix seconds), got %g seconds",
                       secs);
        return -1;
    }
    *out = (sitq_time_us)llround(secs * 1e6);
    if (*out <= 0) *out = 1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Running workers                                                     */
/* ------------------------------------------------------------------ */

int sitqpy_track_worker(PyObject *worker) { return PySet_Add(running_workers, worker); }

void sitqpy_untrack_worker(PyObject *worker) {
    if (PySet_Discard(running_workers, worker) < 0) PyErr_Clear();
}

PyDoc_STRVAR(shutdown_doc,
             "_shutdown()\n--\n\n"
             "Stop every running worker as Worker.stop() does (running tasks finish;\n"
             "tasks stuck past their timeout are abandoned after the grace) and refuse\n"
             "to run further Python tasks. Ctrl-C while it waits abandons the running\n"
             "tasks of every worker. Registered with atexit by the sitq package so that\n"
             "worker threads never call into a finalising interpreter.");

static PyObject *mod_shutdown(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    PyObject *list = PySequence_List(running_workers);
    if (!list) return NULL;
    int interrupted = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); i++) {
        PyObject *w = PyList_GET_ITEM(list, i);
        if (interrupted) {
            sitqpy_worker_abandon(w);
            continue;
        }
        PyObject *r = PyObject_CallMethod(w, "stop", NULL);
        if (!r && PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
            /* the user does not want to wait: abandon the others too */
            PyErr_Clear();
            interrupted = 1;
            PySys_WriteStderr("sitq: interrupted while stopping workers at exit; their "
                              "running tasks were abandoned (recorded as failed)\n");
        } else if (!r) {
            PyErr_WriteUnraisable(w);
        }
        Py_XDECREF(r);
    }
    Py_DECREF(list);
    atomic_store(&sitqpy_finalizing, 1);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(function_name_doc,
             "function_name(func) -> str\n--\n\n"
             "The readable reference stored in the database for a callable, e.g.\n"
             "'py:__main__.DataPipeline.extract_data' (what `sitq list` shows).");

static PyObject *mod_function_name(PyObject *self, PyObject *func) {
    (void)self;
    return sitqpy_function_name(func);
}

PyDoc_STRVAR(held_doc, "held_functions() -> int\n--\n\n"
                       "Number of task functions currently held in this process's memory because\n"
                       "they could not be pickled (diagnostics).");

static PyObject *mod_held(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    return PyLong_FromSsize_t(PyDict_Size(sitqpy_memfuncs));
}

PyDoc_STRVAR(status_names_doc,
             "status_names() -> tuple\n--\n\n"
             "The task status names, in the order of their stored values:\n"
             "('queued', 'waiting', 'scheduled', 'running', 'succeeded', 'failed', 'cancelled').");

static PyObject *mod_status_names(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    PyObject *t = PyTuple_New(SITQ_STATUS_COUNT);
    if (!t) return NULL;
    for (int i = 0; i < SITQ_STATUS_COUNT; i++) {
        PyObject *s = PyUnicode_FromString(sitq_status_name(i));
        if (!s) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, s);
    }
    return t;
}

static PyMethodDef module_methods[] = {
    {"_shutdown", mod_shutdown, METH_NOARGS, shutdown_doc},
    {"function_name", mod_function_name, METH_O, function_name_doc},
    {"held_functions", mod_held, METH_NOARGS, held_doc},
    {"status_names", mod_status_names, METH_NOARGS, status_names_doc},
    {"_schedule_add", sitqpy_schedule_add, METH_VARARGS,
     "_schedule_add(queue, name, task, cron, every, timezone, skip_missed, allow_overlap,"
     " paused) -> datetime\n--\n\nStore a schedule (see sitq.TaskQueue.schedule)."},
    {"_schedule_list", sitqpy_schedule_list, METH_O,
     "_schedule_list(queue) -> list\n--\n\nThe queue's schedules (see "
     "sitq.TaskQueue.schedules)."},
    {"_schedule_set", sitqpy_schedule_set, METH_VARARGS,
     "_schedule_set(queue, name, what)\n--\n\nRemove (0), pause (1) or resume (2) a "
     "schedule."},
    {"_cron_times", (PyCFunction)(void (*)(void))sitqpy_cron_times, METH_VARARGS | METH_KEYWORDS,
     "_cron_times(expr, after, timezone=None, count=1) -> list\n--\n\n"
     "The next `count` fire times (Unix seconds) of a cron expression after Unix time\n"
     "`after`, each after the previous one; see sitq.cron_next."},
    {"_result_restore", sitqpy_result_restore, METH_O,
     "_result_restore(state) -> Result\n--\n\nRebuild a pickled sitq.Result (see "
     "Result.__reduce__)."},
    {"_dashboard_main", sitqpy_dashboard_main, METH_O,
     "_dashboard_main(args) -> int\n--\n\nServe the web dashboard as `sitq dashboard` does, "
     "args its\ncommand line from 'dashboard' on, until SIGINT or SIGTERM; its exit status."},
    {NULL, NULL, 0, NULL}};

PyDoc_STRVAR(module_doc, "Low-level binding of libsitq, the C core of the sitq task queue.\n\n"
                         "Use the `sitq` package, which re-exports these types with the exception\n"
                         "hierarchy; this module is its implementation.");

static struct PyModuleDef sitq_module = {
    PyModuleDef_HEAD_INIT, "sitq._sitq", module_doc, -1, module_methods, NULL, NULL, NULL, NULL};

static PyObject *import_attr(const char *module, const char *attr, int optional) {
    PyObject *m = PyImport_ImportModule(module);
    if (!m) {
        if (optional) {
            PyErr_Clear();
            return NULL;
        }
        return NULL;
    }
    PyObject *a = PyObject_GetAttrString(m, attr);
    Py_DECREF(m);
    if (!a && optional) PyErr_Clear();
    return a;
}

static int add_type(PyObject *m, PyTypeObject *t, const char *name) {
    if (PyType_Ready(t) < 0) return -1;
    Py_INCREF(t);
    if (PyModule_AddObject(m, name, (PyObject *)t) < 0) {
        Py_DECREF(t);
        return -1;
    }
    return 0;
}

PyMODINIT_FUNC PyInit__sitq(void) {
    PyDateTime_IMPORT;
    if (!PyDateTimeAPI) return NULL;
    PyObject *m = PyModule_Create(&sitq_module);
    if (!m) return NULL;

    if (!(sitqpy_pickle_dumps = import_attr("pickle", "dumps", 0)) ||
        !(sitqpy_pickle_loads = import_attr("pickle", "loads", 0)) ||
        !(sitqpy_highest_protocol = import_attr("pickle", "HIGHEST_PROTOCOL", 0)) ||
        !(sitqpy_format_exception = import_attr("traceback", "format_exception", 0)) ||
        !(sitqpy_format_exception_only = import_attr("traceback", "format_exception_only", 0)))
        goto fail;
    sitqpy_cloudpickle_dumps = import_attr("cloudpickle", "dumps", 1);

    sitqpy_epoch = PyDateTimeAPI->DateTime_FromDateAndTime(
        1970, 1, 1, 0, 0, 0, 0, PyDateTimeAPI->TimeZone_UTC, PyDateTimeAPI->DateTimeType);
    if (!sitqpy_epoch) goto fail;

    /* The exception hierarchy lives in sitq/errors.py (plain Python). */
    if (!(sitqpy_Error = import_attr("sitq.errors", "SitqError", 0)) ||
        !(sitqpy_InvalidArgument = import_attr("sitq.errors", "InvalidArgumentError", 0)) ||
        !(sitqpy_TaskTimeout = import_attr("sitq.errors", "TaskTimeoutError", 0)) ||
        !(sitqpy_SerializationError = import_attr("sitq.errors", "SerializationError", 0)) ||
        !(sitqpy_Retry = import_attr("sitq.errors", "Retry", 0)) ||
        !(sitqpy_NoRetry = import_attr("sitq.errors", "NoRetry", 0)) ||
        !(errors_by_code = import_attr("sitq.errors", "BY_CODE", 0)))
        goto fail;

    if (add_error_codes(m) < 0) goto fail;

    if (!(sitqpy_memfuncs = PyDict_New()) || !(running_workers = PySet_New(NULL))) goto fail;

    SitqPgBackend_Type.tp_base = &SitqBackend_Type;
    if (add_type(m, &SitqBackend_Type, "SQLiteBackend") < 0 ||
        add_type(m, &SitqPgBackend_Type, "PostgresBackend") < 0 ||
        add_type(m, &SitqQueue_Type, "TaskQueue") < 0 ||
        add_type(m, &SitqWorker_Type, "Worker") < 0 || add_type(m, &SitqTask_Type, "Task") < 0 ||
        add_type(m, &SitqResult_Type, "Result") < 0)
        goto fail;
    if (sitqpy_current_init(m) < 0 || sitqpy_tasklog_init(m) < 0 || sitqpy_procrun_init(m) < 0 ||
        sitqpy_watch_init(m) < 0)
        goto fail;
    if (PyModule_AddStringConstant(m, "LIBSITQ_VERSION", SITQ_VERSION) < 0 ||
        PyModule_AddIntConstant(m, "HAS_CLOUDPICKLE", sitqpy_cloudpickle_dumps != NULL) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
