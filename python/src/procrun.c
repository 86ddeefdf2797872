/*
 * procrun.c - the hand-over of Python tasks to task processes (process mode).
 *
 * `python -m sitq worker --pool process` sets a task runner
 * (sitq._sitq._set_task_runner, a process-wide setting of that dedicated
 * process). The "py:*" handler then does not call the task's function in
 * this process: it checks the payload's envelope, marks the attempt's start
 * and calls the runner (sitq/_procpool.py) with the payload, on the handler
 * thread and with the task current (sitq.current_task() works in the
 * runner, which relays the task process's progress, heartbeats, dependency
 * reads and the cancel flag). The runner runs the task in a child process
 * it can kill, so leases, heartbeats, timeouts and the recording of the
 * outcome stay here, in the worker that claimed the task: a task process
 * that dies or is killed costs its attempt, never the task.
 */
#include "sitqpy.h"

static PyObject *task_runner; /* callable or NULL; GIL held */

int sitqpy_runner_active(void) { return task_runner != NULL; }

/* Store the runner's outcome: (True, pickle, repr) (a record of both; the
 * repr is made in the task process, which holds the value), (True, bytes)
 * (stored as they are) or (False, message, traceback or None[, retry]),
 * retry "none" (sitq.NoRetry) or a delay in seconds (sitq.Retry). The pickle
 * or bytes may be a bytes object or a bytearray (the task process's result
 * as the runner read it from the socket, not copied again). Returns 0 on
 * success, 1 with the attempt's error set. */
static int store_outcome(sitq_task_ctx *ctx, PyObject *out) {
    Py_ssize_t n = out && PyTuple_Check(out) ? PyTuple_GET_SIZE(out) : 0;
    PyObject *b = n == 2 || n == 3 ? PyTuple_GET_ITEM(out, 1) : NULL;
    if (b && PyTuple_GET_ITEM(out, 0) == Py_True && (PyBytes_Check(b) || PyByteArray_Check(b))) {
        /* The buffer export keeps a bytearray from being resized while
         * libsitq copies it without the GIL. */
        Py_buffer view;
        if (PyObject_GetBuffer(b, &view, PyBUF_SIMPLE) != 0) {
            PyErr_Clear();
            sitq_ctx_set_error(ctx, "cannot read the task process's result buffer", NULL);
            return 1;
        }
        sitq_code sc;
        if (n == 3) {
            sc = sitqpy_store_record(ctx, PyTuple_GET_ITEM(out, 2), view.buf, (size_t)view.len);
        } else {
            Py_BEGIN_ALLOW_THREADS sc = sitq_ctx_set_result(ctx, view.buf, (size_t)view.len);
            Py_END_ALLOW_THREADS
        }
        PyBuffer_Release(&view);
        if (sc == SITQ_OK) return 0;
        sitq_ctx_set_error(ctx, "MemoryError: out of memory while storing the result", NULL);
        return 1;
    }
    if ((n == 3 || n == 4) && PyTuple_GET_ITEM(out, 0) == Py_False &&
        PyUnicode_Check(PyTuple_GET_ITEM(out, 1))) {
        PyObject *retry = n == 4 ? PyTuple_GET_ITEM(out, 3) : Py_None;
        if (PyUnicode_Check(retry) && PyUnicode_CompareWithASCIIString(retry, "none") == 0)
            sitq_ctx_no_retry(ctx);
        else if (PyFloat_Check(retry))
            sitq_ctx_retry_after(ctx, PyFloat_AS_DOUBLE(retry)); /* checked when it was made */
        PyObject *mb = sitqpy_error_text(PyTuple_GET_ITEM(out, 1));
        PyObject *tb_b = sitqpy_error_text(PyTuple_GET_ITEM(out, 2));
        sitq_ctx_set_error(ctx, mb ? PyBytes_AS_STRING(mb) : "the task process failed",
                           tb_b ? PyBytes_AS_STRING(tb_b) : NULL);
        Py_XDECREF(mb);
        Py_XDECREF(tb_b);
        return 1;
    }
    sitq_ctx_set_error(ctx, "the task process runner returned a malformed outcome", NULL);
    return 1;
}

int sitqpy_run_by_runner(sitq_task_ctx *ctx, const void *payload, size_t payload_len) {
    if (sitqpy_check_payload(ctx, payload, payload_len) != 0) return 1;
    if (sitq_ctx_begin(ctx) != SITQ_OK) {
        sitq_ctx_set_error(ctx, "the lease was lost before the task started", NULL);
        return 1;
    }
    PyObject *runner = Py_NewRef(task_runner);
    PyObject *raw = PyBytes_FromStringAndSize(payload, (Py_ssize_t)payload_len);
    PyObject *out = raw ? PyObject_CallOneArg(runner, raw) : NULL;
    Py_DECREF(runner);
    Py_XDECREF(raw);
    if (!out) {
        PyObject *type, *exc, *tb;
        PyErr_Fetch(&type, &exc, &tb);
        PyErr_NormalizeException(&type, &exc, &tb);
        Py_XDECREF(type);
        Py_XDECREF(tb);
        PyObject *text = exc ? PyObject_Repr(exc) : NULL;
        const char *t = text ? PyUnicode_AsUTF8(text) : NULL;
        PyErr_Clear();
        char msg[512];
        snprintf(msg, sizeof msg, "the task process runner failed: %s", t ? t : "unknown error");
        sitq_ctx_set_error(ctx, msg, NULL);
        Py_XDECREF(text);
        Py_XDECREF(exc);
        return 1;
    }
    int rc = store_outcome(ctx, out);
    Py_DECREF(out);
    return rc;
}

PyDoc_STRVAR(set_task_runner_doc,
             "_set_task_runner(runner) -> None\n--\n\n"
             "Private (python -m sitq worker --pool process): from now on, the Python\n"
             "tasks of every Worker of this process are handed to runner(payload:\n"
             "bytes), called on the handler thread with the task current, which\n"
             "returns (True, pickled_result, repr_text) (stored as a record of both),\n"
             "(True, bytes) (stored as they are) or (False, message, traceback or\n"
             "None).\n"
             "None restores running tasks in this process. Raises TypeError for a\n"
             "runner that is not callable. Set it before starting workers.");

static PyObject *set_task_runner(PyObject *self, PyObject *arg) {
    (void)self;
    if (arg != Py_None && !PyCallable_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "runner must be callable or None, got %.100s",
                     Py_TYPE(arg)->tp_name);
        return NULL;
    }
    Py_XSETREF(task_runner, arg == Py_None ? NULL : Py_NewRef(arg));
    Py_RETURN_NONE;
}

static PyMethodDef procrun_methods[] = {
    {"_set_task_runner", set_task_runner, METH_O, set_task_runner_doc}, {NULL, NULL, 0, NULL}};

int sitqpy_procrun_init(PyObject *m) { return PyModule_AddFunctions(m, procrun_methods); }
