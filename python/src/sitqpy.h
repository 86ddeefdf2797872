/*
 * sitqpy.h - shared declarations of the sitq._sitq CPython extension.
 *
 * The extension is single-phase initialised and keeps its shared state in
 * the globals declared here (one interpreter per process; sub-interpreters
 * are not supported). Every global PyObject is only touched with the GIL
 * held; the few C-level flags are atomics.
 */
#ifndef SITQPY_H
#define SITQPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdatomic.h>

#include "sitq.h"

/* ---- objects ------------------------------------------------------ */

/* After a fork, the child must not touch what the parent opened: the
 * parent's SQLite connections (SQLite forbids it; a mutex a parent thread
 * held stays locked for good) or its PostgreSQL sockets (both processes
 * would talk on one connection). A backend and a queue remember the
 * process that opened them; used in another process, they are opened again
 * there with the same arguments (sitqpy_queue_ready), and what the parent
 * opened is left alone, never closed, in the child. */
typedef struct SitqBackendObject {
    PyObject_HEAD sitq_backend *backend;
    PyObject *path; /* str */
    PyObject *weakrefs;
    long pid;            /* the process that opened backend */
    PyObject *init_args; /* the arguments it was opened with (tuple, dict or NULL) */
    PyObject *init_kwds;
    int (*reopen)(struct SitqBackendObject *self, PyObject *args, PyObject *kwds);
    /* Serialises the reopen in a child: the open releases the GIL, and the
     * child's other threads wait for it instead of finding no backend. Made
     * in the process named by lock_pid (a lock made before the fork may be
     * held by a parent thread that is not in the child: never used there). */
    PyThread_type_lock reopen_lock;
    long lock_pid;
} SitqBackendObject;

typedef struct {
    PyObject_HEAD sitq_queue *queue;
    PyObject *backend; /* SitqBackendObject, strong */
    PyObject *weakrefs;
    long pid; /* the process that opened queue */
} SitqQueueObject;

/* Remember how self was opened (its init's arguments), in this process. */
void sitqpy_backend_opened(SitqBackendObject *self, PyObject *args, PyObject *kwds,
                           int (*reopen)(SitqBackendObject *, PyObject *, PyObject *));
/* 1 when self's backend was opened by another process (before a fork). */
int sitqpy_backend_inherited(const SitqBackendObject *self);
/* A backend usable in this process: 0, opened again here first (with the
 * arguments it was opened with, the parent's left alone) when it was opened
 * before a fork; -1 with the open's exception. */
int sitqpy_backend_ready(SitqBackendObject *self);
/* A queue usable in this process: 0, opened again here first when it was
 * opened before a fork; -1 with an exception set (not initialised, or the
 * reopen failed). Call before every use of self->queue. */
int sitqpy_queue_ready(SitqQueueObject *self);

typedef struct {
    PyObject_HEAD sitq_worker *worker;
    PyObject *queue;  /* SitqQueueObject, strong: the first of queues */
    PyObject *queues; /* tuple of the SitqQueueObjects served, in priority order */
    int concurrency;
    double lease_s;
    atomic_int running; /* 1 between start() and stop() */
    PyObject *weakrefs;
    long pid; /* the process whose threads run it: a forked child's copy runs nothing */
} SitqWorkerObject;

typedef struct {
    PyObject_HEAD PyObject *function; /* callable */
    PyObject *args;                   /* tuple */
    PyObject *kwargs;                 /* dict */
    PyObject *name;                   /* str: stored function name, "py:module.qualname" */
    PyObject *unique_key;             /* str or NULL */
    PyObject *depends_on;             /* tuple of int and SitqTaskObject */
    PyObject *eta;                    /* the eta argument as given (datetime/float) or NULL */
    int32_t priority;
    int32_t max_retries;
    sitq_time_us eta_us; /* 0 = none */
    double delay_s;      /* 0 = none */
    double timeout_s;    /* 0 = none */
    double backoff_base_s;
    double backoff_cap_s;
    int finalizer; /* sitq_task_options.finalizer */
    double keep_s; /* sitq_task_options.keep_s: 0 the queue's, SITQ_KEEP_FOREVER */
    int has_refs;  /* args/kwargs hold sitq.result_of placeholders */
} SitqTaskObject;

