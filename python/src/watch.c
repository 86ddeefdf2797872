/*
 * watch.c - sitq._sitq._Watch, the completion watch behind sitq.aio: a
 * libsitq sitq_watch (one thread, an eventfd that becomes readable when tasks
 * of the queue finish) and sitq_finished_among (which of many ids finished,
 * in one list query per run of nearby ids). asyncio registers the fd with
 * loop.add_reader, so that any number of awaited results cost one thread and
 * one batched read per wake-up. Private: sitq/aio.py is its only user.
 */
#include "sitqpy.h"

#include "core/internal.h"

#include <unistd.h>

typedef struct {
    PyObject_HEAD sitq_watch *watch;
    PyObject *queue; /* SitqQueueObject, strong: the watch borrows its sitq_queue */
    long pid;        /* the process whose thread serves the watch */
} SitqWatchObject;

static int watch_init(SitqWatchObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"queue", NULL};
    PyObject *queue;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!:_Watch", kwlist, &SitqQueue_Type, &queue))
        return -1;
    if (self->watch) {
        PyErr_SetString(sitqpy_InvalidArgument, "_Watch is already initialised");
        return -1;
    }
    if (sitqpy_queue_ready((SitqQueueObject *)queue) < 0) return -1;
    sitq_error err;
    sitq_watch *w = NULL;
    sitq_code rc = sitq_watch_open(((SitqQueueObject *)queue)->queue, &w, &err);
    if (rc) {
        sitqpy_raise(rc, &err);
        return -1;
    }
    self->watch = w;
    self->queue = Py_NewRef(queue);
    self->pid = (long)getpid();
    return 0;
}

static void watch_close_now(SitqWatchObject *self) {
    sitq_watch *w = self->watch;
    self->watch = NULL;
    /* After a fork the watch thread is the parent's: never joined here. */
    if (!w || self->pid != (long)getpid()) return;
    /* joins the watch thread, which never takes the GIL */
    Py_BEGIN_ALLOW_THREADS sitq_watch_close(w);
    Py_END_ALLOW_THREADS
}

static void watch_dealloc(SitqWatchObject *self) {
    watch_close_now(self);
    Py_CLEAR(self->queue);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *closed_error(void) { return sitqpy_invalid("the watch is closed"); }

static PyObject *watch_fileno(SitqWatchObject *self, PyObject *unused) {
    (void)unused;
    if (!self->watch) return closed_error();
    return PyLong_FromLong(sitq_watch_fd(self->watch));
}

static PyObject *watch_consume(SitqWatchObject *self, PyObject *unused) {
    (void)unused;
    if (!self->watch) return closed_error();
    return PyLong_FromUnsignedLongLong(sitq_watch_consume(self->watch));
}

static PyObject *watch_set_active(SitqWatchObject *self, PyObject *arg) {
    if (!self->watch) return closed_error();
    int on = PyObject_IsTrue(arg);
    if (on < 0) return NULL;
    sitq_watch_set_active(self->watch, on);
    Py_RETURN_NONE;
}

/* ids (an iterable of int) into a new malloc'd array; NULL with an error set. */
static sitq_task_id *ids_arg(PyObject *obj, size_t *n) {
    PyObject *seq = PySequence_Fast(obj, "ids must be an iterable of task ids");
    if (!seq) return NULL;
    Py_ssize_t len = PySequence_Fast_GET_SIZE(seq);
    sitq_task_id *ids = PyMem_RawMalloc((size_t)(len ? len : 1) * sizeof *ids);
    if (!ids) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        if (sitqpy_task_id_arg(PySequence_Fast_GET_ITEM(seq, i), "task id", &ids[i]) < 0) {
            PyMem_RawFree(ids);
            Py_DECREF(seq);
            return NULL;
        }
    }
    Py_DECREF(seq);
    *n = (size_t)len;
    return ids;
}

static PyObject *watch_finished(SitqWatchObject *self, PyObject *arg) {
    if (!self->watch) return closed_error();
    size_t n = 0;
    sitq_task_id *ids = ids_arg(arg, &n);
    if (!ids) return NULL;
    sitq_task_id *done = NULL;
    size_t nd = 0;
    sitq_error err;
    sitq_code rc;
    sitq_queue *q = ((SitqQueueObject *)self->queue)->queue;
    (void)sitq__call_take_lost();
    Py_BEGIN_ALLOW_THREADS rc = sitq_finished_among(q, ids, n, &done, &nd, &err);
    Py_END_ALLOW_THREADS PyMem_RawFree(ids);
    /* A lost connection is not the waits' failure: None, read again. */
    if (rc == SITQ_ESTORAGE && sitq__call_take_lost()) Py_RETURN_NONE;
    if (rc) return sitqpy_raise(rc, &err);
    PyObject *out = PyList_New((Py_ssize_t)nd);
    for (size_t i = 0; out && i < nd; i++) {
        PyObject *v = PyLong_FromLongLong((long long)done[i]);
        if (!v) Py_CLEAR(out);
        else PyList_SET_ITEM(out, (Py_ssize_t)i, v);
    }
    free(done);
    return out;
}

static PyObject *watch_close(SitqWatchObject *self, PyObject *unused) {
    (void)unused;
    watch_close_now(self);
    Py_RETURN_NONE;
}

static PyMethodDef watch_methods[] = {
    {"fileno", (PyCFunction)watch_fileno, METH_NOARGS,
     "fileno() -> int: the eventfd that becomes readable when tasks of the queue may have "
     "finished (owned by the watch; register it with a loop, never read or close it). "
     "InvalidArgumentError once closed."},
    {"consume", (PyCFunction)watch_consume, METH_NOARGS,
     "consume() -> int: reset the fd and return the number of signals since the last call "
     "(0: none). Never blocks."},
    {"set_active", (PyCFunction)watch_set_active, METH_O,
     "set_active(flag): signal (True) while there are waiters; an inactive watch neither "
     "polls nor signals."},
    {"finished", (PyCFunction)watch_finished, METH_O,
     "finished(ids) -> list[int]: the distinct ids among ids (task ids of the queue) that are "
     "finished or do not exist, ascending; one list query per run of nearby ids, the GIL "
     "released; None when the connection to the store was lost (the next call "
     "reconnects). Raises the sitq exception of the read's error."},
    {"close", (PyCFunction)watch_close, METH_NOARGS,
     "close(): stop the watch thread and close the fd (idempotent)."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject SitqWatch_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sitq._sitq._Watch",
    .tp_basicsize = sizeof(SitqWatchObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "_Watch(queue): a completion watch of a TaskQueue (private; see sitq.aio). The "
              "thread and fd live until close() or garbage collection.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)watch_init,
    .tp_dealloc = (destructor)watch_dealloc,
    .tp_methods = watch_methods,
};

int sitqpy_watch_init(PyObject *m) {
    if (PyType_Ready(&SitqWatch_Type) < 0) return -1;
    Py_INCREF(&SitqWatch_Type);
    if (PyModule_AddObject(m, "_Watch", (PyObject *)&SitqWatch_Type) < 0) {
        Py_DECREF(&SitqWatch_Type);
        return -1;
    }
    return 0;
}
