/* workers.c - TaskQueue.workers(): the registry of workers
 * (sitq_workers_list) as sitq._workers.WorkerInfo objects, a frozen
 * dataclass defined in Python so that its fields carry docstrings. */
#include "sitqpy.h"

static PyObject *names_tuple(char *const *names, size_t n) {
    PyObject *t = PyTuple_New((Py_ssize_t)n);
    for (size_t i = 0; t && i < n; i++) {
        PyObject *s = PyUnicode_DecodeUTF8(names[i], (Py_ssize_t)strlen(names[i]), "replace");
        if (!s) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, (Py_ssize_t)i, s);
    }
    return t;
}

static PyObject *ids_tuple(const sitq_task_id *ids, size_t n) {
    PyObject *t = PyTuple_New((Py_ssize_t)n);
    for (size_t i = 0; t && i < n; i++) {
        PyObject *v = PyLong_FromLongLong(ids[i]);
        if (!v) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, (Py_ssize_t)i, v);
    }
    return t;
}

/* One WorkerInfo from w (cls: the dataclass); NULL with an exception set. */
static PyObject *info_object(PyObject *cls, const sitq_worker_info *w) {
    PyObject *kw = Py_BuildValue(
        "{s:s, s:s, s:s, s:L, s:N, s:N, s:i, s:N, s:N, s:N, s:N, s:L, s:L, s:L, s:N, s:n}", "id",
        w->id, "state", sitq_worker_state_name(w->state), "host", w->host, "pid", (long long)w->pid,
        "queues", names_tuple(w->queues, w->n_queues), "functions",
        names_tuple(w->functions, w->n_functions), "concurrency", w->concurrency, "started_at",
        sitqpy_datetime_from_us(w->started_at_us), "heartbeat_at",
        sitqpy_datetime_from_us(w->heartbeat_at_us), "lease_until",
        sitqpy_datetime_from_us(w->lease_until_us), "stopped_at",
        sitqpy_datetime_from_us(w->stopped_at_us), "succeeded", (long long)w->succeeded, "failed",
        (long long)w->failed, "lost", (long long)w->lost, "running",
        ids_tuple(w->running, w->n_running), "held", (Py_ssize_t)w->n_held);
    if (!kw) return NULL;
    PyObject *empty = PyTuple_New(0);
    PyObject *o = empty ? PyObject_Call(cls, empty, kw) : NULL;
    Py_XDECREF(empty);
    Py_DECREF(kw);
    return o;
}

PyObject *sitqpy_workers_list(sitq_backend *backend, int include_stopped) {
    PyObject *mod = PyImport_ImportModule("sitq._workers");
    PyObject *cls = mod ? PyObject_GetAttrString(mod, "WorkerInfo") : NULL;
    Py_XDECREF(mod);
    if (!cls) return NULL;
    sitq_worker_info *ws = NULL;
    size_t n = 0;
    sitq_error err = {0};
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc = sitq_workers_list(backend, include_stopped, &ws, &n, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) {
        Py_DECREF(cls);
        return sitqpy_raise(rc, &err);
    }
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *o = info_object(cls, &ws[i]);
        if (!o) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, o);
    }
    sitq_workers_free(ws, n);
    Py_DECREF(cls);
    return list;
}
