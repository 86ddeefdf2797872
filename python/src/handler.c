/*
 * handler.c - the libsitq handler that runs Python tasks ("py:*").
 *
 * Called on a worker's handler thread (or, for Worker.process_task, on the
 * caller's thread with the GIL released). It takes the GIL only while Python
 * runs: decoding the payload, calling the function and pickling its result.
 * See task.c for the payload format.
 */
#include "sitqpy.h"
#include "envelope.h"

#include <string.h>
#include <unistd.h>

static _Thread_local int tl_interrupted;

int sitqpy_take_interrupt(void) {
    int v = tl_interrupted;
    tl_interrupted = 0;
    return v;
}

static PyObject *exc_type_name(PyObject *type) {
    if (!type || !PyType_Check(type)) return PyUnicode_FromString("Exception");
    return PyType_GetQualName((PyTypeObject *)type);
}

/* tbtext (a str, consumed) followed by the line that carries the pickled
 * exception for Result.unwrap() (sitq/_remote.py), when exc can be pickled;
 * else tbtext unchanged. Never fails: errors are cleared. */
static PyObject *with_exception_line(PyObject *tbtext, PyObject *exc) {
    PyObject *mod = PyImport_ImportModule("sitq._remote");
    PyObject *line = mod ? PyObject_CallMethod(mod, "exception_line", "O", exc) : NULL;
    Py_XDECREF(mod);
    if (line && PyUnicode_Check(line)) {
        PyObject *joined = PyUnicode_Concat(tbtext, line);
        if (joined) Py_SETREF(tbtext, joined);
    }
    Py_XDECREF(line);
    PyErr_Clear();
    return tbtext;
}

void sitqpy_apply_retry_choice(sitq_task_ctx *ctx, PyObject *exc) {
    if (PyObject_IsInstance(exc, sitqpy_NoRetry) == 1) {
        sitq_ctx_no_retry(ctx);
    } else if (PyObject_IsInstance(exc, sitqpy_Retry) == 1) {
        PyObject *d = PyObject_GetAttrString(exc, "delay");
        double s = d && d != Py_None ? PyFloat_AsDouble(d) : -1;
        if (s >= 0) sitq_ctx_retry_after(ctx, s); /* checked when it was made */
        Py_XDECREF(d);
    }
    PyErr_Clear();
}

/* Record the current Python exception as the attempt's error:
 * "[prefix: ]Type: message" and the formatted traceback. Clears it. When
 * the function itself raised (no prefix), the pickled exception rides
 * along for Result.unwrap(). */
static void set_error_from_exception(sitq_task_ctx *ctx, const char *prefix) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value && tb) PyException_SetTraceback(value, tb);
    if (type && PyErr_GivenExceptionMatches(type, PyExc_KeyboardInterrupt)) tl_interrupted = 1;

    PyObject *msg = NULL, *tbtext = NULL;
    /* message: the last line of format_exception_only (handles unprintable
       exceptions and qualifies non-builtin types with their module) */
    PyObject *lines = PyObject_CallFunctionObjArgs(
        sitqpy_format_exception_only, type ? type : Py_None, value ? value : Py_None, NULL);
    if (lines && PyList_Check(lines) && PyList_GET_SIZE(lines) > 0) {
        PyObject *empty = PyUnicode_FromString("");
        PyObject *joined = empty ? PyUnicode_Join(empty, lines) : NULL;
        Py_XDECREF(empty);
        if (joined) {
            msg = PyObject_CallMethod(joined, "strip", NULL);
            Py_DECREF(joined);
        }
    }
    Py_XDECREF(lines);
    if (!msg) {
        PyErr_Clear();
        PyObject *tn = exc_type_name(type);
        msg = tn ? PyUnicode_FromFormat("%U: <exception could not be formatted>", tn) : NULL;
        Py_XDECREF(tn);
        PyErr_Clear();
    }
    lines = PyObject_CallFunctionObjArgs(sitqpy_format_exception, type ? type : Py_None,
                                         value ? value : Py_None, tb ? tb : Py_None, NULL);
    if (lines && PyList_Check(lines)) {
        PyObject *empty = PyUnicode_FromString("");
        tbtext = empty ? PyUnicode_Join(empty, lines) : NULL;
        Py_XDECREF(empty);
    }
    Py_XDECREF(lines);
    PyErr_Clear();
    if (tbtext && value && !prefix) tbtext = with_exception_line(tbtext, value);
    if (value && !prefix) sitqpy_apply_retry_choice(ctx, value);

    PyObject *mb = sitqpy_error_text(msg);
    PyObject *tb_b = sitqpy_error_text(tbtext);
    const char *m = mb ? PyBytes_AS_STRING(mb) : NULL;
    const char *t = tb_b ? PyBytes_AS_STRING(tb_b) : NULL;
    if (prefix) {
        PyObject *full = PyUnicode_FromFormat("%s: %s", prefix, m ? m : "unknown error");
        const char *f = full ? PyUnicode_AsUTF8(full) : NULL;
        sitq_ctx_set_error(ctx, f ? f : prefix, t);
        Py_XDECREF(full);
        PyErr_Clear();
    } else {
        sitq_ctx_set_error(ctx, m ? m : "Python exception (could not be formatted)", t);
    }
    Py_XDECREF(mb);
    Py_XDECREF(tb_b);
    Py_XDECREF(msg);
    Py_XDECREF(tbtext);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

