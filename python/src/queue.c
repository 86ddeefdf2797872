/*
 * queue.c - sitq.TaskQueue: enqueue tasks, wait for results, inspect and
 * manage tasks of one named queue of a backend. Every libsitq call that may
 * block runs with the GIL released; waits run in slices so that Ctrl-C
 * (KeyboardInterrupt) is handled promptly.
 */
#include "core/internal.h"
#include "sitqpy.h"

#include <math.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define WAIT_SLICE_S 0.1

static int queue_init(SitqQueueObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"backend", "name", NULL};
    PyObject *backend = NULL, *name = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:TaskQueue", kwlist, &backend, &name))
        return -1;
    if (self->queue) {
        sitqpy_invalid("TaskQueue is already initialised");
        return -1;
    }
    if (!backend || backend == Py_None) {
        sitqpy_invalid("backend is required: pass backend=sitq.SQLiteBackend(path) or "
                       "sitq.PostgresBackend(dsn)");
        return -1;
    }
    if (!PyObject_TypeCheck(backend, &SitqBackend_Type) ||
        !((SitqBackendObject *)backend)->backend) {
        sitqpy_invalid("backend must be an open sitq.SQLiteBackend or sitq.PostgresBackend "
                       "(a database path is opened by sitq.SQLiteBackend(path)), got %.100s",
                       Py_TYPE(backend)->tp_name);
        return -1;
    }
    if (sitqpy_backend_ready((SitqBackendObject *)backend) < 0) return -1;
    const char *cname = NULL;
    if (name != Py_None) {
        if (!PyUnicode_Check(name)) {
            sitqpy_invalid("name must be a str or None, got %.100s", Py_TYPE(name)->tp_name);
            return -1;
        }
        Py_ssize_t n;
        cname = sitqpy_utf8_arg(name, "name", &n);
        if (!cname) return -1;
        if ((size_t)n != strlen(cname)) {
            sitqpy_invalid("name must not contain NUL characters");
            return -1;
        }
    }
    sitq_queue *q = NULL;
    sitq_error err = {0};
    sitq_code rc = sitq_queue_open(((SitqBackendObject *)backend)->backend, cname, &q, &err);
    if (rc != SITQ_OK) {
        if (rc == SITQ_EINVAL && cname) sitqpy_invalid("name: %s", err.message);
        else sitqpy_raise(rc, &err);
        return -1;
    }
    self->queue = q;
    self->pid = (long)getpid();
    Py_INCREF(backend);
    Py_XSETREF(self->backend, backend);
    return 0;
}

static void queue_dealloc(SitqQueueObject *self) {
    PyObject_GC_UnTrack(self);
    if (self->weakrefs) PyObject_ClearWeakRefs((PyObject *)self);
    if (self->queue && self->pid == (long)getpid()) /* not the parent's, after a fork */
        sitq_queue_close(self->queue);
    self->queue = NULL;
    Py_CLEAR(self->backend);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int queue_traverse(SitqQueueObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->backend);
    return 0;
}

static int check_open(SitqQueueObject *self) { return sitqpy_queue_ready(self); }

/* ------------------------------------------------------------------ */
/* enqueue                                                             */
/* ------------------------------------------------------------------ */

PyDoc_STRVAR(enqueue_doc, "enqueue(task, depends_on=None) -> int\n"
                          "enqueue(function, *args, **kwargs) -> int\n"
                          "--\n\n"
                          "Store a task and return its id (int) once it is committed.\n\n"
                          "task: a sitq.Task. depends_on: ids of tasks that must succeed first\n"
                          "    (added to the Task's own depends_on). A dependency that already\n"
                          "    failed or was cancelled makes the new task fail at once.\n"
                          "Short form: enqueue(function, *args, **kwargs) enqueues\n"
                          "    Task(function, args, kwargs) with default options; all keyword\n"
                          "    arguments go to the function (use a Task for options).\n"
                          "Raises InvalidArgumentError (bad argument; arguments that do not bind\n"
                          "to the function's signature; a depends_on naming a sitq.Task, which\n"
                          "only enqueue_batch resolves), DependencyError (unknown dependency id),\n"
                          "StorageError. Thread-safe; releases the GIL while the database works.");

static PyObject *do_enqueue(SitqQueueObject *self, SitqTaskObject *task, PyObject *deps) {
    sitqpy_prepared p;
    if (sitqpy_prepare(task, deps, 0, &p) < 0) return NULL;
    sitq_task_id id = 0;
    sitq_error err = {0};
    sitq_code rc;
    const char *payload = PyBytes_AS_STRING(p.payload);
    size_t len = (size_t)PyBytes_GET_SIZE(p.payload);
    Py_BEGIN_ALLOW_THREADS rc =
        sitq_enqueue(self->queue, p.function, payload, len, &p.opts, &id, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) {
        sitqpy_prepared_unregister(&p);
        sitqpy_prepared_clear(&p);
        return sitqpy_raise(rc, &err);
    }
    sitqpy_prepared_clear(&p);
    return PyLong_FromLongLong(id);
}

