/* schedule.c - the extension's side of periodic schedules: three module
 * functions that sitq._schedule (Python) builds TaskQueue.schedule and the
 * decorator form on, plus the TaskQueue methods that delegate to it (as
 * TaskQueue.task delegates to sitq._decorator). The task a schedule
 * enqueues is prepared as for enqueue (sitqpy_prepare), so workers run it
 * as any Python task; a function that cannot be pickled cannot be stored. */
#include "sitqpy.h"

static sitq_queue *queue_of(PyObject *q) {
    if (!PyObject_TypeCheck(q, &SitqQueue_Type) || !((SitqQueueObject *)q)->queue) {
        sitqpy_invalid("queue must be an initialised sitq.TaskQueue");
        return NULL;
    }
    if (sitqpy_queue_ready((SitqQueueObject *)q) < 0) return NULL;
    return ((SitqQueueObject *)q)->queue;
}

/* Optional text argument: NULL for None. 0, or -1 with an exception. */
static int opt_text(PyObject *o, const char *what, const char **out) {
    *out = NULL;
    if (o == Py_None) return 0;
    if (!PyUnicode_Check(o)) {
        sitqpy_invalid("%s must be a str or None", what);
        return -1;
    }
    return (*out = sitqpy_utf8_arg(o, what, NULL)) ? 0 : -1;
}

static int fill_spec(PyObject *cron, PyObject *every, PyObject *tz, sitq_schedule_spec *sp) {
    if (opt_text(cron, "cron", &sp->cron) < 0 || opt_text(tz, "timezone", &sp->timezone) < 0)
        return -1;
    if (every != Py_None) {
        long v = 0;
        if (sitqpy_int_arg(every, "every", 1, 3155760000L, &v) < 0) return -1;
        sp->every_s = v;
    }
    return 0;
}

/* _schedule_add(queue, name, task, cron, every, timezone, skip_missed,
 * allow_overlap, paused) -> datetime of the first tick. */
PyObject *sitqpy_schedule_add(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *qo, *name, *task, *cron, *every, *tz;
    int skip, overlap, paused;
    if (!PyArg_ParseTuple(args, "OUO!OOOppp:_schedule_add", &qo, &name, &SitqTask_Type, &task,
                          &cron, &every, &tz, &skip, &overlap, &paused))
        return NULL;
    sitq_queue *q = queue_of(qo);
    const char *nm = q ? sitqpy_utf8_arg(name, "name", NULL) : NULL;
    if (!nm) return NULL;
    sitq_schedule_spec sp;
    sitq_schedule_spec_init(&sp);
    if (fill_spec(cron, every, tz, &sp) < 0) return NULL;
    sitqpy_prepared prep;
    if (sitqpy_prepare((SitqTaskObject *)task, NULL, 0, &prep) < 0) return NULL;
    if (prep.mem_token) {
        sitqpy_prepared_unregister(&prep);
        sitqpy_prepared_clear(&prep);
        return sitqpy_invalid("a schedule's function and arguments must be picklable: workers "
                              "of any process run its tasks (define the function at module "
                              "level)");
    }
    sp.function = prep.function;
    sp.payload = PyBytes_AS_STRING(prep.payload);
    sp.payload_len = (size_t)PyBytes_GET_SIZE(prep.payload);
    sp.options = &prep.opts;
    sp.skip_missed = skip;
    sp.allow_overlap = overlap;
    sp.paused = paused;
    sitq_time_us next = 0;
    sitq_error err = {0};
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc = sitq_schedule_add(q, nm, &sp, &next, &err);
    Py_END_ALLOW_THREADS sitqpy_prepared_clear(&prep);
    if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    return sitqpy_datetime_from_us(next);
}

static PyObject *schedule_dict(const sitq_schedule *s) {
    PyObject *next = sitqpy_datetime_from_us(s->next_fire_us);
    PyObject *last = sitqpy_datetime_from_us(s->last_tick_us);
    PyObject *d = NULL;
    if (next && last)
        d = Py_BuildValue(
            "{s:s, s:s, s:z, s:O, s:z, s:s, s:i, s:i, s:d, s:O, s:O, s:O, s:O, s:O, s:O}", "queue",
            s->queue, "name", s->name, "cron", s->cron, "every",
            s->every_s ? PyLong_FromLongLong(s->every_s) : Py_NewRef(Py_None), "timezone",
            s->timezone, "function", s->function, "priority", (int)s->priority, "max_retries",
            (int)s->max_retries, "timeout", s->timeout_s, "catch_up",
            s->skip_missed ? Py_False : Py_True, "allow_overlap",
            s->allow_overlap ? Py_True : Py_False, "paused", s->paused ? Py_True : Py_False,
            "next_fire", next, "last_tick", last, "last_task_id",
            s->last_task_id ? PyLong_FromLongLong(s->last_task_id) : Py_NewRef(Py_None));
    Py_XDECREF(next);
    Py_XDECREF(last);
    return d;
}