/* Set the attempt's error to msg (a new reference, consumed; NULL when
 * building it failed). Returns -1, for the callers' "return fail(...)". */
static int fail_with(sitq_task_ctx *ctx, PyObject *msg) {
    const char *m = msg ? PyUnicode_AsUTF8(msg) : NULL;
    if (!m) {
        PyErr_Clear();
        m = "Python task failed (error message could not be built)";
    }
    sitq_ctx_set_error(ctx, m, NULL);
    Py_XDECREF(msg);
    return -1;
}

PyObject *sitqpy_dump_value(PyObject *value) {
    PyObject *b =
        PyObject_CallFunctionObjArgs(sitqpy_pickle_dumps, value, sitqpy_highest_protocol, NULL);
    if (b || !sitqpy_cloudpickle_dumps) return b;
    if (!PyErr_ExceptionMatches(PyExc_Exception) || PyErr_ExceptionMatches(PyExc_MemoryError))
        return NULL;
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    b = PyObject_CallFunctionObjArgs(sitqpy_cloudpickle_dumps, value, sitqpy_highest_protocol,
                                     NULL);
    if (b) {
        Py_XDECREF(t);
        Py_XDECREF(v);
        Py_XDECREF(tb);
        return b;
    }
    /* report pickle's error, which is usually the clearer one */
    PyErr_Clear();
    PyErr_Restore(t, v, tb);
    return NULL;
}

/* Run the coroutine returned by an `async def` task to completion: on the
 * event loop of the sitq.aio.Worker serving the task's queue, else with
 * asyncio.run (sitq/aio.py: _run_coroutine). */
static PyObject *run_coroutine(PyObject *coro) {
    PyObject *aio = PyImport_ImportModule("sitq.aio");
    if (!aio) return NULL;
    PyObject *r = PyObject_CallMethod(aio, "_run_coroutine", "O", coro);
    Py_DECREF(aio);
    return r;
}

/* Mark the attempt's start (the worker is created with handlers_mark_start)
 * right before the function is called. The GIL is kept: releasing it here
 * would let the start be committed while this thread waits to get it back,
 * before the user's code runs. (sitq_ctx_begin waits for a commit only for a
 * task that already lost a lease before it started, a rare case, and the
 * dispatcher never needs the GIL.) 0, or -1 with the task's error set when
 * the lease was lost meanwhile. */
static int sitqpy_begin(sitq_task_ctx *ctx) {
    sitq_code rc = sitq_ctx_begin(ctx);
    if (rc == SITQ_OK) return 0;
    sitq_ctx_set_error(ctx, "the lease was lost before the task started", NULL);
    return -1;
}

/* Check and unpickle the payload into the tuple (format 1 or 2, function
 * blob, args, kwargs, memory token) of task.c. Returns the tuple (new reference),
 * or NULL with the attempt's error set. */
int sitqpy_check_payload(sitq_task_ctx *ctx, const void *payload, size_t payload_len) {
    const char *fname = sitq_ctx_function(ctx);
    long long id = (long long)sitq_ctx_task_id(ctx);
    if (!payload || payload_len == 0)
        return fail_with(ctx, PyUnicode_FromFormat("task %lld (%s) has no payload: it was not "
                                                   "enqueued by the sitq Python binding",
                                                   id, fname));
    char why[128];
    if (sitqpy_envelope_check(payload, payload_len, why, sizeof why) != 0)
        return fail_with(ctx, PyUnicode_FromFormat(
                                  "task %lld (%s) was not enqueued by the sitq Python binding: %s",
                                  id, fname, why));
    return 0;
}

