"""`pip install .` (without build isolation, offline) builds a working package."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import HERE

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


def test_pip_install_without_build_isolation(tmp_path):
    if subprocess.run([sys.executable, "-m", "pip", "--version"],
                      capture_output=True).returncode != 0:
        pytest.skip("pip is not installed for %s" % sys.executable)
    target = tmp_path / "site"
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation",
                        "--no-index", "--no-deps", "--quiet", "--target", str(target), ROOT],
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert not os.path.exists(os.path.join(ROOT, "python", "sitq.egg-info"))
    env = dict(os.environ, PYTHONPATH=str(target))
    code = ("import sitq, os; q = sitq.TaskQueue(backend=sitq.SQLiteBackend(':memory:'));"
            "t = q.enqueue(abs, -5); print(sitq.__file__, sitq.Worker(q).process_task(t).value)")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=str(tmp_path),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    path, value = out.stdout.split()
    assert path.startswith(str(target)) and value == "5"
    # the type stubs and the PEP 561 marker are installed with the package
    installed = set(os.listdir(os.path.join(str(target), "sitq")))
    assert {"py.typed", "__init__.pyi", "_sitq.pyi", "errors.pyi"} <= installed, installed
    shutil.rmtree(target)
