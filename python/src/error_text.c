/* error_text.c - Python text made storable as an attempt's error or
 * traceback, which the store keeps as C strings of UTF-8. */
#include "sitqpy.h"

PyObject *sitqpy_error_text(PyObject *s) {
    if (!s || !PyUnicode_Check(s)) return NULL;
    PyObject *nul = PyUnicode_FromStringAndSize("\0", 1);
    PyObject *esc = PyUnicode_FromString("\\x00");
    PyObject *clean = nul && esc ? PyObject_CallMethod(s, "replace", "OO", nul, esc) : NULL;
    Py_XDECREF(nul);
    Py_XDECREF(esc);
    PyObject *b = clean ? PyUnicode_AsEncodedString(clean, "utf-8", "backslashreplace") : NULL;
    Py_XDECREF(clean);
    if (!b) PyErr_Clear();
    return b;
}
