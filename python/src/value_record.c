/*
 * value_record.c - a Python task's result as the binding stores and reads
 * it: the record of src/core/pyvalue.h (a bounded repr, then the pickle),
 * so that operators' tools show the value without Python.
 *
 * Writing costs one repr and one copy of the pickle into the record (the
 * copy libsitq's sitq_ctx_set_result would make anyway; the record is
 * handed over with sitq_ctx_take_result). The repr of the small values most
 * tasks return (None, bools, small ints, floats, short strings) is made
 * here in C; any other value goes through sitq/_valuerepr.py (reprlib with
 * bounds, so that a huge container costs little). Reading accepts a record
 * and a bare pickle (results stored before records existed) alike.
 */
#include "sitqpy.h"

#include <stdlib.h>
#include <string.h>

#include "core/pyvalue.h"

/* Strings up to FAST_STR_MAX characters have their repr made here, kept
 * when it is at most FAST_STR_REPR characters: maxstring of
 * sitq/_valuerepr.py, under which reprlib does not cut it either (a repr
 * can be ten times longer than its string: "\U0001f600"). */
#define FAST_STR_MAX  100
#define FAST_STR_REPR 120

/* 1 when repr(v) is short and cannot raise: made in C. */
static int fast_repr_ok(PyObject *v) {
    if (v == Py_None || PyBool_Check(v) || PyFloat_CheckExact(v)) return 1;
    if (PyLong_CheckExact(v)) {
        int overflow = 0;
        (void)PyLong_AsLongLongAndOverflow(v, &overflow);
        return overflow == 0; /* at most 20 characters */
    }
    return PyUnicode_CheckExact(v) && PyUnicode_GET_LENGTH(v) <= FAST_STR_MAX;
}

/* sitq._valuerepr.bounded_repr(v), or NULL with the error set. */
static PyObject *slow_repr(PyObject *v) {
    static PyObject *fn; /* kept: the GIL is held */
    if (!fn) {
        PyObject *mod = PyImport_ImportModule("sitq._valuerepr");
        fn = mod ? PyObject_GetAttrString(mod, "bounded_repr") : NULL;
        Py_XDECREF(mod);
        if (!fn) return NULL;
    }
    return PyObject_CallOneArg(fn, v);
}

PyObject *sitqpy_value_repr(PyObject *value) {
    PyObject *r = fast_repr_ok(value) ? PyObject_Repr(value) : NULL;
    if (r && PyUnicode_Check(value) && PyUnicode_GET_LENGTH(r) > FAST_STR_REPR) Py_CLEAR(r);
    if (!r && !PyErr_Occurred()) r = slow_repr(value);
    if (r && PyUnicode_Check(r)) return r;
    Py_XDECREF(r);
    if (PyErr_Occurred() &&
        (!PyErr_ExceptionMatches(PyExc_Exception) || PyErr_ExceptionMatches(PyExc_MemoryError)))
        return NULL; /* KeyboardInterrupt, out of memory: not the repr's fault */
    PyErr_Clear();
    return PyUnicode_FromFormat("<unrepresentable %s>", Py_TYPE(value)->tp_name);
}

/* text (a str) as the record's repr: at most SITQ__PYVALUE_REPR_CHARS
 * characters, NUL spelled "\x00", UTF-8 with lone surrogates escaped.
 * A new bytes object, or NULL with the error set. */
static PyObject *repr_bytes(PyObject *text) {
    PyObject *t = Py_NewRef(text);
    if (PyUnicode_GET_LENGTH(t) > SITQ__PYVALUE_REPR_CHARS) {
        PyObject *cut = PyUnicode_Substring(t, 0, SITQ__PYVALUE_REPR_CHARS - 3);
        Py_SETREF(t, cut ? PyUnicode_FromFormat("%U...", cut) : NULL);
        Py_XDECREF(cut);
        if (!t) return NULL;
    }
    if (PyUnicode_FindChar(t, 0, 0, PyUnicode_GET_LENGTH(t), 1) >= 0) {
        PyObject *nul = PyUnicode_FromStringAndSize("\0", 1);
        PyObject *esc = PyUnicode_FromString("\\x00");
        PyObject *rep = nul && esc ? PyUnicode_Replace(t, nul, esc, -1) : NULL;
        Py_XDECREF(nul);
        Py_XDECREF(esc);
        Py_SETREF(t, rep);
        if (!t) return NULL;
    }
    PyObject *b = PyUnicode_AsEncodedString(t, "utf-8", "backslashreplace");
    Py_DECREF(t);
    return b;
}

sitq_code sitqpy_store_record(sitq_task_ctx *ctx, PyObject *repr_text, PyObject *pickled) {
    const char *data = PyBytes_AS_STRING(pickled);
    size_t n = (size_t)PyBytes_GET_SIZE(pickled);
    PyObject *rb = repr_text && PyUnicode_Check(repr_text) ? repr_bytes(repr_text) : NULL;
    if (!rb) PyErr_Clear(); /* then the record carries an empty repr */
    const char *rs = rb ? PyBytes_AS_STRING(rb) : "";
    size_t rn = rb ? (size_t)PyBytes_GET_SIZE(rb) : 0;
    sitq_code sc;
    Py_BEGIN_ALLOW_THREADS size_t len = 0;
    void *rec = sitq__pyvalue_build(rs, rn, data, n, &len);
    /* no record: not a pickle of protocol 2..5 (not written by pickle.dumps
     * of this binding), or out of memory; the bare bytes are stored then */
    sc = rec ? sitq_ctx_take_result(ctx, rec, len) : sitq_ctx_set_result(ctx, data, n);
    Py_END_ALLOW_THREADS Py_XDECREF(rb);
    return sc;
}

/* The stored bytes' pickle part: *pickle and *len set, or -1 with
 * SerializationError set for a malformed record of task id. */
int sitqpy_record_pickle(PyObject *raw, long long id, const char **pickle, Py_ssize_t *len) {
    sitq__pyvalue pv;
    char why[96];
    sitq__pyvalue_kind k = sitq__pyvalue_parse(PyBytes_AS_STRING(raw),
                                               (size_t)PyBytes_GET_SIZE(raw), &pv, why, sizeof why);
    if (k == SITQ__PYVALUE_BAD) {
        PyObject *exc = PyObject_CallFunction(
            sitqpy_SerializationError, "Ns",
            PyUnicode_FromFormat("the stored result of task %lld is malformed: %s", id, why),
            "SITQ_ESERIALIZE");
        if (exc) {
            PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
            Py_DECREF(exc);
        }
        return -1;
    }
    if (k == SITQ__PYVALUE_RECORD) {
        *pickle = (const char *)pv.pickle;
        *len = (Py_ssize_t)pv.pickle_len;
    } else { /* a bare pickle, or bytes pickle.loads will refuse with its own message */
        *pickle = PyBytes_AS_STRING(raw);
        *len = PyBytes_GET_SIZE(raw);
    }
    return 0;
}

PyObject *sitqpy_record_repr(PyObject *raw) {
    sitq__pyvalue pv;
    if (!raw || sitq__pyvalue_parse(PyBytes_AS_STRING(raw), (size_t)PyBytes_GET_SIZE(raw), &pv,
                                    NULL, 0) != SITQ__PYVALUE_RECORD)
        Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(pv.repr, (Py_ssize_t)pv.repr_len, "replace");
}