typedef struct {
    PyObject_HEAD sitq_task_id id;
    int status;
    int32_t priority;
    int32_t attempts;
    int32_t max_retries;
    double progress;
    double timeout_s;
    int cancel_requested;
    sitq_time_us enqueued_at_us, eta_us, started_at_us, finished_at_us;
    PyObject *queue_name; /* str or None */
    PyObject *function;   /* str or None */
    PyObject *error;      /* str or None */
    PyObject *traceback;  /* str or None (without the exception line) */
    PyObject *exc_blob;   /* str (base64 of the pickled exception) or None */
    PyObject *worker_id;  /* str or None */
    PyObject *unique_key; /* str or None */
    PyObject *depends_on; /* tuple of int */
    PyObject *raw;        /* bytes (pickled value) or NULL */
    PyObject *value;      /* deserialised value, NULL until first access */
} SitqResultObject;

extern PyTypeObject SitqBackend_Type;
extern PyTypeObject SitqPgBackend_Type; /* a subtype: same layout */
extern PyTypeObject SitqQueue_Type;
extern PyTypeObject SitqWorker_Type;
extern PyTypeObject SitqTask_Type;
extern PyTypeObject SitqResult_Type;

/* ---- module state (module.c) ---------------------------------------- */

/* Callables cached at import: pickle.dumps/loads, cloudpickle.dumps (or
 * NULL when cloudpickle cannot be imported), traceback.format_exception,
 * traceback.format_exception_only, the UTC epoch datetime. */
extern PyObject *sitqpy_pickle_dumps;
extern PyObject *sitqpy_pickle_loads;
extern PyObject *sitqpy_cloudpickle_dumps;
extern PyObject *sitqpy_format_exception;
extern PyObject *sitqpy_format_exception_only;
extern PyObject *sitqpy_epoch;
extern PyObject *sitqpy_highest_protocol;

/* Exception classes (defined in sitq/errors.py, looked up at import). */
extern PyObject *sitqpy_Error;              /* SitqError */
extern PyObject *sitqpy_InvalidArgument;    /* InvalidArgumentError */
extern PyObject *sitqpy_TaskTimeout;        /* TaskTimeoutError */
extern PyObject *sitqpy_SerializationError; /* SerializationError */
extern PyObject *sitqpy_Retry;              /* sitq.Retry */
extern PyObject *sitqpy_NoRetry;            /* sitq.NoRetry */

/* When exc, raised by a task's function, is a sitq.Retry or sitq.NoRetry,
 * tell the attempt (sitq_ctx_retry_after, sitq_ctx_no_retry). Never fails:
 * errors are cleared. */
void sitqpy_apply_retry_choice(sitq_task_ctx *ctx, PyObject *exc);

/* Functions held in process memory: token (str) -> (func, args, kwargs). */
extern PyObject *sitqpy_memfuncs;

/* Set once the interpreter is shutting down (atexit): handlers refuse to run. */
extern atomic_int sitqpy_finalizing;

/* Raise the sitq exception matching err->code with err->message. Returns NULL. */
/* TaskQueue's pause and limits (queue_limits.c). */
PyObject *sitqpy_queue_pause(SitqQueueObject *self, PyObject *unused);
PyObject *sitqpy_queue_resume(SitqQueueObject *self, PyObject *unused);
PyObject *sitqpy_queue_get_paused(SitqQueueObject *self, void *c);
PyObject *sitqpy_queue_set_limit(SitqQueueObject *self, PyObject *args, PyObject *kwds);
PyObject *sitqpy_queue_remove_limit(SitqQueueObject *self, PyObject *args, PyObject *kwds);
PyObject *sitqpy_queue_limits(SitqQueueObject *self, PyObject *unused);

PyObject *sitqpy_raise(sitq_code code, const sitq_error *err);
/* Raise InvalidArgumentError with a printf-style message. Returns NULL. */
PyObject *sitqpy_invalid(const char *fmt, ...);

/* _cron_times(expr, after, timezone=None, count=1) -> list of int: the next
 * `count` fire times of a cron expression after Unix time `after`, each
 * after the previous one (cron.c). */
PyObject *sitqpy_cron_times(PyObject *self, PyObject *args, PyObject *kw);

/* _dashboard_main(args) -> int: run `sitq dashboard` with the list of str
 * args (args[0] is "dashboard") until SIGINT or SIGTERM, the GIL released;
 * the command's exit status (dashboard.c). */
PyObject *sitqpy_dashboard_main(PyObject *self, PyObject *list);

/* ---- worker_multi.c ------------------------------------------------- */

