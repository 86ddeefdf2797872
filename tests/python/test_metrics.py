"""TaskQueue.metrics_text(): the store's metrics in the Prometheus text
format after known work, on both backends (SITQ_TEST_BACKEND)."""

import shutil
import subprocess

import pytest

import sitq
import sitq_test_tasks as tasks


def sample(text, key):
    for line in text.splitlines():
        if line.startswith(key + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError("no sample %s in:\n%s" % (key, text))


def test_metrics_text_after_known_work(queue):
    ids = [queue.enqueue(tasks.add, i, 1) for i in range(3)]
    ids += [queue.enqueue(tasks.fail, "no") for _ in range(2)]
    w = sitq.Worker(queue, concurrency=2, worker_id="py-metrics")
    w.start()
    try:
        for i in ids:
            queue.get_result(i, timeout=30)
    finally:
        w.stop()
    text = queue.metrics_text()
    assert isinstance(text, str)
    q = 'queue="default"'
    assert sample(text, 'sitq_tasks{%s,status="succeeded"}' % q) == 3
    assert sample(text, 'sitq_tasks{%s,status="failed"}' % q) == 2
    assert sample(text, 'sitq_workers{state="stopped"}') == 1
    key = 'sitq_worker_attempts_total{worker="py-metrics",outcome="%s"}'
    assert sample(text, key % "succeeded") == 3
    assert sample(text, key % "failed") == 2
    assert "sitq_tasks_succeeded_total" not in text  # a purge lowers the count: a gauge
    promtool = shutil.which("promtool")
    if promtool:
        subprocess.run([promtool, "check", "metrics"], input=text.encode(), check=True)


def test_metrics_text_uninitialised_queue():
    q = sitq.TaskQueue.__new__(sitq.TaskQueue)
    with pytest.raises(sitq.InvalidArgumentError, match="not initialised"):
        q.metrics_text()
