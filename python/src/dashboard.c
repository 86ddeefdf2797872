/*
 * dashboard.c - sitq._sitq._dashboard_main: `python -m sitq dashboard`, the
 * web dashboard of the sitq command (src/cli/cmd_dashboard.c, linked in
 * from the same static library), so that a user who installed only the
 * Python package has it, with the same options, pages and help.
 *
 * The dashboard's main runs with the GIL released (its pages are served on
 * threads of its own, which never call Python) and returns when SIGINT or
 * SIGTERM arrives: it blocks both signals in this thread and waits for them
 * with sigwait, so Python's own SIGINT handler does not see them (no
 * KeyboardInterrupt), and restores the signal mask before it returns.
 */
#include "sitqpy.h"

#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

/* Most arguments taken (the command has a handful of options). */
#define ARGS_MAX 64

/* Fill argv[0 .. n) with the file-system bytes of the strings of list
 * (held in refs, which the caller releases). 0, or -1 with an exception. */
static int args_from_list(PyObject *list, Py_ssize_t n, char **argv, PyObject **refs) {
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyUnicode_FSConverter(PyList_GET_ITEM(list, i), &refs[i])) return -1;
        argv[i] = PyBytes_AS_STRING(refs[i]);
    }
    return 0;
}

PyObject *sitqpy_dashboard_main(PyObject *self, PyObject *list) {
    (void)self;
    if (!PyList_Check(list)) return PyErr_Format(PyExc_TypeError, "arguments must be a list");
    Py_ssize_t n = PyList_GET_SIZE(list);
    if (n < 1) return PyErr_Format(PyExc_ValueError, "the first argument must be 'dashboard'");
    if (n > ARGS_MAX) { /* a command line the user typed: a usage error, as the command's */
        fprintf(stderr, "sitq dashboard: too many arguments (at most %d)\n", ARGS_MAX - 1);
        return PyLong_FromLong(CLI_EXIT_USAGE);
    }
    char *argv[ARGS_MAX + 1] = {NULL};
    PyObject *refs[ARGS_MAX] = {NULL};
    int rc = args_from_list(list, n, argv, refs);
    if (rc == 0) {
        fflush(stdout);
        Py_BEGIN_ALLOW_THREADS rc = cmd_dashboard((int)n, argv);
        fflush(stdout); /* --help's text, written by C stdio */
        fflush(stderr);
        Py_END_ALLOW_THREADS
    }
    for (Py_ssize_t i = 0; i < n; i++) Py_XDECREF(refs[i]);
    if (PyErr_Occurred()) return NULL;
    return PyLong_FromLong(rc);
}