static PyObject *queue_enqueue(SitqQueueObject *self, PyObject *args, PyObject *kwds) {
    if (check_open(self) < 0) return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (n < 1) {
        PyObject *t = kwds ? PyDict_GetItemString(kwds, "task") : NULL;
        if (t && PyDict_GET_SIZE(kwds) <= 2) {
            PyObject *deps = PyDict_GetItemString(kwds, "depends_on");
            if (PyDict_GET_SIZE(kwds) == 2 && !deps)
                return sitqpy_invalid("enqueue(task=...) accepts only depends_on besides task");
            if (!PyObject_TypeCheck(t, &SitqTask_Type))
                return sitqpy_invalid("task must be a sitq.Task, got %.100s", Py_TYPE(t)->tp_name);
            return do_enqueue(self, (SitqTaskObject *)t, deps);
        }
        return sitqpy_invalid("enqueue() needs a sitq.Task or a callable as its first argument");
    }
    PyObject *first = PyTuple_GET_ITEM(args, 0);
    if (PyObject_TypeCheck(first, &SitqTask_Type)) {
        if (n > 1)
            return sitqpy_invalid("enqueue(task, depends_on=None): unexpected positional "
                                  "arguments after the task (put them in Task(args=...))");
        PyObject *deps = NULL;
        if (kwds && PyDict_GET_SIZE(kwds) > 0) {
            PyObject *key;
            Py_ssize_t pos = 0;
            while (PyDict_Next(kwds, &pos, &key, NULL)) {
                if (!PyUnicode_Check(key) ||
                    PyUnicode_CompareWithASCIIString(key, "depends_on") != 0) {
                    PyObject *r = PyObject_ASCII(key); /* any text, shown safely */
                    if (!r) return NULL;
                    sitqpy_invalid("enqueue(task, depends_on=None): unexpected keyword "
                                   "argument %.100s (task options belong in sitq.Task)",
                                   PyUnicode_AsUTF8(r));
                    Py_DECREF(r);
                    return NULL;
                }
            }
            deps = PyDict_GetItemString(kwds, "depends_on");
        }
        return do_enqueue(self, (SitqTaskObject *)first, deps);
    }
    if (!PyCallable_Check(first))
        return sitqpy_invalid("task must be a sitq.Task or a callable, got %.100s",
                              Py_TYPE(first)->tp_name);
    PyObject *rest = PyTuple_GetSlice(args, 1, n);
    if (!rest) return NULL;
    PyObject *task = sitqpy_task_from_call(first, rest, kwds);
    Py_DECREF(rest);
    if (!task) return NULL;
    PyObject *id = do_enqueue(self, (SitqTaskObject *)task, NULL);
    Py_DECREF(task);
    return id;
}

PyDoc_STRVAR(enqueue_batch_doc,
             "enqueue_batch(tasks) -> list[int]\n--\n\n"
             "Store many tasks in one transaction (all or none) and return their ids in\n"
             "order. tasks: an iterable of sitq.Task (a bare callable is taken as\n"
             "Task(callable)). A Task's depends_on may name other sitq.Task objects of\n"
             "the batch (the same objects, listed earlier; a Task listed twice is its\n"
             "first occurrence): the stored task then depends on the task stored for\n"
             "that item. Much faster than enqueue in a loop. Raises as enqueue;\n"
             "the message names the failing index. Thread-safe; releases the GIL.");

/* {id(item): index of its first occurrence} for the sitq.Task items of seq,
 * so that a Task named in another's depends_on is found by identity. New
 * dict, or NULL with the error set. */
static PyObject *batch_index_of(PyObject *seq) {
    PyObject *index_of = PyDict_New();
    for (Py_ssize_t i = 0; index_of && i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyObject_TypeCheck(item, &SitqTask_Type)) continue;
        PyObject *key = PyLong_FromVoidPtr(item), *val = PyLong_FromSsize_t(i);
        int r = key && val ? PyDict_SetDefault(index_of, key, val) != NULL : 0;
        Py_XDECREF(key);
        Py_XDECREF(val);
        if (!r) Py_CLEAR(index_of);
    }
    return index_of;
}

/* The batch indexes of the sitq.Task items of task's depends_on into
 * spec->depends_on_index (*idx: PyMem_Malloc'd, the caller's to free). Each
 * must be listed earlier in the batch than index. 0, or -1 with the error set. */
static int batch_dep_indexes(SitqTaskObject *task, Py_ssize_t index, PyObject *index_of,
                             size_t **idx, sitq_task_spec *spec) {
    PyObject *deps = task->depends_on;
    size_t n = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(deps); i++) {
        PyObject *d = PyTuple_GET_ITEM(deps, i);
        if (PyLong_Check(d)) continue;
        PyObject *key = PyLong_FromVoidPtr(d);
        if (!key) return -1;
        PyObject *at = PyDict_GetItemWithError(index_of, key);
        Py_DECREF(key);
        Py_ssize_t j = at ? PyLong_AsSsize_t(at) : -1;
        if (PyErr_Occurred()) return -1;
        if (j < 0 || j >= index) {
            sitqpy_invalid("tasks[%zd].depends_on[%zd] is a sitq.Task %s; list every task "
                           "after the tasks it depends on",
                           index, i, j < 0 ? "that is not in this batch" : "listed after it");
            return -1;
        }
        if (!*idx && !(*idx = PyMem_Calloc((size_t)PyTuple_GET_SIZE(deps), sizeof **idx))) {
            PyErr_NoMemory();
            return -1;
        }
        (*idx)[n++] = (size_t)j;
    }
    spec->depends_on_index = *idx;
    spec->n_depends_on_index = n;
    return 0;
}

/* Prefix the pending InvalidArgumentError with "tasks[index]: " (other
 * errors stay as they are). Returns -1. */
static int name_index(Py_ssize_t index) {
    if (!PyErr_ExceptionMatches(sitqpy_InvalidArgument)) return -1;
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyObject *msg = v ? PyObject_Str(v) : NULL;
    const char *m = msg ? PyUnicode_AsUTF8(msg) : NULL;
    if (m) sitqpy_invalid("tasks[%zd]: %s", index, m);
    else {
        PyErr_Clear();
        PyErr_Restore(Py_NewRef(t), Py_XNewRef(v), Py_XNewRef(tb));
    }
    Py_XDECREF(msg);
    Py_XDECREF(t);
    Py_XDECREF(v);
    Py_XDECREF(tb);
    return -1;
}

/* tasks[index] of enqueue_batch (a sitq.Task, or a callable taken as
 * Task(callable)) prepared into *prep and described by *spec (*idx: its
 * in-batch dependencies, PyMem_Malloc'd or NULL). 0, or -1 with the error set. */