/* Worker(queue): a TaskQueue, or a list or tuple of 1..SITQ_WORKER_QUEUES_MAX
 * TaskQueues of one backend object. Fills qs (room for
 * SITQ_WORKER_QUEUES_MAX) and *n; *tuple a new tuple of them. 0, or -1 with
 * InvalidArgumentError (or MemoryError) set. */
int sitqpy_worker_queues_arg(PyObject *arg, PyObject **tuple, sitq_queue **qs, size_t *n);
/* Worker(order=...): None, 'priority' or 'round-robin' into
 * opts->queue_order. 0, or -1 with InvalidArgumentError set. */
int sitqpy_worker_order_arg(PyObject *order, sitq_worker_options *opts);

/* Running workers (strong refs) so they survive until stop() / exit. */
int sitqpy_track_worker(PyObject *worker);
void sitqpy_untrack_worker(PyObject *worker);
/* Stop a Worker at once, abandoning its running tasks (recorded as failed),
 * and untrack it. GIL held; releases it while stopping. */
void sitqpy_worker_abandon(PyObject *worker);

/* __reduce__/__reduce_ex__ raising TypeError: sitq objects hold live
 * connections and threads, so a pickled bound method of an object that
 * holds one fails to pickle and is kept in process memory instead. */
PyObject *sitqpy_no_pickle(PyObject *self, PyObject *args);
#define SITQPY_NO_PICKLE_METHODS                                                                   \
    {"__reduce__", (PyCFunction)sitqpy_no_pickle, METH_NOARGS,                                     \
     "Refuse pickling (TypeError): the object holds live connections/threads."},                   \
    {                                                                                              \
        "__reduce_ex__", (PyCFunction)sitqpy_no_pickle, METH_VARARGS,                              \
            "Refuse pickling (TypeError): the object holds live connections/threads."              \
    }

/* ---- helpers -------------------------------------------------------- */

/* Seconds argument: None -> dflt; number 0..SITQ_SECONDS_MAX -> value. -1 on
 * error (raises InvalidArgumentError naming `what`). */
int sitqpy_seconds_arg(PyObject *obj, const char *what, double dflt, int allow_none, double *out);
/* A retention argument: None -> dflt; "forever" -> SITQ_KEEP_FOREVER; a
 * number of seconds > 0 and at most SITQ_SECONDS_MAX -> value. -1 on error
 * (raises InvalidArgumentError naming `what`). */
int sitqpy_keep_arg(PyObject *obj, const char *what, double dflt, double *out);
/* A retention in seconds as Python: "forever" or a float (new reference). */
PyObject *sitqpy_keep_value(double s);
/* UTF-8 of a str argument (valid while obj lives), its length in *len.
 * With len NULL the text is for use as a C string, and one that holds a NUL
 * is refused. NULL with InvalidArgumentError naming `what` when the text
 * cannot be encoded (a lone surrogate) or, len NULL, holds a NUL; NULL with
 * MemoryError. */
const char *sitqpy_utf8_arg(PyObject *obj, const char *what, Py_ssize_t *len);
/* A flag argument: True -> 1, False -> 0; anything else (1, "no", None)
 * -> -1 with InvalidArgumentError naming `what`, since a truthy "false"
 * must not mean True. */
int sitqpy_bool_arg(PyObject *obj, const char *what);
/* int argument within lo..hi (not bool): -1 with InvalidArgumentError naming
 * `what` (also for ints beyond the machine's range). */
int sitqpy_int_arg(PyObject *obj, const char *what, long lo, long hi, long *out);
/* int64 id argument; -1 with an exception on error. */
int sitqpy_task_id_arg(PyObject *obj, const char *what, sitq_task_id *out);

/* eta argument (datetime or Unix seconds) -> microseconds; -1 on error. */
int sitqpy_eta_arg(PyObject *obj, sitq_time_us *out);
/* datetime (UTC, aware) from microseconds since the epoch; None for 0. */
PyObject *sitqpy_datetime_from_us(sitq_time_us us);

/* ---- value_record.c: a result as stored (src/core/pyvalue.h) ---------- */

/* The bounded repr stored with a result (sitq/_valuerepr.py): a str; a
 * repr that raises gives "<unrepresentable TYPE>". NULL with the error set
 * only for errors that are not the repr's (KeyboardInterrupt, MemoryError).
 * GIL held. */
PyObject *sitqpy_value_repr(PyObject *value);
/* Store the pickle data[0..n) with repr_text (str; NULL or not a str: an
 * empty repr) as the attempt's result record; the bare pickle when no
 * record can be built. Releases the GIL while libsitq copies it: data must
 * stay valid and unchanged until it returns (a bytes object, or a buffer
 * held with PyObject_GetBuffer). Returns sitq_ctx_set_result's /
 * sitq_ctx_take_result's code. */