static PyObject *load_payload(sitq_task_ctx *ctx, const void *payload, size_t payload_len) {
    const char *fname = sitq_ctx_function(ctx);
    long long id = (long long)sitq_ctx_task_id(ctx);
    if (sitqpy_check_payload(ctx, payload, payload_len) != 0) return NULL;
    PyObject *raw = PyBytes_FromStringAndSize(payload, (Py_ssize_t)payload_len);
    if (!raw) {
        set_error_from_exception(ctx, "cannot decode the task payload");
        return NULL;
    }
    PyObject *tup = PyObject_CallOneArg(sitqpy_pickle_loads, raw);
    Py_DECREF(raw);
    if (!tup) {
        char prefix[SITQ_NAME_MAX + 96];
        snprintf(prefix, sizeof prefix, "cannot load the arguments of %s in this process", fname);
        set_error_from_exception(ctx, prefix);
        return NULL;
    }
    long format =
        PyTuple_Check(tup) && PyTuple_GET_SIZE(tup) == 5 && PyLong_Check(PyTuple_GET_ITEM(tup, 0))
            ? PyLong_AsLong(PyTuple_GET_ITEM(tup, 0))
            : 0;
    if (format != 1 && format != 2) {
        PyErr_Clear();
        Py_DECREF(tup);
        fail_with(
            ctx, PyUnicode_FromFormat("task %lld (%s): unknown payload format (not written by this "
                                      "version of the sitq Python binding)",
                                      id, fname));
        return NULL;
    }
    return tup;
}

/* The error of a memory token that is not in this process's table;
 * args_only: the function itself was pickled, its arguments were held. */
static int fail_missing_memfunc(sitq_task_ctx *ctx, PyObject *token, int args_only) {
    const char *fname = sitq_ctx_function(ctx);
    const char *tok = PyUnicode_Check(token) ? PyUnicode_AsUTF8(token) : NULL;
    long pid = sitqpy_token_pid(tok);
    PyErr_Clear();
    if (pid < 0)
        return fail_with(ctx, PyUnicode_FromFormat("task %lld (%s) names a malformed memory token",
                                                   (long long)sitq_ctx_task_id(ctx), fname));
    if (pid != (long)getpid() && args_only)
        return fail_with(
            ctx, PyUnicode_FromFormat(
                     "the arguments of %s are held in the memory of process %ld (they could not "
                     "be pickled, e.g. a lock or an open file) and cannot be used here, in "
                     "process %ld: run the task on a worker of that process, or pass picklable "
                     "arguments",
                     fname, pid, (long)getpid()));
    if (pid != (long)getpid())
        return fail_with(
            ctx, PyUnicode_FromFormat(
                     "function %s is held in the memory of process %ld (it could not be pickled, "
                     "e.g. a bound method of an object holding a sitq queue or worker) and cannot "
                     "be run here, in process %ld: run it on a worker of that process, or enqueue "
                     "a picklable function (module-level, or a method of a picklable object)",
                     fname, pid, (long)getpid()));
    return fail_with(ctx, PyUnicode_FromFormat(
                              "function %s is no longer held in this process's memory (it could "
                              "not be pickled; it is released once its task succeeds): enqueue "
                              "it again",
                              fname));
}

/* The function to call and its arguments: from this process's memory when
 * the payload names a memory token (*args and *kwargs replaced when the
 * arguments were held too), else unpickled from blob. On entry *args and
 * *kwargs hold new references; on success *func does too. Returns 0, or -1
 * with the attempt's error set. */
static int load_function(sitq_task_ctx *ctx, PyObject *blob, PyObject *token, PyObject **func,
                         PyObject **args, PyObject **kwargs) {
    const char *fname = sitq_ctx_function(ctx);
    if (token != Py_None) {
        PyObject *entry = PyDict_GetItemWithError(sitqpy_memfuncs, token);
        if (!entry) {
            PyErr_Clear();
            return fail_missing_memfunc(ctx, token, blob != Py_None && PyBytes_Check(blob));
        }
        if (PyTuple_Check(entry) && PyTuple_GET_SIZE(entry) == 3) {
            *func = Py_NewRef(PyTuple_GET_ITEM(entry, 0));
            if (PyTuple_GET_ITEM(entry, 1) != Py_None) {
                Py_SETREF(*args, Py_NewRef(PyTuple_GET_ITEM(entry, 1)));
                Py_SETREF(*kwargs, Py_NewRef(PyTuple_GET_ITEM(entry, 2)));
            }
            return 0;
        }
    }
    if (blob == Py_None || !PyBytes_Check(blob))
        return fail_with(ctx, PyUnicode_FromFormat("task %lld (%s) carries no function",
                                                   (long long)sitq_ctx_task_id(ctx), fname));
    *func = PyObject_CallOneArg(sitqpy_pickle_loads, blob);
    if (!*func) {
        char prefix[SITQ_NAME_MAX + 96];
        snprintf(prefix, sizeof prefix, "cannot load function %s in this process", fname);
        set_error_from_exception(ctx, prefix);
        return -1;
    }
    return 0;
}