static int prepare_item(PyObject *item, Py_ssize_t index, PyObject *index_of, sitqpy_prepared *prep,
                        size_t **idx, sitq_task_spec *spec) {
    PyObject *task = NULL;
    if (PyObject_TypeCheck(item, &SitqTask_Type)) {
        task = Py_NewRef(item);
    } else if (PyCallable_Check(item)) {
        task = sitqpy_task_from_call(item, NULL, NULL);
        if (!task) return name_index(index);
    } else {
        sitqpy_invalid("tasks[%zd] must be a sitq.Task, got %.100s", index, Py_TYPE(item)->tp_name);
        return -1;
    }
    int r = batch_dep_indexes((SitqTaskObject *)task, index, index_of, idx, spec);
    if (r == 0) r = sitqpy_prepare((SitqTaskObject *)task, NULL, 1, prep);
    Py_DECREF(task);
    if (r < 0) return -1;
    spec->function = prep->function;
    spec->payload = PyBytes_AS_STRING(prep->payload);
    spec->payload_len = (size_t)PyBytes_GET_SIZE(prep->payload);
    spec->options = &prep->opts;
    return 0;
}

/* The n ids as a new list of ints; NULL with the error set. */
static PyObject *ids_list(const sitq_task_id *ids, Py_ssize_t n) {
    PyObject *out = PyList_New(n);
    if (!out) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyLong_FromLongLong(ids[i]);
        if (!v) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, v);
    }
    return out;
}

/* The buffers of one enqueue_batch call. */
typedef struct {
    sitqpy_prepared *preps;
    sitq_task_spec *specs;
    sitq_task_id *ids;
    size_t **idx; /* in-batch dependency indexes of each task, or NULL */
} batch_bufs;

static void batch_free(batch_bufs *b, Py_ssize_t n, Py_ssize_t prepared, int unregister) {
    for (Py_ssize_t i = 0; b->preps && i < n; i++) {
        if (unregister && i < prepared) sitqpy_prepared_unregister(&b->preps[i]);
        sitqpy_prepared_clear(&b->preps[i]);
    }
    for (Py_ssize_t i = 0; b->idx && i < n; i++) PyMem_Free(b->idx[i]);
    PyMem_Free(b->preps);
    PyMem_Free(b->specs);
    PyMem_Free(b->ids);
    PyMem_Free(b->idx);
}

/* Prepare and store the n (> 0) items of seq in one transaction; the list
 * of their ids, or NULL with the error set. */
static PyObject *run_batch(SitqQueueObject *self, PyObject *seq, Py_ssize_t n) {
    batch_bufs b = {PyMem_Calloc((size_t)n, sizeof *b.preps),
                    PyMem_Calloc((size_t)n, sizeof *b.specs),
                    PyMem_Calloc((size_t)n, sizeof *b.ids), PyMem_Calloc((size_t)n, sizeof *b.idx)};
    PyObject *out = NULL, *index_of = NULL;
    Py_ssize_t done = 0;
    sitq_error err = {0};
    sitq_code rc;
    if (!b.preps || !b.specs || !b.ids || !b.idx) {
        PyErr_NoMemory();
        goto end;
    }
    if (!(index_of = batch_index_of(seq))) goto end;
    for (; done < n; done++)
        if (prepare_item(PySequence_Fast_GET_ITEM(seq, done), done, index_of, &b.preps[done],
                         &b.idx[done], &b.specs[done]) < 0)
            goto end;
    Py_BEGIN_ALLOW_THREADS rc = sitq_enqueue_batch(self->queue, b.specs, (size_t)n, b.ids, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) {
        sitqpy_raise(rc, &err);
        goto end;
    }
    out = ids_list(b.ids, n);
end:
    Py_XDECREF(index_of);
    batch_free(&b, n, done, out == NULL);
    return out;
}

static PyObject *queue_enqueue_batch(SitqQueueObject *self, PyObject *arg) {
    if (check_open(self) < 0) return NULL;
    if (PyUnicode_Check(arg) || PyBytes_Check(arg) || PyObject_TypeCheck(arg, &SitqTask_Type))
        return sitqpy_invalid("tasks must be a list of sitq.Task, got %.100s",
                              Py_TYPE(arg)->tp_name);
    PyObject *seq = PySequence_Fast(arg, "tasks must be a list of sitq.Task");
    if (!seq) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            return sitqpy_invalid("tasks must be a list of sitq.Task, got %.100s",
                                  Py_TYPE(arg)->tp_name);
        }
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = n == 0 ? PyList_New(0) : run_batch(self, seq, n);
    Py_DECREF(seq);
    return out;
}

PyDoc_STRVAR(task_doc,
             "task(function=None, /, **options) -> TaskFunction, or a decorator\n--\n\n"
             "Decorator: @queue.task or @queue.task(priority=..., max_retries=...,\n"
             "timeout=..., ...) with any option of sitq.Task but function, args, kwargs\n"
             "and depends_on. Returns a sitq.TaskFunction: calling it runs the function\n"
             "here and now; .delay(*args, **kwargs) enqueues a call with these options;\n"
             ".enqueue(args=(), kwargs=None, depends_on=None, **options) enqueues with\n"
             "options overriding them; .map(iterable, chunksize=1) enqueues one task per\n"
             "chunk. The function must be importable by the workers (module level) to\n"
             "run in other processes. Raises InvalidArgumentError for an unknown or bad\n"
             "option.");

static PyObject *queue_task(SitqQueueObject *self, PyObject *args, PyObject *kwds) {
    if (check_open(self) < 0) return NULL;
    PyObject *mod = PyImport_ImportModule("sitq._decorator");
    if (!mod) return NULL;
    PyObject *fn = PyObject_GetAttrString(mod, "task_decorator");
    Py_DECREF(mod);
    if (!fn) return NULL;
    PyObject *self_tuple = PyTuple_Pack(1, (PyObject *)self);
    PyObject *full = self_tuple ? PySequence_Concat(self_tuple, args) : NULL;
    Py_XDECREF(self_tuple);
    PyObject *r = full ? PyObject_Call(fn, full, kwds) : NULL;
    Py_XDECREF(full);
    Py_DECREF(fn);
    return r;
}

