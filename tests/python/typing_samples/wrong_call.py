"""A wrong use of sitq that mypy must reject (tests/python/test_typing.py)."""
import sitq

queue = sitq.TaskQueue(backend=sitq.SQLiteBackend("tasks.db"))
result = queue.get_result("not an id", timeout="soon")
worker = sitq.Worker(queue, concurrency="four")
sitq.current_task().set_progress("half")
