/*
 * pg_backend.c - sitq.PostgresBackend: a PostgreSQL database as a backend.
 *
 * A subtype of sitq.SQLiteBackend's C type with the same object layout, so
 * that TaskQueue, Worker and everything else take either; only opening
 * differs. .path is the connection string as given, with any password
 * shown as *** (dsn_mask.c): reprs and logs must not leak it.
 */
#include "core/dsn_mask.h"
#include "sitqpy.h"

#include <string.h>

static int pg_init(SitqBackendObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {
        "dsn",       "schema", "connect_timeout", "create_schema", "connection_pool_size",
        "poll_only", NULL};
    PyObject *dsn = NULL, *schema = Py_None, *timeout = Py_None, *create = Py_True, *pool = Py_None,
             *poll = Py_False;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$OOOOO:PostgresBackend", kwlist, &dsn, &schema,
                                     &timeout, &create, &pool, &poll))
        return -1;
    if (self->backend) {
        sitqpy_invalid("PostgresBackend is already open");
        return -1;
    }
    if (!PyUnicode_Check(dsn)) {
        sitqpy_invalid("dsn must be a str such as 'postgresql://user@host/db', got %.100s",
                       Py_TYPE(dsn)->tp_name);
        return -1;
    }
    Py_ssize_t len = 0;
    const char *cdsn = sitqpy_utf8_arg(dsn, "dsn", &len);
    if (!cdsn) return -1;
    if ((size_t)len != strlen(cdsn) || len == 0) {
        sitqpy_invalid("dsn must be a non-empty str without NUL characters");
        return -1;
    }
    sitq_postgres_options o;
    sitq_postgres_options_init(&o);
    if (schema != Py_None) {
        if (!PyUnicode_Check(schema)) {
            sitqpy_invalid("schema must be a str, got %.100s", Py_TYPE(schema)->tp_name);
            return -1;
        }
        if (!(o.schema = sitqpy_utf8_arg(schema, "schema", NULL))) return -1;
    }
    double t = o.connect_timeout_s;
    if (sitqpy_seconds_arg(timeout, "connect_timeout", t, 1, &t) < 0) return -1;
    if (t < 1 || t > 3600) {
        sitqpy_invalid("connect_timeout must be 1..3600 seconds, got %g", t);
        return -1;
    }
    o.connect_timeout_s = (int)(t + 0.5);
    /* a URI's sitq_poll_only=1 also sets poll_only */
    if ((o.create_schema = sitqpy_bool_arg(create, "create_schema")) < 0 ||
        (o.poll_only = sitqpy_bool_arg(poll, "poll_only")) < 0)
        return -1;
    long pool_n = o.reader_connections;
    if (pool != Py_None &&
        sitqpy_int_arg(pool, "connection_pool_size (read connections)", 0, 64, &pool_n) < 0)
        return -1;
    o.reader_connections = (int)pool_n;

    sitq_backend *b = NULL;
    sitq_error err = {0};
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc = sitq_backend_open_postgres(cdsn, &o, &b, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) {
        sitqpy_raise(rc, &err);
        return -1;
    }
    self->backend = b;
    char *shown = sitq__dsn_mask(cdsn);
    PyObject *path = shown ? PyUnicode_DecodeUTF8(shown, (Py_ssize_t)strlen(shown), "replace")
                           : PyErr_NoMemory();
    free(shown);
    if (!path) return -1; /* the backend stays open: closed with the object */
    Py_XSETREF(self->path, path);
    sitqpy_backend_opened(self, args, kwds, pg_init);
    return 0;
}

static int pg_traverse(SitqBackendObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->path);
    Py_VISIT(self->init_args);
    Py_VISIT(self->init_kwds);
    return 0;
}

static PyObject *pg_repr(SitqBackendObject *self) {
    return PyUnicode_FromFormat("<sitq.PostgresBackend path=%R%s>",
                                self->path ? self->path : Py_None,
                                self->backend ? "" : " (not open)");
}

PyDoc_STRVAR(pg_doc,
             "PostgresBackend(dsn, *, schema='sitq', connect_timeout=10,\n"
             "                create_schema=True, connection_pool_size=2,\n"
             "                poll_only=False)\n"
             "--\n\n"
             "Open a PostgreSQL database that stores tasks, with the same semantics as\n"
             "SQLiteBackend (TaskQueue and Worker take either).\n\n"
             "dsn: a libpq connection string ('postgresql://user@host:5432/db' or\n"
             "    'host=... dbname=...'), given to libpq untouched: PGPASSWORD, the\n"
             "    password and service files apply. .path shows it with any password\n"
             "    as '***'.\n"
             "schema: the schema holding sitq's tables (letters, digits, '_').\n"
             "connect_timeout: seconds before a connection attempt gives up (a\n"
             "    connect_timeout in dsn wins over it).\n"
             "create_schema: True creates a missing schema; False raises SchemaError.\n"
             "connection_pool_size: read connections, 0..64 (0: reads share the writer).\n"
             "poll_only: True for PgBouncer in transaction mode: no LISTEN (waits and\n"
             "    idle workers poll), no prepared statements, the session's settings\n"
             "    set by every write transaction. A dsn's ?sitq_poll_only=1 also sets it.\n\n"
             "Raises InvalidArgumentError, StorageError (unreachable server, failed\n"
             "authentication, missing privileges), SchemaError (missing schema with\n"
             "create_schema=False, another application's schema, another sitq version).");

PyTypeObject SitqPgBackend_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sitq.PostgresBackend",
    .tp_basicsize = sizeof(SitqBackendObject),
    .tp_repr = (reprfunc)pg_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = pg_doc,
    .tp_traverse = (traverseproc)pg_traverse,
    .tp_init = (initproc)pg_init,
    .tp_new = PyType_GenericNew,
};
