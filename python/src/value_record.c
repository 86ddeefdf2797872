/*
 * value_record.c - a Python task's result as the binding stores and reads
 * it: the record of src/core/pyvalue.h (a bounded repr, then the pickle),
 * so that operators' tools show the value without Python.
 *
 * Writing costs one repr and one copy of the pickle into the record (the
 * copy libsitq's sitq_ctx_set_result would make anyway; the record is
 * handed over with sitq_ctx_take_result). The repr of the small values most
 * tasks return (None, bools, small ints, floats, short strings, and small
 * lists, tuples, dicts and sets of those) is made here in C, after a check
 * that reprlib would cut nothing of it, so the text is the same; any other
 * value goes through sitq/_valuerepr.py (reprlib with bounds, so that a
 * huge container costs little, about 10 us for a small dict). Reading accepts a record
 * and a bare pickle (results stored before records existed) alike.
 */
#include "sitqpy.h"

#include <stdlib.h>
#include <string.h>

#include "core/pyvalue.h"

/* A top-level str of up to FAST_STR_MAX characters has its repr made here,
 * kept when it is at most MAXSTRING characters, under which reprlib does
 * not cut it either (a repr can be ten times longer than its string:
 * "\U0001f600"). */
#define FAST_STR_MAX 100

/* The limits of sitq/_valuerepr.py within which reprlib cuts nothing, so
 * that repr() gives its text. */
#define MAXLEVEL  4   /* containers nested deeper show as "[...]" */
#define MAXITEMS  10  /* items of a list, tuple, set or frozenset */
#define MAXDICT   8   /* items of a dict */
#define MAXSTRING 120 /* characters of a str's repr */
/* A str inside a container passes without its repr made: at most 11
 * characters (repr at most 10 * 11 + 2), or 29 of ASCII (4 * 29 + 2). */
#define SAFE_STR       11
#define SAFE_ASCII_STR 29
/* Values visited at most, so that the check stays cheaper than reprlib. */
#define WALK_BUDGET 64

static int uncut(PyObject *v, int level, int *budget);

/* uncut() of the items of set v (iterated: sets have no public index). */
static int uncut_set(PyObject *v, int level, int *budget) {
    PyObject *it = PyObject_GetIter(v);
    if (!it) return 0;
    PyObject *item;
    int ok = 1;
    while (ok && (item = PyIter_Next(it)) != NULL) {
        ok = uncut(item, level - 1, budget);
        Py_DECREF(item);
    }
    Py_DECREF(it);
    return ok && !PyErr_Occurred();
}

/* 1 when reprlib, as sitq/_valuerepr.py sets it, would cut nothing of v
 * at nesting level `level` and its repr cannot raise: None, bools, floats,
 * ints of 64 bits, short strs, and exact lists, tuples, dicts, sets and
 * frozensets of such within the limits above. Runs no Python code. */
static int uncut(PyObject *v, int level, int *budget) {
    if (--*budget < 0) return 0;
    if (v == Py_None || PyBool_Check(v) || PyFloat_CheckExact(v)) return 1;
    if (PyLong_CheckExact(v)) {
        int overflow = 0;
        (void)PyLong_AsLongLongAndOverflow(v, &overflow);
        return overflow == 0; /* at most 20 characters */
    }
    if (PyUnicode_CheckExact(v))
        return PyUnicode_GET_LENGTH(v) <= SAFE_STR ||
               (PyUnicode_IS_ASCII(v) && PyUnicode_GET_LENGTH(v) <= SAFE_ASCII_STR);
    int set = PyAnySet_CheckExact(v), dict = PyDict_CheckExact(v);
    if (!set && !dict && !PyList_CheckExact(v) && !PyTuple_CheckExact(v)) return 0;
    Py_ssize_t n = PyObject_Length(v);
    if (n < 0 || n > (dict ? MAXDICT : MAXITEMS) || (n > 0 && level <= 0)) return 0;
    if (set) return uncut_set(v, level, budget);
    if (dict) {
        Py_ssize_t pos = 0;
        PyObject *k, *val;
        while (PyDict_Next(v, &pos, &k, &val))
            if (!uncut(k, level - 1, budget) || !uncut(val, level - 1, budget)) return 0;
        return 1;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (!uncut(PySequence_Fast_GET_ITEM(v, i), level - 1, budget)) return 0;
    return 1;
}

/* repr(v) made in C when it equals what sitq/_valuerepr.py would give
 * (before its cut at 200 characters, which repr_bytes makes), else NULL
 * without an error. */
static PyObject *fast_repr(PyObject *v) {
    if (PyUnicode_CheckExact(v) && PyUnicode_GET_LENGTH(v) <= FAST_STR_MAX) {
        PyObject *r = PyObject_Repr(v);
        if (r && PyUnicode_GET_LENGTH(r) > MAXSTRING) Py_CLEAR(r);
        return r;
    }
    int budget = WALK_BUDGET;
    return uncut(v, MAXLEVEL, &budget) ? PyObject_Repr(v) : NULL;
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
    PyObject *r = fast_repr(value);
    if (!r && !PyErr_Occurred()) r = slow_repr(value);
    if (r && PyUnicode_Check(r)) return r;
    Py_XDECREF(r);
    /* Ctrl-C and out of memory are not the repr's fault and must reach the
     * worker; anything else (SystemExit included) raised by a __repr__
     * would fail a task that succeeded, so it is shown, not raised. */
    if (PyErr_Occurred() && (PyErr_ExceptionMatches(PyExc_KeyboardInterrupt) ||
                             PyErr_ExceptionMatches(PyExc_MemoryError)))
        return NULL;
    PyErr_Clear();
    return PyUnicode_FromFormat("<unrepresentable %s>", Py_TYPE(value)->tp_name);
}

/* Characters that fit the record's SITQ__PYVALUE_REPR_MAX bytes whatever
 * they are: a lone surrogate, escaped, takes 6 bytes ("\ud800"). */
#define REPR_ESCAPED_CHARS (SITQ__PYVALUE_REPR_MAX / 6)

/* t as UTF-8 with lone surrogates escaped, cut shorter when that is over
 * SITQ__PYVALUE_REPR_MAX bytes (200 lone surrogates would be 1200, and the
 * record could not hold them). A new bytes object, or NULL with the error
 * set. */
static PyObject *fit_bytes(PyObject *t) {
    PyObject *b = PyUnicode_AsEncodedString(t, "utf-8", "backslashreplace");
    if (!b || PyBytes_GET_SIZE(b) <= SITQ__PYVALUE_REPR_MAX) return b;
    Py_DECREF(b);
    PyObject *cut = PyUnicode_Substring(t, 0, REPR_ESCAPED_CHARS - 3);
    PyObject *shorter = cut ? PyUnicode_FromFormat("%U...", cut) : NULL;
    Py_XDECREF(cut);
    b = shorter ? PyUnicode_AsEncodedString(shorter, "utf-8", "backslashreplace") : NULL;
    Py_XDECREF(shorter);
    return b;
}

/* text (a str) as the record's repr: at most SITQ__PYVALUE_REPR_CHARS
 * characters (fewer when escaped they would not fit, fit_bytes), NUL
 * spelled "\x00", UTF-8 with lone surrogates escaped. A new bytes object,
 * or NULL with the error set. */
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
    PyObject *b = fit_bytes(t);
    Py_DECREF(t);
    return b;
}

sitq_code sitqpy_store_record(sitq_task_ctx *ctx, PyObject *repr_text, const char *data, size_t n) {
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
