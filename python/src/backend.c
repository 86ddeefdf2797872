/*
 * backend.c - sitq.SQLiteBackend: an open SQLite database file.
 */
#include "sitqpy.h"

#include <unistd.h>

#include <string.h>
#include <strings.h>

PyObject *sitqpy_no_pickle(PyObject *self, PyObject *args) {
    (void)args;
    if (PyObject_TypeCheck(self, &SitqTask_Type)) {
        /* A Task holds no connection: it is a call to enqueue, not a value. */
        PyErr_SetString(PyExc_TypeError, "cannot pickle a sitq.Task: it is a call to enqueue "
                                         "(pickle its function and arguments instead)");
        return NULL;
    }
    PyErr_Format(PyExc_TypeError,
                 "cannot pickle a sitq.%s object: it holds open database connections "
                 "and threads of this process",
                 Py_TYPE(self)->tp_name +
                     (strncmp(Py_TYPE(self)->tp_name, "sitq.", 5) == 0 ? 5 : 0));
    return NULL;
}

static PyMethodDef backend_methods[] = {SITQPY_NO_PICKLE_METHODS, {NULL, NULL, 0, NULL}};

static int parse_sync(PyObject *obj, sitq_sync_mode *out) {
    if (obj == NULL || obj == Py_None) {
        *out = SITQ_SYNC_NORMAL;
        return 0;
    }
    if (PyUnicode_Check(obj)) {
        const char *s = sitqpy_utf8_arg(obj, "synchronous", NULL);
        if (!s) return -1;
        static const char *names[] = {"off", "normal", "full", "extra"};
        for (int i = 0; i < 4; i++)
            if (strcasecmp(s, names[i]) == 0) {
                *out = (sitq_sync_mode)i;
                return 0;
            }
        sitqpy_invalid(
            "synchronous must be 'off', 'normal', 'full' or 'extra' (or 0..3), got '%.50s'", s);
        return -1;
    }
    if (PyLong_Check(obj) && !PyBool_Check(obj)) {
        long v;
        if (sitqpy_int_arg(obj, "synchronous (off, normal, full, extra)", 0, 3, &v) < 0) return -1;
        *out = (sitq_sync_mode)v;
        return 0;
    }
    sitqpy_invalid("synchronous must be a str such as 'normal' or an int 0..3, got %.100s",
                   Py_TYPE(obj)->tp_name);
    return -1;
}

/* A bool keyword (only True or False: "yes" or 1 would hide a mistake).
 * Returns 0 or 1, or -1 with InvalidArgumentError set. */
/* file_mode: None (0o600) or permission bits 0..0o777 (0: follow the umask).
 * Returns 0, or -1 with InvalidArgumentError set. */