/* Pickle the function's return value and store it with its repr as the
 * attempt's result (value_record.c). Returns 0, or -1 with the
 * attempt's error set. */
static int store_result(sitq_task_ctx *ctx, PyObject *ret) {
    PyObject *b = sitqpy_dump_value(ret);
    if (!b) {
        if (PyErr_ExceptionMatches(PyExc_MemoryError)) {
            PyErr_Clear();
            sitq_ctx_set_error(ctx, "MemoryError: out of memory while pickling the result", NULL);
            return -1;
        }
        char prefix[SITQ_NAME_MAX + 128];
        snprintf(prefix, sizeof prefix,
                 "SerializationError: the return value of %s (a %.60s) cannot be pickled",
                 sitq_ctx_function(ctx), Py_TYPE(ret)->tp_name);
        set_error_from_exception(ctx, prefix);
        return -1;
    }
    PyObject *text = sitqpy_value_repr(ret);
    if (!text) {
        Py_DECREF(b);
        set_error_from_exception(ctx, "cannot store the result");
        return -1;
    }
    sitq_code sc =
        sitqpy_store_record(ctx, text, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b));
    Py_DECREF(text);
    Py_DECREF(b);
    if (sc != SITQ_OK) {
        sitq_ctx_set_error(ctx, "MemoryError: out of memory while storing the result", NULL);
        return -1;
    }
    return 0;
}

/* A process the task's function forked returned here, into a copy of the
 * worker whose other threads are gone: it must not record anything (its
 * dispatcher is not there to take it, and it would wait for ever), so it
 * ends, as a forked child ends in multiprocessing: with the code of a
 * SystemExit it raised, 1 after another exception (printed), else 0. */
_Noreturn static void end_forked_child(PyObject *ret) {
    int code = 0;
    if (!ret && PyErr_ExceptionMatches(PyExc_SystemExit)) {
#if PY_VERSION_HEX >= 0x030C0000
        PyObject *exc = PyErr_GetRaisedException();
#else
        PyObject *type = NULL, *exc = NULL, *tb = NULL;
        PyErr_Fetch(&type, &exc, &tb);
        PyErr_NormalizeException(&type, &exc, &tb);
        Py_XDECREF(type);
        Py_XDECREF(tb);
#endif
        PyObject *c = exc ? PyObject_GetAttrString(exc, "code") : NULL;
        code = !c || c == Py_None ? 0 : PyLong_Check(c) ? (int)PyLong_AsLong(c) : 1;
        if (c && c != Py_None && !PyLong_Check(c)) PyObject_Print(c, stderr, Py_PRINT_RAW);
        Py_XDECREF(c);
        Py_XDECREF(exc);
        PyErr_Clear();
    } else if (!ret) {
        code = 1;
        PyErr_Print();
    }
    Py_XDECREF(ret);
    const char *names[] = {"stdout", "stderr"};
    for (int i = 0; i < 2; i++) {
        PyObject *f = PySys_GetObject(names[i]); /* borrowed */
        PyObject *r = f && f != Py_None ? PyObject_CallMethod(f, "flush", NULL) : NULL;
        Py_XDECREF(r);
        PyErr_Clear();
    }
    fflush(NULL);
    _exit(code);
}

/* Call func(*args, **kwargs) as the attempt (running a returned coroutine
 * to completion) and store its result. Returns 0, or -1 with the attempt's
 * error set. */
static int call_function(sitq_task_ctx *ctx, PyObject *func, PyObject *args, PyObject *kwargs) {
    /* The attempt starts here, with the user's code: a worker that dies while
     * this thread waited for the GIL or unpickled the payload has not
     * started it. */
    if (sitqpy_begin(ctx) != 0) return -1;
    pid_t pid = getpid();
    PyObject *ret =
        PyObject_Call(func, args, PyDict_Check(kwargs) && PyDict_GET_SIZE(kwargs) ? kwargs : NULL);
    if (ret && PyCoro_CheckExact(ret)) Py_SETREF(ret, run_coroutine(ret));
    if (getpid() != pid) end_forked_child(ret);
    if (!ret) {
        set_error_from_exception(ctx, NULL);
        return -1;
    }
    int rc = store_result(ctx, ret);
    Py_DECREF(ret);
    return rc;
}