/* ------------------------------------------------------------------ */
/* get_result                                                          */
/* ------------------------------------------------------------------ */

static PyObject *raise_timeout(sitq_task_id id, double timeout, const sitq_result *snap) {
    const char *st = snap ? sitq_status_name((int)snap->status) : "unknown";
    PyObject *msg;
    char buf[64];
    snprintf(buf, sizeof buf, "%g", timeout);
    msg = PyUnicode_FromFormat("task %lld did not finish within %s seconds (status: %s)",
                               (long long)id, buf, st);
    if (!msg) return NULL;
    PyObject *exc = PyObject_CallFunction(sitqpy_TaskTimeout, "Os", msg, "SITQ_ETIMEDOUT");
    Py_DECREF(msg);
    if (!exc) return NULL;
    PyObject *tid = PyLong_FromLongLong(id);
    PyObject *sst = PyUnicode_FromString(st);
    if (tid && sst) {
        PyObject_SetAttrString(exc, "task_id", tid);
        PyObject_SetAttrString(exc, "status", sst);
    }
    Py_XDECREF(tid);
    Py_XDECREF(sst);
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}

/* Wait for a task for timeout seconds (< 0: forever) in slices, checking
 * for signals between slices. Returns a new Result or NULL. */
static PyObject *wait_result_slices(SitqQueueObject *self, sitq_task_id id, double timeout) {
    double deadline = timeout >= 0 ? (double)sitq_now_us() / 1e6 + timeout : 0;
    for (;;) {
        double slice = WAIT_SLICE_S;
        int last = 0;
        if (timeout >= 0) {
            double left = deadline - (double)sitq_now_us() / 1e6;
            if (left <= slice) {
                slice = left > 0 ? left : 0;
                last = 1;
            }
        }
        sitq_result *r = NULL;
        sitq_error err = {0};
        sitq_code rc;
        Py_BEGIN_ALLOW_THREADS rc = sitq_wait(self->queue, id, slice, &r, &err);
        Py_END_ALLOW_THREADS if (rc == SITQ_OK) {
            PyObject *res = sitqpy_result_new(r);
            sitq_result_free(r);
            return res;
        }
        /* A slice that ended while the connection was lost (and not yet
         * made again) does not end the wait: the next slice reconnects. */
        int lost = rc == SITQ_ESTORAGE && sitq__call_take_lost() && !last;
        if (rc != SITQ_ETIMEDOUT && !lost) {
            sitq_result_free(r);
            return sitqpy_raise(rc, &err);
        }
        if (last) {
            PyObject *x = raise_timeout(id, timeout, r);
            sitq_result_free(r);
            return x;
        }
        sitq_result_free(r);
        if (PyErr_CheckSignals() < 0) return NULL;
    }
}

/* wait_result_slices, its reads bounded by the whole wait's timeout, not
 * by each slice's (a server that stops answering fails the wait soon after
 * its timeout; with no timeout, after the backend's own reply limit). */
static PyObject *wait_result(SitqQueueObject *self, sitq_task_id id, double timeout) {
    int64_t prev = sitq__call_deadline();
    sitq__set_call_deadline(timeout >= 0 ? sitq__mono_us() + sitq__seconds_to_us(timeout) +
                                               SITQ__WAIT_READ_GRACE_US
                                         : INT64_MAX);
    PyObject *res = wait_result_slices(self, id, timeout);
    sitq__set_call_deadline(prev);
    return res;
}

PyDoc_STRVAR(get_result_doc,
             "get_result(task_id, timeout=None) -> Result\n--\n\n"
             "Wait until the task is finished (succeeded, failed or cancelled) and\n"
             "return its Result; a failed task is a Result with is_error True, not an\n"
             "exception.\n\n"
             "timeout: seconds to wait (None: forever; 0: check once).\n"
             "Raises TaskTimeoutError (also a TimeoutError, like concurrent.futures)\n"
             "when the task is not finished in time - its .status tells where it is;\n"
             "TaskNotFoundError, InvalidArgumentError, StorageError. On PostgreSQL a\n"
             "lost connection (a server restart, a failover) does not end the wait:\n"
             "it reconnects and goes on. Ctrl-C raises KeyboardInterrupt within about\n"
             "0.1 s (about 1 s while the server is away). Thread-safe; the GIL is\n"
             "released while waiting.");

static PyObject *queue_get_result(SitqQueueObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"task_id", "timeout", NULL};
    PyObject *idobj, *tobj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:get_result", kwlist, &idobj, &tobj))
        return NULL;
    if (check_open(self) < 0) return NULL;
    sitq_task_id id;
    double timeout;
    if (sitqpy_task_id_arg(idobj, "task_id", &id) < 0 ||
        sitqpy_seconds_arg(tobj, "timeout", -1.0, 1, &timeout) < 0)
        return NULL;
    return wait_result(self, id, timeout);
}

/* Read a task's snapshot (no wait). */
static sitq_result *snapshot(SitqQueueObject *self, PyObject *idobj) {
    sitq_task_id id;
    if (check_open(self) < 0 || sitqpy_task_id_arg(idobj, "task_id", &id) < 0) return NULL;
    sitq_result *r = NULL;
    sitq_error err = {0};
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc = sitq_get_result(self->queue, id, &r, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) {
        sitqpy_raise(rc, &err);
        return NULL;
    }
    return r;
}

PyDoc_STRVAR(get_task_status_doc,
             "get_task_status(task_id) -> str\n--\n\n"
             "The task's current status name: 'queued', 'waiting', 'scheduled',\n"
             "'running', 'succeeded', 'failed' or 'cancelled' (as sitq_status_name and\n"
             "`sitq list`). Does not wait. Raises TaskNotFoundError,\n"
             "InvalidArgumentError, StorageError. Thread-safe.");

