"""The type stubs (sitq/*.pyi, py.typed): Debian's mypy accepts a program
using the whole public API, rejects a wrong call, and mypy's stubtest finds
the stubs consistent with the built extension and modules."""
import os
import subprocess
import sys

import pytest

import sitq
from conftest import HERE

SAMPLES = os.path.join(HERE, "typing_samples")
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(sitq.__file__)))
MYPY = ["/usr/bin/python3", "-m", "mypy"]


def run_mypy(*args):
    env = dict(os.environ, MYPYPATH=PACKAGE_DIR, PYTHONPATH=PACKAGE_DIR)
    return subprocess.run(MYPY + list(args), env=env, cwd=HERE, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module", autouse=True)
def mypy_installed():
    if subprocess.run(MYPY + ["--version"], capture_output=True).returncode != 0:
        pytest.fail("mypy is missing: apt-get install python3-mypy (scripts/install-deps.sh)")


def test_stubs_and_marker_are_next_to_the_package():
    names = set(os.listdir(os.path.dirname(sitq.__file__)))
    assert {"py.typed", "__init__.pyi", "_sitq.pyi", "errors.pyi", "_tasklog.pyi",
            "__main__.pyi", "_decorator.pyi", "_executor.pyi", "_result_of.pyi", "_workers.pyi",
            "aio.pyi"} <= names


def test_the_whole_api_type_checks_strictly():
    p = run_mypy("--strict", "--no-incremental", "--cache-dir", os.devnull,
                 os.path.join(SAMPLES, "uses_api.py"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith("Success: no issues found in 1 source file")


def test_a_wrong_call_fails():
    p = run_mypy("--no-incremental", "--cache-dir", os.devnull,
                 os.path.join(SAMPLES, "wrong_call.py"))
    assert p.returncode == 1, p.stdout + p.stderr
    errors = [line for line in p.stdout.splitlines() if ": error: " in line]
    assert [e.split(": error: ")[1] for e in errors] == [
        'Argument 1 to "get_result" of "TaskQueue" has incompatible type "str"; expected "int"'
        '  [arg-type]',
        'Argument "timeout" to "get_result" of "TaskQueue" has incompatible type "str"; '
        'expected "Union[float, int, None]"  [arg-type]',
        'Argument "concurrency" to "Worker" has incompatible type "str"; expected '
        '"Optional[int]"  [arg-type]',
        'Argument 1 to "set_progress" of "TaskContext" has incompatible type "str"; expected '
        '"float"  [arg-type]',
    ], p.stdout


def test_stubs_match_the_runtime():
    env = dict(os.environ, MYPYPATH=PACKAGE_DIR, PYTHONPATH=PACKAGE_DIR)
    p = subprocess.run(MYPY[:2] + ["mypy.stubtest", "sitq", "--ignore-missing-stub"], env=env,
                       cwd=PACKAGE_DIR, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    # every module of the package is checked (sitq, its submodules, _sitq)
    n = len([f for f in os.listdir(os.path.join(PACKAGE_DIR, "sitq")) if f.endswith(".py")]) + 1
    assert "Success: no issues found in %d modules" % n in p.stdout, p.stdout