/* Format 2: replace the sitq.result_of slots of *args and *kwargs (new
 * references, replaced) by their dependencies' values, read through
 * sitq.current_task(). Returns 0, or -1 with the attempt's error set. */
static int resolve_refs(sitq_task_ctx *ctx, PyObject **args, PyObject **kwargs) {
    PyObject *mod = PyImport_ImportModule("sitq._result_of");
    PyObject *tc = mod ? sitqpy_current_object() : NULL;
    PyObject *r = tc ? PyObject_CallMethod(mod, "resolve", "OOO", tc, *args, *kwargs) : NULL;
    Py_XDECREF(mod);
    Py_XDECREF(tc);
    if (!r || !PyTuple_Check(r) || PyTuple_GET_SIZE(r) != 2) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_SystemError, "bad resolve() value");
        Py_XDECREF(r);
        char prefix[SITQ_NAME_MAX + 96];
        snprintf(prefix, sizeof prefix, "cannot read the sitq.result_of arguments of %s",
                 sitq_ctx_function(ctx));
        set_error_from_exception(ctx, prefix);
        return -1;
    }
    Py_SETREF(*args, Py_NewRef(PyTuple_GET_ITEM(r, 0)));
    Py_SETREF(*kwargs, Py_NewRef(PyTuple_GET_ITEM(r, 1)));
    Py_DECREF(r);
    return 0;
}

/* Run one Python task: load the payload and the function, call it, store
 * its result. Returns 0 on success, 1 with the attempt's error set. */
static int run_task(sitq_task_ctx *ctx, const void *payload, size_t payload_len) {
    PyObject *func = NULL, *args = NULL, *kwargs = NULL;
    int rc = 1;
    PyObject *tup = load_payload(ctx, payload, payload_len);
    if (!tup) goto out;
    PyObject *blob = PyTuple_GET_ITEM(tup, 1);
    PyObject *token = PyTuple_GET_ITEM(tup, 4);
    args = Py_NewRef(PyTuple_GET_ITEM(tup, 2));
    kwargs = Py_NewRef(PyTuple_GET_ITEM(tup, 3));
    if (load_function(ctx, blob, token, &func, &args, &kwargs) != 0) goto out;
    if (args == Py_None || kwargs == Py_None) {
        fail_with(ctx, PyUnicode_FromFormat("the arguments of %s could not be pickled and are held "
                                            "in the memory of another process",
                                            sitq_ctx_function(ctx)));
        goto out;
    }
    if (!PyTuple_Check(args)) {
        Py_SETREF(args, PySequence_Tuple(args));
        if (!args) {
            set_error_from_exception(ctx, "bad task arguments");
            goto out;
        }
    }
    if (PyLong_AsLong(PyTuple_GET_ITEM(tup, 0)) == 2 && resolve_refs(ctx, &args, &kwargs) != 0)
        goto out;
    if (call_function(ctx, func, args, kwargs) != 0) goto out;
    rc = 0;
    /* the task succeeded: the in-memory function is not needed again */
    if (token != Py_None && PyDict_DelItem(sitqpy_memfuncs, token) < 0) PyErr_Clear();
out:
    Py_XDECREF(func);
    Py_XDECREF(args);
    Py_XDECREF(kwargs);
    Py_XDECREF(tup);
    if (PyErr_Occurred()) PyErr_Clear();
    return rc;
}

_Thread_local int sitqpy_tl_direct;

/* user_data: the queue's name (sitqpy_intern_queue_name), or NULL. */
int sitqpy_handler(sitq_task_ctx *ctx, const void *payload, size_t payload_len, void *user_data) {
    if (atomic_load(&sitqpy_finalizing) || !Py_IsInitialized()) {
        sitq_ctx_set_error(ctx, "the Python interpreter of this worker is shutting down", NULL);
        return 1;
    }
    PyGILState_STATE g = PyGILState_Ensure();
    /* sitq.current_task() and the task's log lines, around the attempt */
    int direct = sitqpy_tl_direct;
    sitqpy_current saved;
    sitqpy_current_enter(ctx, user_data, &saved);
    sitqpy_tasklog_started(ctx, direct);
    int rc = sitqpy_runner_active() ? sitqpy_run_by_runner(ctx, payload, payload_len)
                                    : run_task(ctx, payload, payload_len);
    sitqpy_tasklog_ended(ctx, direct);
    sitqpy_current_leave(&saved);
    PyGILState_Release(g);
    return rc;
}