static PyObject *queue_get_task_status(SitqQueueObject *self, PyObject *idobj) {
    sitq_result *r = snapshot(self, idobj);
    if (!r) return NULL;
    PyObject *s = PyUnicode_FromString(sitq_status_name((int)r->status));
    sitq_result_free(r);
    return s;
}

PyDoc_STRVAR(peek_doc, "peek(task_id) -> Result\n--\n\n"
                       "The task's current snapshot as a Result, without waiting (value is None\n"
                       "until it succeeded). Raises TaskNotFoundError, InvalidArgumentError,\n"
                       "StorageError. Thread-safe.");

static PyObject *queue_peek(SitqQueueObject *self, PyObject *idobj) {
    sitq_result *r = snapshot(self, idobj);
    if (!r) return NULL;
    PyObject *res = sitqpy_result_new(r);
    sitq_result_free(r);
    return res;
}

PyDoc_STRVAR(cancel_doc,
             "cancel(task_id) -> str\n--\n\n"
             "Cancel a task. A queued, waiting or scheduled task becomes 'cancelled' and\n"
             "never runs (tasks depending on it fail). For a running task cancellation is\n"
             "only requested ('running' is returned): a Python function is not\n"
             "interrupted, and the task ends succeeded if it completes.\n"
             "Returns the resulting status, 'cancelled' or 'running'.\n"
             "Raises InvalidStateError (already finished), TaskNotFoundError,\n"
             "InvalidArgumentError, StorageError. Thread-safe.");