sitq_code sitqpy_store_record(sitq_task_ctx *ctx, PyObject *repr_text, const char *data, size_t n);
/* The pickle inside stored result raw (bytes) of task id, record or bare
 * pickle: *pickle points into raw. -1 with SerializationError set when raw
 * is a malformed record. */
int sitqpy_record_pickle(PyObject *raw, long long id, const char **pickle, Py_ssize_t *len);
/* The repr stored in raw (bytes or NULL) as a str, or None when raw is not
 * a record (a new reference; NULL only when out of memory). */
PyObject *sitqpy_record_repr(PyObject *raw);

/* ---- task.c --------------------------------------------------------- */

/* A task serialised for enqueue. All members owned; free with
 * sitqpy_prepared_clear. Built with the GIL; used without it. */
typedef struct {
    char *function;      /* "py:..." */
    PyObject *payload;   /* bytes */
    PyObject *mem_token; /* str or NULL: registered in sitqpy_memfuncs */
    sitq_task_options opts;
    sitq_task_id *deps; /* PyMem_RawMalloc'd */
    size_t n_deps;
    char *unique_key;
} sitqpy_prepared;

/* Prepare a task for enqueue; extra_deps (may be NULL/None) is the
 * enqueue(depends_on=) argument. in_batch: sitq.Task items of the task's
 * depends_on are left out (enqueue_batch turns them into indexes); else they
 * are an error. Registers the function in memory when it cannot be pickled.
 * 0 on success, -1 with an exception. */
int sitqpy_prepare(SitqTaskObject *task, PyObject *extra_deps, int in_batch, sitqpy_prepared *out);
/* Forget the memory registration (after a failed enqueue). GIL held. */
void sitqpy_prepared_unregister(sitqpy_prepared *p);
/* Free the members (GIL held). */
void sitqpy_prepared_clear(sitqpy_prepared *p);
/* Build a Task from (func, *args, **kwargs). New reference or NULL. */
PyObject *sitqpy_task_from_call(PyObject *func, PyObject *args, PyObject *kwargs);
/* "py:module.qualname" for a callable; new str or NULL. */
PyObject *sitqpy_function_name(PyObject *func);

/* ---- result.c ------------------------------------------------------- */

/* New Result from a sitq_result (copied; the caller still frees r). */
PyObject *sitqpy_result_new(const sitq_result *r);
/* Dict describing a task (for list_tasks). */
PyObject *sitqpy_result_info_dict(const sitq_result *r);
/* sitq._sitq._result_restore(state): the Result that Result.__reduce__
 * pickled as state; InvalidArgumentError for a state it did not write. */
PyObject *sitqpy_result_restore(PyObject *module, PyObject *state);

/* The registry of workers of backend as a list of sitq._workers.WorkerInfo
 * (workers.c); NULL with an exception set. Releases the GIL while reading. */
/* s (a str) as the UTF-8 bytes of a stored error or traceback: a NUL
 * spelled \x00 (C text would end there) and lone surrogates
 * backslash-escaped, so that no part of the message is lost. A new
 * reference (its PyBytes_AS_STRING is NUL-terminated), or NULL (no Python
 * error set) when s is not a str or memory ran out. GIL held. */
PyObject *sitqpy_error_text(PyObject *s);

PyObject *sitqpy_workers_list(sitq_backend *backend, int include_stopped);

/* ---- handler.c ------------------------------------------------------ */

/* The worker handler for "py:*" tasks. user_data: the queue's name, from
 * sitqpy_intern_queue_name (NULL: "default"). */
int sitqpy_handler(sitq_task_ctx *ctx, const void *payload, size_t payload_len, void *user_data);
/* Per-thread flag: a KeyboardInterrupt was raised by a task run in this
 * thread (process_task on the main thread). Returns and clears it. */
int sitqpy_take_interrupt(void);
/* Check that the payload is one the binding wrote (not empty, a pickle of a
 * supported protocol). 0, or -1 with the attempt's error set. GIL held. */
int sitqpy_check_payload(sitq_task_ctx *ctx, const void *payload, size_t payload_len);
/* A task's return value pickled as the worker stores it (pickle, else
 * cloudpickle when installed): new bytes, or NULL with pickle's error set.
 * GIL held. */
PyObject *sitqpy_dump_value(PyObject *value);

