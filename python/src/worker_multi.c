/*
 * worker_multi.c - the arguments of a sitq.Worker of several queues:
 * Worker([q_high, q_low], order="priority" | "round-robin"). The queues are
 * kept in a tuple (strong references: a queue must outlive its worker) and
 * handed to sitq_worker_create_multi; they must share one backend object,
 * which is checked here to name the Python objects in the message.
 */
#include "sitqpy.h"

#include <string.h>

/* The TaskQueue item i of the worker's queues, or NULL with
 * InvalidArgumentError set. */
static SitqQueueObject *queue_item(PyObject *obj, Py_ssize_t i, int single) {
    if (!PyObject_TypeCheck(obj, &SitqQueue_Type) || !((SitqQueueObject *)obj)->queue) {
        if (single)
            sitqpy_invalid("queue must be a sitq.TaskQueue or a list of them, got %.100s",
                           Py_TYPE(obj)->tp_name);
        else
            sitqpy_invalid("queue[%zd] must be a sitq.TaskQueue, got %.100s", i,
                           Py_TYPE(obj)->tp_name);
        return NULL;
    }
    if (sitqpy_queue_ready((SitqQueueObject *)obj) < 0) return NULL;
    return (SitqQueueObject *)obj;
}

int sitqpy_worker_queues_arg(PyObject *arg, PyObject **tuple, sitq_queue **qs, size_t *n) {
    *tuple = NULL;
    *n = 0;
    int single = PyObject_TypeCheck(arg, &SitqQueue_Type);
    if (!single && !PyList_Check(arg) && !PyTuple_Check(arg)) {
        queue_item(arg, 0, 1);
        return -1;
    }
    PyObject *t = single ? PyTuple_Pack(1, arg) : PySequence_Tuple(arg);
    if (!t) return -1;
    Py_ssize_t len = PyTuple_GET_SIZE(t);
    if (len < 1 || len > SITQ_WORKER_QUEUES_MAX) {
        sitqpy_invalid("a Worker serves 1..%d queues, got %zd", SITQ_WORKER_QUEUES_MAX, len);
        Py_DECREF(t);
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        SitqQueueObject *q = queue_item(PyTuple_GET_ITEM(t, i), i, single);
        SitqQueueObject *first = (SitqQueueObject *)PyTuple_GET_ITEM(t, 0);
        if (q && q->backend != first->backend) {
            sitqpy_invalid("the queues of a Worker must share one backend: queue '%s' and "
                           "queue '%s' were opened on different backend objects (pass the same "
                           "SQLiteBackend or PostgresBackend to every TaskQueue)",
                           sitq_queue_name(first->queue), sitq_queue_name(q->queue));
            q = NULL;
        }
        if (!q) {
            Py_DECREF(t);
            return -1;
        }
        qs[i] = q->queue;
    }
    *tuple = t;
    *n = (size_t)len;
    return 0;
}

int sitqpy_worker_order_arg(PyObject *order, sitq_worker_options *opts) {
    if (!order || order == Py_None) return 0;
    Py_ssize_t n = 0;
    const char *s = PyUnicode_Check(order) ? PyUnicode_AsUTF8AndSize(order, &n) : NULL;
    if (s && (size_t)n != strlen(s)) s = NULL; /* "priority\0..." is not "priority" */
    if (s && strcmp(s, "priority") == 0) opts->queue_order = SITQ_QUEUE_ORDER_PRIORITY;
    else if (s && strcmp(s, "round-robin") == 0) opts->queue_order = SITQ_QUEUE_ORDER_ROUND_ROBIN;
    else {
        PyErr_Clear();
        PyObject *r = PyObject_Repr(order);
        sitqpy_invalid("order must be 'priority' or 'round-robin', got %.100s",
                       r ? PyUnicode_AsUTF8(r) : "?");
        Py_XDECREF(r);
        return -1;
    }
    return 0;
}