static PyObject *queue_cancel(SitqQueueObject *self, PyObject *idobj) {
    sitq_task_id id;
    if (check_open(self) < 0 || sitqpy_task_id_arg(idobj, "task_id", &id) < 0) return NULL;
    sitq_status st = SITQ_CANCELLED;
    sitq_error err = {0};
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc = sitq_cancel(self->queue, id, &st, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    return PyUnicode_FromString(sitq_status_name((int)st));
}

PyDoc_STRVAR(retry_doc,
             "retry(task_id) -> None\n--\n\n"
             "Run a failed or cancelled task again: attempts are reset and it becomes\n"
             "queued (or waiting for its dependencies). Tasks that failed because of it\n"
             "stay failed; retry them too. Raises InvalidStateError (not failed or\n"
             "cancelled, or a dependency failed), TaskNotFoundError,\n"
             "InvalidArgumentError, StorageError. Thread-safe.");

static PyObject *queue_retry(SitqQueueObject *self, PyObject *idobj) {
    sitq_task_id id;
    if (check_open(self) < 0 || sitqpy_task_id_arg(idobj, "task_id", &id) < 0) return NULL;
    sitq_error err = {0};
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc = sitq_retry(self->queue, id, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(get_stats_doc,
             "get_stats() -> dict\n--\n\n"
             "Task counts of the queue: {'queued': n, 'waiting': n, 'scheduled': n,\n"
             "'running': n, 'succeeded': n, 'failed': n, 'cancelled': n, 'total': n}.\n"
             "Raises StorageError. Thread-safe.");

static PyObject *queue_get_stats(SitqQueueObject *self, PyObject *noargs) {
    (void)noargs;
    if (check_open(self) < 0) return NULL;
    sitq_stats st;
    memset(&st, 0, sizeof st);
    sitq_error err = {0};
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc = sitq_get_stats(self->queue, &st, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    PyObject *d = PyDict_New();
    if (!d) return NULL;
    for (int i = 0; i <= SITQ_STATUS_COUNT; i++) {
        PyObject *v = PyLong_FromLongLong(i < SITQ_STATUS_COUNT ? st.count[i] : st.total);
        if (!v ||
            PyDict_SetItemString(d, i < SITQ_STATUS_COUNT ? sitq_status_name(i) : "total", v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(v);
    }
    return d;
}

PyDoc_STRVAR(totals_doc,
             "totals() -> dict\n--\n\n"
             "Counters of the queue that only grow, kept by the store: {'enqueued': n,\n"
             "'succeeded': n, 'failed': n, 'retried': n, 'lost': n, 'cancelled': n}.\n"
             "enqueued: tasks inserted (a unique key's hit is none); succeeded: attempts\n"
             "that succeeded; failed: attempts that failed with no retry left; retried:\n"
             "attempts that failed with a retry left; lost: leases that lapsed and were\n"
             "recovered; cancelled: tasks cancelled. A purge or retention never\n"
             "decreases them (get_stats counts the tasks stored); a store upgraded from\n"
             "a version without them counts from the upgrade (enqueued from the tasks\n"
             "it held). Take rates from their differences. Raises StorageError.\n"
             "Thread-safe.");

static PyObject *queue_totals(SitqQueueObject *self, PyObject *noargs) {
    (void)noargs;
    if (check_open(self) < 0) return NULL;
    sitq_totals t;
    memset(&t, 0, sizeof t);
    sitq_error err = {0};
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc = sitq_queue_totals(self->queue, &t, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    return Py_BuildValue("{s:L,s:L,s:L,s:L,s:L,s:L}", "enqueued", (long long)t.enqueued,
                         "succeeded", (long long)t.succeeded, "failed", (long long)t.failed,
                         "retried", (long long)t.retried, "lost", (long long)t.lost, "cancelled",
                         (long long)t.cancelled);
}

PyDoc_STRVAR(list_tasks_doc,
             "list_tasks(status=None, limit=100, offset=0) -> list[dict]\n--\n\n"
             "Tasks of the queue, newest first, as dicts with the keys id, queue,\n"
             "function, status, priority, attempts, max_retries, error, worker_id,\n"
             "unique_key, progress, depends_on, enqueued_at, eta, started_at,\n"
             "finished_at (datetimes in UTC or None).\n\n"
             "status: a status name such as 'failed', or None (or 'any') for all.\n"
             "limit: at most this many, 1..1000000. offset: skip this many.\n"
             "Raises InvalidArgumentError, StorageError. Thread-safe.");

static PyObject *queue_list_tasks(SitqQueueObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"status", "limit", "offset", NULL};
    PyObject *sobj = Py_None, *lobj = NULL, *oobj = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOO:list_tasks", kwlist, &sobj, &lobj, &oobj))
        return NULL;
    if (check_open(self) < 0) return NULL;
    int status = SITQ_STATUS_ANY;
    if (sobj != Py_None) {
        if (!PyUnicode_Check(sobj))
            return sitqpy_invalid("status must be a status name such as 'failed', or None; "
                                  "got %.100s",
                                  Py_TYPE(sobj)->tp_name);
        const char *s = sitqpy_utf8_arg(sobj, "status", NULL);
        if (!s) return NULL;
        /* "any" and "all" as the sitq command's --status takes them */
        int every = strcasecmp(s, "any") == 0 || strcasecmp(s, "all") == 0; /* as the names */
        status = every ? SITQ_STATUS_ANY : sitq_status_parse(s);
        if (status < 0 && !every)
            return sitqpy_invalid("status must be one of queued, waiting, scheduled, running, "
                                  "succeeded, failed, cancelled, any (or None); got '%.50s'",
                                  s);
    }
    long long limit = 100, offset = 0;
    if (lobj && lobj != Py_None) {
        if (!PyLong_Check(lobj) || PyBool_Check(lobj))
            return sitqpy_invalid("limit must be an int 1..1000000, got %.100s",
                                  Py_TYPE(lobj)->tp_name);
        limit = PyLong_AsLongLong(lobj);
        if (limit == -1 && PyErr_Occurred()) PyErr_Clear();
        if (limit < 1 || limit > 1000000) return sitqpy_invalid("limit must be 1..1000000");
    }
    if (oobj && oobj != Py_None) {
        if (!PyLong_Check(oobj) || PyBool_Check(oobj))
            return sitqpy_invalid("offset must be an int >= 0, got %.100s", Py_TYPE(oobj)->tp_name);
        offset = PyLong_AsLongLong(oobj);
        if (offset == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            return sitqpy_invalid("offset is out of range");
        }
        if (offset < 0) return sitqpy_invalid("offset must be >= 0");
    }
    sitq_result **items = NULL;
    size_t count = 0;
    sitq_error err = {0};
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc =
        sitq_list(self->queue, status, (size_t)limit, (size_t)offset, &items, &count, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    PyObject *list = PyList_New((Py_ssize_t)count);
    if (list) {
        for (size_t i = 0; i < count; i++) {
            PyObject *d = sitqpy_result_info_dict(items[i]);
            if (!d) {
                Py_CLEAR(list);
                break;
            }
            PyList_SET_ITEM(list, (Py_ssize_t)i, d);
        }
    }
    sitq_result_list_free(items, count);
    return list;
}

PyDoc_STRVAR(workers_doc, "workers(all=False) -> list[sitq.WorkerInfo]\n--\n\n"
                          "The workers of the queue's store (of every queue: see each one's\n"
                          "queues), sorted by id: those running and those dead (no heartbeat past\n"
                          "their lease), and with all=True also those that stopped cleanly. Each\n"
                          "is a read-only sitq.WorkerInfo snapshot: id, state, host, pid, queues,\n"
                          "functions, concurrency, started_at, heartbeat_at, lease_until,\n"
                          "stopped_at, succeeded, failed, lost (as of its last heartbeat),\n"
                          "running (ids of the tasks it runs now, read from the tasks) and held.\n"
                          "Rows of workers stopped or dead for a day are deleted by the running\n"
                          "workers. Raises InvalidStateError (queue closed), StorageError.\n"
                          "Thread-safe; reads only.");

static PyObject *queue_workers(SitqQueueObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"all", NULL};
    PyObject *every = Py_False;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:workers", kwlist, &every)) return NULL;
    int all = sitqpy_bool_arg(every, "all");
    if (all < 0) return NULL;
    if (check_open(self) < 0) return NULL;
    return sitqpy_workers_list(sitq_queue_backend(self->queue), all);
}

PyDoc_STRVAR(metrics_text_doc,
             "metrics_text() -> str\n--\n\n"
             "The metrics of the queue's store (every queue) in the Prometheus text\n"
             "format, as `sitq metrics` prints them: tasks by queue and status,\n"
             "succeeded tasks per queue, the age of each queue's oldest ready task,\n"
             "workers by state with their attempt counters and the store's own figures\n"
             "(docs/metrics.md). Never walks the tasks. Raises InvalidArgumentError\n"
             "(queue not initialised), StorageError. Thread-safe; reads only.");

static PyObject *queue_metrics_text(SitqQueueObject *self, PyObject *unused) {
    (void)unused;
    if (check_open(self) < 0) return NULL;
    char *text = NULL;
    size_t len = 0;
    sitq_error err = {0};
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc =
        sitq_metrics_text(sitq_queue_backend(self->queue), &text, &len, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    PyObject *s = PyUnicode_DecodeUTF8(text, (Py_ssize_t)len, "replace");
    free(text);
    return s;
}

PyDoc_STRVAR(purge_doc, "purge(older_than=0.0) -> int\n--\n\n"
                        "Delete finished tasks (succeeded, failed, cancelled) that finished more\n"
                        "than older_than seconds ago, with their results; return how many.\n"
                        "Raises InvalidArgumentError, StorageError. Thread-safe.");

static PyObject *queue_purge(SitqQueueObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"older_than", NULL};
    PyObject *o = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:purge", kwlist, &o)) return NULL;
    double secs;
    if (check_open(self) < 0 || sitqpy_seconds_arg(o, "older_than", 0, 1, &secs) < 0) return NULL;
    int64_t n = 0;
    sitq_error err = {0};
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc = sitq_purge(self->queue, secs, &n, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    return PyLong_FromLongLong(n);
}

PyDoc_STRVAR(set_retention_doc,
             "set_retention(succeeded=604800.0, failed=2592000.0) -> None\n--\n\n"
             "Store how long the queue keeps its finished tasks (with their results,\n"
             "errors and payloads) after they finished: succeeded tasks, and failed\n"
             "or cancelled ones; each seconds > 0 or \"forever\" (defaults: 7 and 30\n"
             "days). Stored in the database: every worker and process follows it from\n"
             "its next purge window on, also for tasks already finished. A task\n"
             "enqueued with retention= keeps its own. Running workers delete expired\n"
             "tasks as they run, never a result that a dependent not yet finished\n"
             "needs. Raises InvalidArgumentError, StorageError. Thread-safe.");

static PyObject *queue_set_retention(SitqQueueObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"succeeded", "failed", NULL};
    PyObject *s = Py_None, *f = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:set_retention", kwlist, &s, &f)) return NULL;
    sitq_retention r = {0, 0, 0};
    if (check_open(self) < 0 ||
        sitqpy_keep_arg(s, "succeeded", SITQ_RETENTION_SUCCEEDED_DEFAULT_S, &r.succeeded_s) < 0 ||
        sitqpy_keep_arg(f, "failed", SITQ_RETENTION_FAILED_DEFAULT_S, &r.failed_s) < 0)
        return NULL;
    sitq_error err = {0};
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc = sitq_queue_set_retention(self->queue, &r, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(reset_retention_doc,
             "reset_retention() -> None\n--\n\n"
             "Forget the queue's retention (set_retention): the defaults apply again.\n"
             "Raises StorageError. Thread-safe.");

static PyObject *queue_reset_retention(SitqQueueObject *self, PyObject *unused) {
    (void)unused;
    if (check_open(self) < 0) return NULL;
    sitq_error err = {0};
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc = sitq_queue_set_retention(self->queue, NULL, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(get_retention_doc,
             "get_retention() -> dict\n--\n\n"
             "The queue's retention: {\"succeeded\": seconds or \"forever\", \"failed\":\n"
             "..., \"default\": True when the queue follows the defaults, \"finished_kept\":\n"
             "finished tasks stored, \"oldest_id\" and \"oldest_finished\" (Unix seconds)\n"
             "of the finished task of lowest id, or None}. Raises StorageError.\n"
             "Thread-safe; reads only.");

static PyObject *queue_get_retention(SitqQueueObject *self, PyObject *unused) {
    (void)unused;
    if (check_open(self) < 0) return NULL;
    sitq_retention r;
    sitq_retained k;
    sitq_error err = {0};
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc = sitq_queue_get_retention(self->queue, &r, &err);
    if (rc == SITQ_OK) rc = sitq_queue_retained(self->queue, &k, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    PyObject *oldest = k.oldest_id ? PyLong_FromLongLong(k.oldest_id) : Py_NewRef(Py_None);
    PyObject *when =
        k.oldest_id ? PyFloat_FromDouble((double)k.oldest_finished_us / 1e6) : Py_NewRef(Py_None);
    PyObject *s = sitqpy_keep_value(r.succeeded_s), *f = sitqpy_keep_value(r.failed_s);
    PyObject *d =
        (oldest && when && s && f)
            ? Py_BuildValue("{s:O,s:O,s:O,s:L,s:O,s:O}", "succeeded", s, "failed", f, "default",
                            r.is_default ? Py_True : Py_False, "finished_kept",
                            (long long)k.finished, "oldest_id", oldest, "oldest_finished", when)
            : NULL;
    Py_XDECREF(oldest);
    Py_XDECREF(when);
    Py_XDECREF(s);
    Py_XDECREF(f);
    return d;
}

static PyMethodDef queue_methods[] = {
    {"enqueue", (PyCFunction)(void (*)(void))queue_enqueue, METH_VARARGS | METH_KEYWORDS,
     enqueue_doc},
    {"task", (PyCFunction)(void (*)(void))queue_task, METH_VARARGS | METH_KEYWORDS, task_doc},
    {"enqueue_batch", (PyCFunction)queue_enqueue_batch, METH_O, enqueue_batch_doc},
    {"get_result", (PyCFunction)(void (*)(void))queue_get_result, METH_VARARGS | METH_KEYWORDS,
     get_result_doc},
    {"get_task_status", (PyCFunction)queue_get_task_status, METH_O, get_task_status_doc},
    {"peek", (PyCFunction)queue_peek, METH_O, peek_doc},
    {"cancel", (PyCFunction)queue_cancel, METH_O, cancel_doc},
    {"retry", (PyCFunction)queue_retry, METH_O, retry_doc},
    {"get_stats", (PyCFunction)queue_get_stats, METH_NOARGS, get_stats_doc},
    {"totals", (PyCFunction)queue_totals, METH_NOARGS, totals_doc},
    {"list_tasks", (PyCFunction)(void (*)(void))queue_list_tasks, METH_VARARGS | METH_KEYWORDS,
     list_tasks_doc},
    {"purge", (PyCFunction)(void (*)(void))queue_purge, METH_VARARGS | METH_KEYWORDS, purge_doc},
    {"workers", (PyCFunction)(void (*)(void))queue_workers, METH_VARARGS | METH_KEYWORDS,
     workers_doc},
    {"schedule", (PyCFunction)(void (*)(void))sitqpy_queue_schedule, METH_VARARGS | METH_KEYWORDS,
     "schedule(func, cron=None, *, every=None, args=(), kwargs=None, timezone=None, name=None, "
     "catch_up=True, allow_overlap=False, paused=False, **options) -> datetime: store a periodic "
     "schedule (sitq._schedule.schedule)."},
    {"periodic", (PyCFunction)(void (*)(void))sitqpy_queue_periodic, METH_VARARGS | METH_KEYWORDS,
     "periodic(cron=None, *, every=None, name=None, timezone=None, **kwargs): decorator form of "
     "schedule (sitq._schedule.periodic)."},
    {"schedules", (PyCFunction)(void (*)(void))sitqpy_queue_schedules, METH_VARARGS | METH_KEYWORDS,
     "schedules() -> list of dict: the queue's schedules (sitq._schedule.schedules)."},
    {"unschedule", (PyCFunction)(void (*)(void))sitqpy_queue_unschedule,
     METH_VARARGS | METH_KEYWORDS,
     "unschedule(name): remove a schedule (sitq._schedule.unschedule)."},
    {"pause_schedule", (PyCFunction)(void (*)(void))sitqpy_queue_pause_schedule,
     METH_VARARGS | METH_KEYWORDS,
     "pause_schedule(name): pause a schedule (sitq._schedule.pause_schedule)."},
    {"resume_schedule", (PyCFunction)(void (*)(void))sitqpy_queue_resume_schedule,
     METH_VARARGS | METH_KEYWORDS,
     "resume_schedule(name): resume a schedule (sitq._schedule.resume_schedule)."},
    {"set_retention", (PyCFunction)(void (*)(void))queue_set_retention,
     METH_VARARGS | METH_KEYWORDS, set_retention_doc},
    {"reset_retention", (PyCFunction)queue_reset_retention, METH_NOARGS, reset_retention_doc},
    {"get_retention", (PyCFunction)queue_get_retention, METH_NOARGS, get_retention_doc},
    {"pause", (PyCFunction)sitqpy_queue_pause, METH_NOARGS,
     "pause() -> None\n--\n\nPause the queue: no worker (of any process or host) claims a task of\n"
     "it until resume(); running tasks finish, enqueues go on. Stored in the\n"
     "database. Raises StorageError. Thread-safe."},
    {"resume", (PyCFunction)sitqpy_queue_resume, METH_NOARGS,
     "resume() -> None\n--\n\nResume a paused queue (a no-op when it is not paused).\n"
     "Raises StorageError. Thread-safe."},
    {"set_limit", (PyCFunction)(void (*)(void))sitqpy_queue_set_limit, METH_VARARGS | METH_KEYWORDS,
     "set_limit(function=None, *, concurrency=None, rate=None) -> None\n--\n\n"
     "Limit the queue (function None) or one function in it (the task function\n"
     "itself, or its stored name: 'py:module.name' for Python), replacing its\n"
     "limit: at most concurrency tasks running at once (int 1..1000000000) and\n"
     "at most rate starts (str 'COUNT/INTERVAL': '100/m', '10/s', '5/30s'),\n"
     "enforced by every worker's claim across processes and hosts. Give at\n"
     "least one. Raises InvalidArgumentError (bad values), StorageError.\n"
     "Thread-safe."},
    {"remove_limit", (PyCFunction)(void (*)(void))sitqpy_queue_remove_limit,
     METH_VARARGS | METH_KEYWORDS,
     "remove_limit(function=None) -> None\n--\n\nRemove the limit of the queue (function None)\n"
     "or of one function in it; a pause stays. Raises TaskNotFoundError when\n"
     "there is no such limit (nothing changes), InvalidArgumentError,\n"
     "StorageError. Thread-safe."},
    {"limits", (PyCFunction)sitqpy_queue_limits, METH_NOARGS,
     "limits() -> list[dict]\n--\n\nThe queue's pause and limits: dicts with function (None:\n"
     "the queue's own), paused, concurrency (0: none), rate_count (0: none) and\n"
     "rate_interval (seconds). Raises StorageError. Thread-safe."},
    {"metrics_text", (PyCFunction)queue_metrics_text, METH_NOARGS, metrics_text_doc},
    SITQPY_NO_PICKLE_METHODS,
    {NULL, NULL, 0, NULL}};

static PyObject *queue_get_name(SitqQueueObject *self, void *c) {
    (void)c;
    if (!self->queue) Py_RETURN_NONE;
    return PyUnicode_FromString(sitq_queue_name(self->queue));
}

static PyObject *queue_get_backend(SitqQueueObject *self, void *c) {
    (void)c;
    if (!self->backend) Py_RETURN_NONE;
    return Py_NewRef(self->backend);
}

static PyGetSetDef queue_getset[] = {
    {"name", (getter)queue_get_name, NULL, "The queue's name (str).", NULL},
    {"backend", (getter)queue_get_backend, NULL, "The SQLiteBackend the queue lives in.", NULL},
    {"paused", (getter)sitqpy_queue_get_paused, NULL,
     "True when the queue is paused (read from the database at each access).", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyObject *queue_repr(SitqQueueObject *self) {
    if (!self->queue) return PyUnicode_FromString("<sitq.TaskQueue (not initialised)>");
    return PyUnicode_FromFormat("<sitq.TaskQueue name='%s' backend=%R>",
                                sitq_queue_name(self->queue), self->backend);
}

PyDoc_STRVAR(queue_doc, "TaskQueue(backend, name=None)\n--\n\n"
                        "A named queue of tasks stored in a backend.\n\n"
                        "backend: a sitq.SQLiteBackend (required). name: the queue's name, 1..255\n"
                        "bytes; None for 'default'. Many TaskQueue objects (in any process) may\n"
                        "name the same queue. Thread-safe: use one queue from any number of\n"
                        "threads. Cannot be pickled (TypeError).");

PyTypeObject SitqQueue_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sitq.TaskQueue",
    .tp_basicsize = sizeof(SitqQueueObject),
    .tp_dealloc = (destructor)queue_dealloc,
    .tp_repr = (reprfunc)queue_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = queue_doc,
    .tp_traverse = (traverseproc)queue_traverse,
    .tp_weaklistoffset = offsetof(SitqQueueObject, weakrefs),
    .tp_methods = queue_methods,
    .tp_getset = queue_getset,
    .tp_init = (initproc)queue_init,
    .tp_new = PyType_GenericNew,
};