/* _schedule_list(queue) -> list of dicts, sorted by name. */
PyObject *sitqpy_schedule_list(PyObject *self, PyObject *qo) {
    (void)self;
    sitq_queue *q = queue_of(qo);
    if (!q) return NULL;
    sitq_schedule **items = NULL;
    size_t n = 0;
    sitq_error err = {0};
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc =
        sitq_schedule_list(sitq_queue_backend(q), sitq_queue_name(q), &items, &n, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    PyObject *list = PyList_New(0);
    for (size_t i = 0; i < n; i++) {
        PyObject *d = list ? schedule_dict(items[i]) : NULL;
        if (!d || PyList_Append(list, d) < 0) Py_CLEAR(list);
        Py_XDECREF(d);
        sitq_schedule_free(items[i]);
    }
    free(items);
    return list;
}

/* _schedule_set(queue, name, what): what 0 remove, 1 pause, 2 resume. */
PyObject *sitqpy_schedule_set(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *qo, *name;
    int what;
    if (!PyArg_ParseTuple(args, "OOi:_schedule_set", &qo, &name, &what)) return NULL;
    if (!PyUnicode_Check(name))
        return sitqpy_invalid("name must be a str, got %.100s", Py_TYPE(name)->tp_name);
    sitq_queue *q = queue_of(qo);
    const char *nm = q ? sitqpy_utf8_arg(name, "name", NULL) : NULL;
    if (!nm) return NULL;
    sitq_error err = {0};
    sitq_code rc;
    Py_BEGIN_ALLOW_THREADS rc = what == 0   ? sitq_schedule_remove(q, nm, &err)
                                : what == 1 ? sitq_schedule_pause(q, nm, &err)
                                            : sitq_schedule_resume(q, nm, &err);
    Py_END_ALLOW_THREADS if (rc != SITQ_OK) return sitqpy_raise(rc, &err);
    Py_RETURN_NONE;
}

/* TaskQueue.<method>(...) -> sitq._schedule.<method>(queue, ...). */
static PyObject *delegate(PyObject *self, const char *method, PyObject *args, PyObject *kwds) {
    PyObject *mod = PyImport_ImportModule("sitq._schedule");
    if (!mod) return NULL;
    PyObject *fn = PyObject_GetAttrString(mod, method);
    Py_DECREF(mod);
    if (!fn) return NULL;
    PyObject *self_tuple = PyTuple_Pack(1, self);
    PyObject *full = self_tuple ? PySequence_Concat(self_tuple, args) : NULL;
    Py_XDECREF(self_tuple);
    PyObject *r = full ? PyObject_Call(fn, full, kwds) : NULL;
    Py_XDECREF(full);
    Py_DECREF(fn);
    return r;
}

PyObject *sitqpy_queue_schedule(PyObject *self, PyObject *args, PyObject *kwds) {
    return delegate(self, "schedule", args, kwds);
}
PyObject *sitqpy_queue_periodic(PyObject *self, PyObject *args, PyObject *kwds) {
    return delegate(self, "periodic", args, kwds);
}
PyObject *sitqpy_queue_schedules(PyObject *self, PyObject *args, PyObject *kwds) {
    return delegate(self, "schedules", args, kwds);
}
PyObject *sitqpy_queue_unschedule(PyObject *self, PyObject *args, PyObject *kwds) {
    return delegate(self, "unschedule", args, kwds);
}
PyObject *sitqpy_queue_pause_schedule(PyObject *self, PyObject *args, PyObject *kwds) {
    return delegate(self, "pause_schedule", args, kwds);
}
PyObject *sitqpy_queue_resume_schedule(PyObject *self, PyObject *args, PyObject *kwds) {
    return delegate(self, "resume_schedule", args, kwds);
}
