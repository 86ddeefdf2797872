/* queue_limits.c - TaskQueue.pause(), resume(), paused, set_limit(),
 * remove_limit() and limits(): the queue's stored pause and limits, which
 * every worker's claim obeys (sitq_queue_pause and friends). */
#include "sitqpy.h"

#include <string.h>

static int open_queue(SitqQueueObject *self) { return sitqpy_queue_ready(self); }

PyObject *sitqpy_queue_pause(SitqQueueObject *self, PyObject *unused) {
    (void)unused;
    if (open_queue(self) < 0) return NULL;
    sitq_error err = {0};
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc = sitq_queue_pause(self->queue, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    Py_RETURN_NONE;
}

PyObject *sitqpy_queue_resume(SitqQueueObject *self, PyObject *unused) {
    (void)unused;
    if (open_queue(self) < 0) return NULL;
    sitq_error err = {0};
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc = sitq_queue_resume(self->queue, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    Py_RETURN_NONE;
}

PyObject *sitqpy_queue_get_paused(SitqQueueObject *self, void *c) {
    (void)c;
    if (open_queue(self) < 0) return NULL;
    sitq_error err = {0};
    int paused = 0;
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc = sitq_queue_paused(self->queue, &paused, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    return PyBool_FromLong(paused);
}

static PyObject *set_limit(SitqQueueObject *self, const char *function, PyObject *conc,
                           const char *rate);

/* The stored function name a limit names: None (the whole queue), a str as
 * stored ("py:module.name" for Python tasks), or a task function, named as
 * enqueue names it. *name borrows from the new reference *holder (NULL for
 * None); -1 with the error set. */
static int limit_function(PyObject *f, PyObject **holder, const char **name) {
    *holder = NULL;
    *name = NULL;
    if (f == Py_None) return 0;
    if (PyUnicode_Check(f)) *holder = Py_NewRef(f);
    else if (PyCallable_Check(f)) *holder = sitqpy_function_name(f);
    else {
        sitqpy_invalid("function must be a task function, its stored name (str) or None");
        return -1;
    }
    if (!*holder) return -1;
    *name = sitqpy_utf8_arg(*holder, "function name", NULL);
    if (!*name) Py_CLEAR(*holder);
    return *name ? 0 : -1;
}

PyObject *sitqpy_queue_set_limit(SitqQueueObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"function", "concurrency", "rate", NULL};
    const char *function = NULL, *rate = NULL;
    PyObject *conc = Py_None, *fobj = Py_None, *rate_obj = Py_None, *holder = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O$OO:set_limit", kwlist, &fobj, &conc,
                                     &rate_obj))
        return NULL;
    if (rate_obj != Py_None) {
        if (!PyUnicode_Check(rate_obj))
            return sitqpy_invalid("rate must be a str such as '10/s' or None, got %.100s",
                                  Py_TYPE(rate_obj)->tp_name);
        if (!(rate = sitqpy_utf8_arg(rate_obj, "rate", NULL))) return NULL;
        /* The library reads "" as no rate, which would remove the limit. */
        if (!*rate) return sitqpy_invalid("rate must be 'COUNT/INTERVAL' such as '10/s', got ''");
    }
    if (open_queue(self) < 0) return NULL;
    if (limit_function(fobj, &holder, &function) < 0) return NULL;
    PyObject *res = set_limit(self, function, conc, rate);
    Py_XDECREF(holder);
    return res;
}

static PyObject *set_limit(SitqQueueObject *self, const char *function, PyObject *conc,
                           const char *rate) {
    long long n = 0;
    if (conc != Py_None) {
        if (!PyLong_Check(conc) || PyBool_Check(conc))
            return sitqpy_invalid("concurrency must be an int or None");
        n = PyLong_AsLongLong(conc);
        if (n == -1 && PyErr_Occurred()) PyErr_Clear();
        if (n < 1 || n > 1000000000LL)
            return PyErr_Format(sitqpy_InvalidArgument,
                                "concurrency must be 1..1000000000 running tasks, got %R", conc);
    }
    if (conc == Py_None && !rate)
        return sitqpy_invalid("set_limit needs concurrency or rate (remove_limit removes one)");
    sitq_error err = {0};
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc = sitq_queue_set_limit(self->queue, function, n, rate, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    Py_RETURN_NONE;
}

PyObject *sitqpy_queue_remove_limit(SitqQueueObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"function", NULL};
    const char *function = NULL;
    PyObject *fobj = Py_None, *holder = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:remove_limit", kwlist, &fobj)) return NULL;
    if (open_queue(self) < 0) return NULL;
    if (limit_function(fobj, &holder, &function) < 0) return NULL;
    sitq_error err = {0};
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc = sitq_queue_remove_limit(self->queue, function, &err);
    Py_END_ALLOW_THREADS Py_XDECREF(holder);
    if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    Py_RETURN_NONE;
}

PyObject *sitqpy_queue_limits(SitqQueueObject *self, PyObject *unused) {
    (void)unused;
    if (open_queue(self) < 0) return NULL;
    sitq_error err = {0};
    sitq_limit *l = NULL;
    size_t n = 0;
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc = sitq_queue_limits(self->queue, &l, &n, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *d =
            Py_BuildValue("{s:z, s:O, s:L, s:L, s:d}", "function", l[i].function, "paused",
                          l[i].paused ? Py_True : Py_False, "concurrency",
                          (long long)l[i].concurrency, "rate_count", (long long)l[i].rate_count,
                          "rate_interval", (double)l[i].rate_interval_us / 1e6);
        if (!d) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, d);
    }
    sitq_limits_free(l, n);
    return list;
}