static int parse_file_mode(PyObject *obj, int *out) {
    if (obj == Py_None) return 0;
    if (!PyLong_Check(obj) || PyBool_Check(obj)) {
        sitqpy_invalid("file_mode must be an int such as 0o600 or None, got %.100s",
                       Py_TYPE(obj)->tp_name);
        return -1;
    }
    int overflow = 0;
    long v = PyLong_AsLongAndOverflow(obj, &overflow);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (overflow || v < 0 || v > 0777) {
        sitqpy_invalid("file_mode must be permission bits 0..0o777 (0: follow the umask)");
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* The database path argument (str, bytes or os.PathLike) as *spath, the
 * str shown as .path, and *bpath, its bytes in the filesystem encoding, as
 * os.open uses: names that are not UTF-8 (surrogate-escaped in str) open
 * the right file. Both new references on success (0); -1 with
 * InvalidArgumentError set. */
static int convert_path(PyObject *path, PyObject **spath, PyObject **bpath) {
    PyObject *fspath = PyOS_FSPath(path);
    if (!fspath) {
        PyErr_Clear();
        sitqpy_invalid("path must be a str or os.PathLike naming the database file, got %.100s",
                       Py_TYPE(path)->tp_name);
        return -1;
    }
    PyObject *s = NULL, *b = NULL;
    if (PyBytes_Check(fspath)) {
        b = fspath;
        s = PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
    } else {
        s = fspath;
        b = PyUnicode_EncodeFSDefault(s);
        if (!b && PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
            PyErr_Clear();
            PyObject *r = PyObject_ASCII(s);
            sitqpy_invalid("path must be a file name the filesystem encoding can encode (no "
                           "lone surrogates), got %.200s",
                           r ? PyUnicode_AsUTF8(r) : "?");
            Py_XDECREF(r);
        }
    }
    const char *cpath = b ? PyBytes_AS_STRING(b) : NULL;
    if (s && cpath && (size_t)PyBytes_GET_SIZE(b) != strlen(cpath))
        sitqpy_invalid("path must not contain NUL characters");
    else if (s && cpath && cpath[0] == '\0')
        sitqpy_invalid("path must not be empty (use ':memory:' for an in-memory database)");
    else if (s && cpath) {
        *spath = s;
        *bpath = b;
        return 0;
    }
    Py_XDECREF(s);
    Py_XDECREF(b);
    return -1;
}

/* The keyword arguments of SQLiteBackend() as sitq_sqlite_options. 0, or -1
 * with InvalidArgumentError set. */
static int parse_backend_options(PyObject *pool, PyObject *wal, PyObject *sync, PyObject *busy,
                                 PyObject *foreign, PyObject *mode, PyObject *ro,
                                 sitq_sqlite_options *opts) {
    sitq_sqlite_options_init(opts);
    long pool_n = opts->reader_connections;
    double busy_s = opts->busy_timeout_ms / 1000.0;
    if ((pool != Py_None &&
         sitqpy_int_arg(pool, "connection_pool_size (read connections)", 0, 64, &pool_n) < 0) ||
        parse_sync(sync, &opts->synchronous) < 0 ||
        sitqpy_seconds_arg(busy, "busy_timeout", busy_s, 1, &busy_s) < 0)
        return -1;
    opts->reader_connections = (int)pool_n;
    /* A flag, not any truthy object: enable_wal="no" would mean True. */
    if (!PyBool_Check(wal)) {
        sitqpy_invalid("enable_wal must be True or False, got %.100s", Py_TYPE(wal)->tp_name);
        return -1;
    }
    opts->enable_wal = wal == Py_True;
    if (busy_s > 2147483.0) {
        sitqpy_invalid("busy_timeout must be at most 2147483 seconds, got %g", busy_s);
        return -1;
    }
    opts->busy_timeout_ms = (int)(busy_s * 1000.0 + 0.5);
    if ((opts->allow_foreign = sitqpy_bool_arg(foreign, "allow_foreign")) < 0 ||
        (opts->read_only = sitqpy_bool_arg(ro, "read_only")) < 0 ||
        parse_file_mode(mode, &opts->file_mode) < 0)
        return -1;
    return 0;
}

static int backend_init(SitqBackendObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"path",
                             "connection_pool_size",
                             "enable_wal",
                             "synchronous",
                             "busy_timeout",
                             "allow_foreign",
                             "file_mode",
                             "read_only",
                             NULL};
    PyObject *path = NULL, *pool = Py_None, *wal = Py_True, *sync = Py_None, *busy = Py_None;
    PyObject *foreign = Py_False, *mode = Py_None, *ro = Py_False;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|OOOO$OOO:SQLiteBackend", kwlist, &path, &pool,
                                     &wal, &sync, &busy, &foreign, &mode, &ro))
        return -1;
    if (self->backend) {
        sitqpy_invalid("SQLiteBackend is already open");
        return -1;
    }
    PyObject *spath = NULL, *bpath = NULL;
    if (convert_path(path, &spath, &bpath) < 0) return -1;
    sitq_sqlite_options opts;
    if (parse_backend_options(pool, wal, sync, busy, foreign, mode, ro, &opts) < 0) {
        Py_DECREF(spath);
        Py_DECREF(bpath);
        return -1;
    }
    const char *cpath = PyBytes_AS_STRING(bpath);
    sitq_backend *b = NULL;
    sitq_error err = {0};
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc = sitq_backend_open_sqlite(cpath, &opts, &b, &err);
    Py_END_ALLOW_THREADS Py_DECREF(bpath);
    if (rc != SITQ_OK) {
        Py_DECREF(spath);
        sitqpy_raise(rc, &err);
        return -1;
    }
    self->backend = b;
    Py_XSETREF(self->path, spath);
    sitqpy_backend_opened(self, args, kwds, backend_init);
    return 0;
}

