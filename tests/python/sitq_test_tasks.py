"""Module-level task functions for the tests: importable by module path, so
that worker processes (python -m sitq worker) can run them."""
import os
import sys
import signal
import threading
import time

import sitq


def add(a, b):
    return a + b


def echo(*args, **kwargs):
    return args, kwargs


def fail(message="boom"):
    raise ValueError(message)


def sleep_and_return(seconds, value=None):
    time.sleep(seconds)
    return value


def gated(started_path, gate_path, value=None, limit=60):
    """Create started_path (the test's sign that the task runs), then wait
    until gate_path exists (the test opens the gate when it has done what it
    must do while the task runs) and return value. limit (seconds) only bounds
    a test that never opens the gate: then the task raises."""
    with open(started_path, "w") as f:
        f.write(str(os.getpid()))
    deadline = time.monotonic() + limit
    while not os.path.exists(gate_path):
        if time.monotonic() > deadline:
            raise TimeoutError("the gate %s was never opened" % gate_path)
        time.sleep(0.01)
    return value


def wait_for_path(path, timeout=30, proc=None):
    """Wait until path exists (a task signalled that it started); fail after
    timeout seconds, or at once if proc (a Popen) has exited."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc is not None and proc.poll() is not None:
            raise AssertionError("the process exited before %s appeared" % path)
        if time.monotonic() > deadline:
            raise AssertionError("%s did not appear within %s s" % (path, timeout))
        time.sleep(0.01)


def fork_helper(gate_path):
    """Fork a child that outlives the task (as a daemon it started would),
    until gate_path exists (60 s at most); return the child's pid."""
    child = os.fork()
    if child == 0:
        try:
            deadline = time.monotonic() + 60
            while not os.path.exists(gate_path) and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            os._exit(0)
    return child


def fork_and_wait(how):
    """Fork a child that leaves the function by returning "child" (how
    "return"), by sys.exit(3) ("exit") or by raising ValueError ("raise");
    the parent waits for it and returns ("parent", its exit code)."""
    child = os.fork()
    if child == 0:
        if how == "exit":
            sys.exit(3)
        if how == "raise":
            raise ValueError("raised in the child")
        return "child"
    _, status = os.waitpid(child, 0)
    return ["parent", os.waitstatus_to_exitcode(status)]


def _ready_then_sleep(conn):
    conn.send("ready")
    time.sleep(30)