/* ---- procrun.c ------------------------------------------------------ */

/* Whether a task runner is set (process mode): the handler then hands the
 * payload to it instead of calling the function here. GIL held. */
int sitqpy_runner_active(void);
/* Run the attempt through the task runner: check the payload, mark the
 * start, call the runner, store its outcome. 0 on success, 1 with the
 * attempt's error set. GIL held, the attempt current on this thread. */
int sitqpy_run_by_runner(sitq_task_ctx *ctx, const void *payload, size_t payload_len);
/* Add _set_task_runner to the module; -1 with an exception. */
int sitqpy_procrun_init(PyObject *m);

/* ---- current.c ------------------------------------------------------ */

/* The attempt current on a thread (sitq.current_task()). */
typedef struct {
    sitq_task_ctx *ctx; /* NULL: no task runs on this thread */
    const char *queue;  /* the queue's name (interned) */
    PyObject *obj;      /* the TaskContext made for it, or NULL */
} sitqpy_current;

/* Make ctx the current attempt of this thread; *saved receives the previous
 * one (a task may run process_task). GIL held. */
void sitqpy_current_enter(sitq_task_ctx *ctx, const char *queue, sitqpy_current *saved);
/* End the current attempt (its TaskContext is cut off from ctx) and restore
 * *saved. GIL held. */
void sitqpy_current_leave(const sitqpy_current *saved);
/* A copy of a queue name that lives as long as the process (handler
 * user_data: a detached handler thread may outlive its worker), or NULL
 * (no memory). GIL held. */
const char *sitqpy_intern_queue_name(const char *name);
/* Add current_task() and TaskContext to the module; -1 with an exception. */
int sitqpy_current_init(PyObject *m);

/* Add the completion watch type _Watch (watch.c) to the module. */
int sitqpy_watch_init(PyObject *m);
/* sitq.current_task(): the running attempt's TaskContext (new reference),
 * or NULL with InvalidStateError set outside a task. GIL held. */
PyObject *sitqpy_current_object(void);

/* ---- tasklog.c ------------------------------------------------------ */

/* The worker's completion hook (sitq_completion_fn): queues the outcome for
 * the log thread of sitq/_tasklog.py. Dispatcher thread, no GIL. */
void sitqpy_tasklog_completion(const sitq_completion_info *info, void *user_data);
/* An attempt starts / ended on this handler thread; direct: run by
 * process_task (its outcome is logged by sitqpy_tasklog_processed, not by
 * the hook). GIL held; never raises, keeps a pending exception. */
void sitqpy_tasklog_started(sitq_task_ctx *ctx, int direct);
void sitqpy_tasklog_ended(sitq_task_ctx *ctx, int direct);
/* The outcome of a process_task attempt, from its result. GIL held. */
void sitqpy_tasklog_processed(const sitq_result *r);
/* A worker started or stopped (event "started"/"stopped"): logs it on
 * `sitq.worker`; "started" also starts the log thread, "stopped" writes the
 * outcomes reported so far. GIL held. */
void sitqpy_tasklog_worker(const char *event, sitq_worker *w, const char *queue, int concurrency);
/* Add _log_wait, _log_wake, _log_take to the module; -1 with an exception. */
int sitqpy_tasklog_init(PyObject *m);

/* Per-thread flag set by Worker.process_task around its attempt. */
extern _Thread_local int sitqpy_tl_direct;

/* ---- schedule.c ------------------------------------------------------ */

/* Module functions behind sitq._schedule (see schedule.c). */
PyObject *sitqpy_schedule_add(PyObject *self, PyObject *args);
PyObject *sitqpy_schedule_list(PyObject *self, PyObject *queue);
PyObject *sitqpy_schedule_set(PyObject *self, PyObject *args);
/* TaskQueue methods that call the functions of sitq._schedule. */
PyObject *sitqpy_queue_schedule(PyObject *self, PyObject *args, PyObject *kwds);
PyObject *sitqpy_queue_periodic(PyObject *self, PyObject *args, PyObject *kwds);
PyObject *sitqpy_queue_schedules(PyObject *self, PyObject *args, PyObject *kwds);
PyObject *sitqpy_queue_unschedule(PyObject *self, PyObject *args, PyObject *kwds);
PyObject *sitqpy_queue_pause_schedule(PyObject *self, PyObject *args, PyObject *kwds);
PyObject *sitqpy_queue_resume_schedule(PyObject *self, PyObject *args, PyObject *kwds);

#endif /* SITQPY_H */