void sitqpy_backend_opened(SitqBackendObject *self, PyObject *args, PyObject *kwds,
                           int (*reopen)(SitqBackendObject *, PyObject *, PyObject *)) {
    self->pid = (long)getpid();
    self->reopen = reopen;
    if (self->init_args != args) Py_XSETREF(self->init_args, Py_XNewRef(args));
    if (self->init_kwds != kwds) Py_XSETREF(self->init_kwds, Py_XNewRef(kwds));
}

int sitqpy_backend_inherited(const SitqBackendObject *self) {
    return self->backend && self->pid != (long)getpid();
}

/* Reopen an inherited backend; the caller holds self->reopen_lock. */
static int reopen_here(SitqBackendObject *self) {
    if (!sitqpy_backend_inherited(self)) return 0; /* another thread reopened it */
    self->backend = NULL;                          /* the parent's: not ours to close */
    PyObject *args = self->init_args ? Py_NewRef(self->init_args) : PyTuple_New(0);
    PyObject *kwds = Py_XNewRef(self->init_kwds);
    int rc = args ? self->reopen(self, args, kwds) : -1;
    Py_XDECREF(args);
    Py_XDECREF(kwds);
    return rc;
}

int sitqpy_backend_ready(SitqBackendObject *self) {
    long here = (long)getpid();
    if (self->lock_pid != here) {
        if (!sitqpy_backend_inherited(self)) return 0;
        /* The first use in this process (the GIL makes this check and the
         * assignment one step): the parent's lock, if any, is left alone. */
        self->reopen_lock = PyThread_allocate_lock();
        if (!self->reopen_lock) {
            PyErr_NoMemory();
            return -1;
        }
        self->lock_pid = here;
    } else if (self->backend && self->pid == here) {
        return 0; /* reopened here: the lock only matters while a reopen runs */
    }
    if (!PyThread_acquire_lock(self->reopen_lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS PyThread_acquire_lock(self->reopen_lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
    int rc = reopen_here(self);
    PyThread_release_lock(self->reopen_lock);
    return rc;
}

int sitqpy_queue_ready(SitqQueueObject *self) {
    if (!self->queue) {
        sitqpy_invalid("TaskQueue is not initialised (call sitq.TaskQueue(backend=...))");
        return -1;
    }
    if (self->pid == (long)getpid()) return 0;
    SitqBackendObject *b = (SitqBackendObject *)self->backend;
    if (sitqpy_backend_ready(b) < 0) return -1;
    /* Another thread may have reopened the queue while this one waited for
     * the backend (the GIL is held from here to the assignment below). */
    if (self->pid == (long)getpid()) return 0;
    if (!b->backend) {
        sitqpy_invalid("the backend of this TaskQueue is not open");
        return -1;
    }
    /* The parent's name outlives this call: its queue is never closed here. */
    const char *name = sitq_queue_name(self->queue);
    sitq_queue *q = NULL;
    sitq_error err = {0};
    sitq_code rc = sitq_queue_open(b->backend, name, &q, &err);
    if (rc != SITQ_OK) {
        sitqpy_raise(rc, &err);
        return -1;
    }
    self->queue = q; /* the parent's queue is left as it is */
    self->pid = (long)getpid();
    return 0;
}

static void backend_dealloc(SitqBackendObject *self) {
    PyObject_GC_UnTrack(self);
    if (self->weakrefs) PyObject_ClearWeakRefs((PyObject *)self);
    if (self->backend && !sitqpy_backend_inherited(self)) {
        sitq_backend *b = self->backend;
        self->backend = NULL;
        Py_BEGIN_ALLOW_THREADS sitq_backend_close(b);
        Py_END_ALLOW_THREADS
    }
    if (self->reopen_lock && self->lock_pid == (long)getpid())
        PyThread_free_lock(self->reopen_lock);
    Py_CLEAR(self->path);
    Py_CLEAR(self->init_args);
    Py_CLEAR(self->init_kwds);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int backend_traverse(SitqBackendObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->path);
    Py_VISIT(self->init_args);
    Py_VISIT(self->init_kwds);
    return 0;
}

static PyObject *backend_repr(SitqBackendObject *self) {
    return PyUnicode_FromFormat("<sitq.SQLiteBackend path=%R%s>", self->path ? self->path : Py_None,
                                self->backend ? "" : " (not open)");
}

static PyObject *backend_get_path(SitqBackendObject *self, void *c) {
    (void)c;
    if (!self->path) Py_RETURN_NONE;
    return Py_NewRef(self->path);
}

static PyObject *backend_get_blob_max(SitqBackendObject *self, void *c) {
    (void)c;
    if (!self->backend) Py_RETURN_NONE;
    return PyLong_FromSize_t(sitq_backend_blob_max(self->backend));
}

static PyGetSetDef backend_getset[] = {
    {"path", (getter)backend_get_path, NULL, "The database file name (str).", NULL},
    {"blob_max", (getter)backend_get_blob_max, NULL,
     "The largest payload, and payload + result of one task, in bytes, that this\n"
     "backend stores (int; None once closed). The envelope of a Python task counts.",
     NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyDoc_STRVAR(backend_doc,
             "SQLiteBackend(path, connection_pool_size=None, enable_wal=True,\n"
             "              synchronous='normal', busy_timeout=30.0, *,\n"
             "              allow_foreign=False, file_mode=None, read_only=False)\n"
             "--\n\n"
             "Open (creating if needed) a SQLite database file that stores tasks.\n"
             "Opening an existing sitq database only reads it, so it succeeds while\n"
             "another process holds (or is stopped holding) the write lock.\n\n"
             "path: str or os.PathLike, or ':memory:' for a private in-memory database.\n"
             "connection_pool_size: read-only connections used for status, lists and\n"
             "    waits, 0..64 (default 4; 0 means reads share the writer connection).\n"
             "enable_wal: True (default) for journal_mode=WAL, False for a rollback journal\n"
             "    (a bool; other values are refused).\n"
             "synchronous: 'off', 'normal' (default), 'full' or 'extra' (or 0..3), as\n"
             "    SQLite's PRAGMA synchronous.\n"
             "busy_timeout: seconds to wait for a lock another process holds before\n"
             "    raising DatabaseBusyError (default 30). SQLite has one writer at a\n"
             "    time: a stopped or hung process holding the write lock blocks writers.\n"
             "allow_foreign: False (default) refuses, unchanged, a database holding\n"
             "    another application's tables (SchemaError); True adds sitq's tables.\n"
             "file_mode: permissions of a file this call creates; None means 0o600\n"
             "    (owner only), 0 follows the umask.\n"
             "read_only: True opens an existing sitq database for reading only (works\n"
             "    on a read-only file or mount; every write raises StorageError).\n\n"
             "The same file may be shared by several processes (other Python processes,\n"
             "`python -m sitq worker`, the C library and the `sitq` command).\n"
             "Raises InvalidArgumentError (bad argument, named in the message),\n"
             "StorageError (cannot open the file; the message names it), SchemaError\n"
             "(another application's file, or one of another sitq version),\n"
             "DatabaseBusyError (the lock was not free within busy_timeout). Thread-safe: one "
             "backend may be used by any number of threads.\n"
             "Cannot be pickled (TypeError). The database is closed when the last\n"
             "reference (including those of queues and workers) goes away.");

PyTypeObject SitqBackend_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sitq.SQLiteBackend",
    .tp_basicsize = sizeof(SitqBackendObject),
    .tp_dealloc = (destructor)backend_dealloc,
    .tp_repr = (reprfunc)backend_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = backend_doc,
    .tp_traverse = (traverseproc)backend_traverse,
    .tp_weaklistoffset = offsetof(SitqBackendObject, weakrefs),
    .tp_methods = backend_methods,
    .tp_getset = backend_getset,
    .tp_init = (initproc)backend_init,
    .tp_new = PyType_GenericNew,
};