def children_stop_on_sigterm():
    """Start a command and a forked Python process, wait until each runs,
    stop each with SIGTERM (5 s each at most); their exit codes, or "still
    running" (then killed)."""
    import multiprocessing
    import subprocess
    p = subprocess.Popen(["sh", "-c", "echo ready; exec sleep 30"], stdout=subprocess.PIPE)
    p.stdout.readline()
    p.terminate()
    try:
        cmd = p.wait(5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        cmd = "still running"
    p.stdout.close()
    ctx = multiprocessing.get_context("fork")
    here, there = ctx.Pipe()
    m = ctx.Process(target=_ready_then_sleep, args=(there,))
    m.start()
    here.recv()
    m.terminate()
    m.join(5)
    forked = "still running" if m.exitcode is None else m.exitcode
    if m.exitcode is None:
        m.kill()
        m.join()
    return [cmd, forked]


def big_result_killed_midway(gate_path, megabytes):
    """Return megabytes of bytes, and be killed (SIGKILL) while sending them:
    a forked child stops the worker process (so that the result fills the
    socket and the send blocks), kills this process after 1 s, continues the
    worker, then keeps its copy of the socket until gate_path exists."""
    worker, me = os.getppid(), os.getpid()
    child = os.fork()
    if child == 0:
        try:
            os.kill(worker, signal.SIGSTOP)
            time.sleep(1.0)  # this process fills the socket and blocks meanwhile
            os.kill(me, signal.SIGKILL)
            os.kill(worker, signal.SIGCONT)
            deadline = time.monotonic() + 60
            while not os.path.exists(gate_path) and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            os.kill(worker, signal.SIGCONT)
            os._exit(0)
    return b"x" * (megabytes << 20)


def open_gate(gate_path):
    """Let a task blocked in gated() return."""
    with open(gate_path, "w"):
        pass


def pid():
    return os.getpid()


def once_slow(marker_path, seconds):
    """First call (no marker yet): create the marker and sleep `seconds`
    (the test kills the worker meanwhile). Later calls return at once."""
    if not os.path.exists(marker_path):
        with open(marker_path, "w") as f:
            f.write(str(os.getpid()))
        time.sleep(seconds)
        return "slow"
    return "recovered by %d" % os.getpid()


def cpu_burn(n):
    """Pure-Python CPU work (holds the GIL): returns (pid, sum)."""
    s = 0
    for i in range(n):
        s += i * i
    return os.getpid(), s


class Unpicklable(Exception):
    """An exception that cannot be pickled (holds a lock)."""

    def __init__(self, msg):
        import threading
        super().__init__(msg)
        self.lock = threading.Lock()


def raise_unpicklable():
    raise Unpicklable("cannot pickle me")


def never_returns(marker_path=None):
    """Sleeps forever (the GIL released), after creating marker_path."""
    if marker_path:
        with open(marker_path, "w") as f:
            f.write(str(os.getpid()))
    while True:
        time.sleep(0.05)


def spins_forever(marker_path=None):
    """A pure-Python loop that never returns (holds the GIL between switches),
    after creating marker_path."""
    if marker_path:
        with open(marker_path, "w") as f:
            f.write(str(os.getpid()))
    while True:
        pass


class ExitWhenUnpickled:
    """An argument whose unpickling ends the worker process at once (as a
    crashing import or the OOM killer would, before the function runs)."""

    def __reduce__(self):
        return (os._exit, (7,))


def context_fields():
    """The running attempt as sitq.current_task() describes it."""
    import sitq
    t = sitq.current_task()
    return t.id, t.attempt, t.max_retries, t.queue, t.function, t.timeout, t.cancelled


def until_cancelled(marker_path=None, limit=60.0):
    """Polls current_task().cancelled (reporting progress) and raises once it
    is set; returns 'not cancelled' after `limit` seconds."""
    import sitq
    t = sitq.current_task()
    t.set_progress(0.25)
    if marker_path:
        with open(marker_path, "w") as f:
            f.write(str(os.getpid()))
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if t.cancelled:
            raise RuntimeError("stopped on request at attempt %d" % t.attempt)
        time.sleep(0.01)
    return "not cancelled"


def fail_first(marker_path):
    """Fails on its first call (creating the marker), succeeds after."""
    if not os.path.exists(marker_path):
        open(marker_path, "w").close()
        raise ValueError("first attempt fails")
    return "second attempt"


KEPT = {}


def keep_context(key):
    """Keeps sitq.current_task() in KEPT[key] (the test reads it after the
    attempt, in the same process)."""
    import sitq
    KEPT[key] = sitq.current_task()
    return KEPT[key].id


def watch_cancel(marker_path, seconds):
    """Creates marker_path, then polls current_task().cancelled for
    `seconds`; returns whether it was ever set."""
    import sitq
    t = sitq.current_task()
    with open(marker_path, "w") as f:
        f.write(str(os.getpid()))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if t.cancelled:
            return True
        time.sleep(0.01)
    return False


def allocate(n):
    """Allocates n bytes at once (a memory hog); returns n."""
    return len(bytearray(n))


def blob(n):
    """n bytes of b"x" (a large return value)."""
    return b"x" * n


def digest(data, n):
    """(len, sha256 hex) of bytes data, and n: what a large payload arrived as."""
    import hashlib
    return len(data), hashlib.sha256(data).hexdigest(), n


def refaults(mib):
    """Page faults of building and dropping mib 1-MiB buffers, after doing so
    twice before: what a task pays again for memory its process already had."""
    import resource
    for _ in range(2):
        bufs = [bytearray(1 << 20) for _ in range(mib)]
        del bufs
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    bufs = [bytearray(1 << 20) for _ in range(mib)]
    del bufs
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


LOCAL_MODULE = "sitq_test_local_values"


def local_value(n):
    """An instance of a class that only this process can unpickle: its
    module is made here, in sys.modules, and exists nowhere on disk."""
    import sys
    import types
    mod = sys.modules.get(LOCAL_MODULE)
    if mod is None:
        mod = types.ModuleType(LOCAL_MODULE)
        exec("class Thing:\n    def __init__(self, n):\n        self.n = n\n", mod.__dict__)
        sys.modules[LOCAL_MODULE] = mod
    return mod.Thing(n)


def forget_local_values():
    """Drop local_value's module from this process."""
    import sys
    return sys.modules.pop(LOCAL_MODULE, None) is not None


def read_local_value(thing, *ignored):
    return type(thing).__module__, thing.n


def _describe(x):
    import sitq
    if not isinstance(x, sitq.Result):
        return x
    if x.is_success:
        return ("Result", x.task_id, x.status, x.error, x.value)
    try:
        x.unwrap()
        raised = None
    except Exception as e:  # the dependency's own exception, rebuilt here
        raised = type(e).__name__
    return ("Result", x.task_id, x.status, x.error, raised)


def describe_inputs(values):
    """A finalizer's view: its result_of values (a Result for a dependency
    that failed) and its dependency_results(), as plain tuples."""
    import sitq
    deps = sitq.current_task().dependency_results()
    return [_describe(v) for v in values], [_describe(r) for r in deps]


def generator_returning(value):
    """A generator (not a coroutine) that yields None once and returns value:
    as a task's return value it cannot be pickled, in every mode."""
    def g():
        yield None
        return value
    return g()


#: Workers that tasks reach by name (a test puts one here before it starts).
WORKERS = {}


def stop_own_worker(timeout=None):
    """Stop the worker running this task, as a task should not: the stop
    would wait for this very task. Returns what happened."""
    try:
        WORKERS["w"].stop(timeout=timeout)
        return "stopped"
    except sitq.InvalidStateError as e:
        return "refused: " + str(e)


def run_own_worker():
    """Worker.run() of the worker running this task, which would wait for
    this very task. Returns what happened."""
    try:
        WORKERS["w"].run()
        return "returned"
    except sitq.InvalidStateError as e:
        return "refused: " + str(e)


# Events shared by a test and the tasks a worker of its own process runs.
EVENTS = {}


def drop_own_worker():
    """Once the test sets EVENTS["release"] (after EVENTS["entered"]), drop
    the last reference to the worker running this task (kept in WORKERS by
    the test, whose stop timed out), and with it the last ones to its queue
    and backend; then wait for EVENTS["queue_freed"]. Returns whether the
    queue was still alive right after the drop."""
    EVENTS["entered"].set()
    EVENTS["release"].wait(30)
    ref = WORKERS.pop("queue_ref")
    del WORKERS["w"]
    alive = ref() is not None
    EVENTS["queue_freed"].wait(30)  # the worker was stopped and freed first
    return alive


# Thread name -> (entered, release): a GatedState unpickled in that thread
# sets entered, then waits for release.
SETSTATE_GATE = {}


class GatedState:
    """Unpickles at once, except in a thread named in SETSTATE_GATE: two
    reads of one value made to overlap."""

    def __init__(self):
        self.x = 1

    def __setstate__(self, state):
        gate = SETSTATE_GATE.get(threading.current_thread().name)
        if gate:
            entered, release = gate
            entered.set()
            release.wait(30)
        self.__dict__.update(state)


def gated_value():
    return [GatedState(), b"\x01" * 4_000_000, list(range(1000))]


class ExitOnPickle:
    """A return value whose pickling raises SystemExit."""

    def __reduce__(self):
        raise SystemExit(3)


class InterruptOnPickle:
    """A return value whose pickling raises KeyboardInterrupt."""

    def __reduce__(self):
        raise KeyboardInterrupt("pickling")


class ExitOnPickleError(Exception):
    """An exception whose pickling raises SystemExit."""

    def __reduce__(self):
        raise SystemExit("no")


def return_exit_on_pickle():
    return ExitOnPickle()


def return_interrupt_on_pickle():
    return InterruptOnPickle()


def raise_exit_on_pickle(message):
    raise ExitOnPickleError(message)


def no_retry(message):
    """Fails for good, whatever retries are left, from a caught error."""
    try:
        int(message)
    except ValueError as e:
        raise sitq.NoRetry("bad input: %s" % message) from e
    return message


def retry_later(delay):
    """Fails, asking for its retry after `delay` seconds."""
    raise sitq.Retry(delay)


async def async_no_retry(message):
    raise sitq.NoRetry(message)


class Throttled(sitq.Retry):
    """A Retry whose __init__ does not call Retry's: no delay of its own."""

    def __init__(self, service):
        Exception.__init__(self, "throttled by %s" % service)
        self.service = service


def throttled(service):
    raise Throttled(service)


def context_from_two_threads(calls=200):
    """One thread of the task reads dependency_results() while another
    heartbeats, on the one TaskContext. (wrong answers, cancelled)."""
    ctx = sitq.current_task()
    wrong = []

    def deps():
        for _ in range(calls):
            r = ctx.dependency_results()
            if not (isinstance(r, list) and [d.value for d in r] == [3]):
                wrong.append(repr(r))

    def beat():
        for _ in range(calls):
            ctx.heartbeat()
    threads = [threading.Thread(target=deps), threading.Thread(target=beat)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(wrong), ctx.cancelled


def leave_a_thread_setting_progress():
    """Return while a thread of the task keeps calling set_progress(0.123)
    until the attempt's end refuses it."""
    ctx = sitq.current_task()
    calling = threading.Event()

    def loop():
        try:
            while True:
                ctx.set_progress(0.123)
                calling.set()
        except sitq.InvalidStateError:
            pass
    threading.Thread(target=loop, daemon=True).start()
    calling.wait(30)
    return "left"
