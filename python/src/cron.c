/*
 * cron.c - sitq._sitq._cron_times: fire times of a cron expression, the C
 * core's sitq_cron_next for Python (sitq.cron_next in sitq/_cron.py wraps
 * it with datetimes and the docstring users read).
 */
#include "sitqpy.h"

#include <string.h>

/* Largest count of fire times one call returns. */
#define CRON_TIMES_MAX 100000

/* A str argument as a C string without embedded NULs; NULL with an exception. */
static const char *c_string_arg(PyObject *obj, const char *what) {
    return sitqpy_utf8_arg(obj, what, NULL);
}

static PyObject *fire_times(const char *expr, const char *zone, long long after, long count) {
    sitq_error err;
    sitq_cron *cron = NULL;
    sitq_code rc = sitq_cron_parse(expr, &cron, &err);
    if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    PyObject *list = PyList_New(0);
    int64_t t = after;
    for (long i = 0; list && i < count; i++) {
        int64_t next = 0;
        rc = sitq_cron_next(cron, zone, t, &next, &err);
        if (rc != SITQ_OK) {
            Py_CLEAR(list);
            sitqpy_raise(rc, &err);
            break;
        }
        PyObject *v = PyLong_FromLongLong(next);
        if (!v || PyList_Append(list, v) < 0) Py_CLEAR(list);
        Py_XDECREF(v);
        t = next;
    }
    sitq_cron_free(cron);
    return list;
}

PyObject *sitqpy_cron_times(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *kwlist[] = {"expr", "after", "timezone", "count", NULL};
    PyObject *expr_o, *after_o, *zone_o = Py_None, *count_o = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OO:_cron_times", kwlist, &expr_o, &after_o,
                                     &zone_o, &count_o))
        return NULL;
    if (!PyUnicode_Check(expr_o)) return sitqpy_invalid("expr must be a str (a cron expression)");
    const char *expr = c_string_arg(expr_o, "expr");
    if (!expr) return NULL;
    const char *zone = NULL;
    if (zone_o != Py_None) {
        if (!PyUnicode_Check(zone_o)) return sitqpy_invalid("timezone must be a str or None");
        if (!(zone = c_string_arg(zone_o, "timezone"))) return NULL;
    }
    if (!PyLong_Check(after_o) || PyBool_Check(after_o))
        return sitqpy_invalid("after must be an int (Unix seconds)");
    int overflow = 0;
    long long after = PyLong_AsLongLongAndOverflow(after_o, &overflow);
    if (after == -1 && PyErr_Occurred()) return NULL;
    if (overflow) return sitqpy_invalid("after is outside the years 1..9999");
    long count = 1;
    if (count_o && sitqpy_int_arg(count_o, "count", 1, CRON_TIMES_MAX, &count) < 0) return NULL;
    return fire_times(expr, zone, after, count);
}
