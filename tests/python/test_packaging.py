"""The Python package builds offline and installs where users put it.

`make wheel` (pip wheel without build isolation, setup.py building the
extension with CMake) gives a wheel that installs into a plain virtual
environment (no system site packages, no index) and runs tasks there, with
its console script (a worker, and the dashboard's help); `pip install
--no-build-isolation .` works too.
"""
import os
import shutil
import signal
import subprocess
import sys

import pytest

from conftest import HERE

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


def _need_pip():
    if subprocess.run([sys.executable, "-m", "pip", "--version"],
                      capture_output=True).returncode != 0:
        pytest.skip("pip is not installed for %s" % sys.executable)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel `make wheel` builds (same command), in a temporary directory."""
    _need_pip()
    dist = tmp_path_factory.mktemp("dist")
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-index",
                        "--no-deps", "--quiet", "-w", str(dist), ROOT],
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    wheels = [f for f in os.listdir(str(dist)) if f.endswith(".whl")]
    assert len(wheels) == 1 and wheels[0].startswith("sitq-"), wheels
    return os.path.join(str(dist), wheels[0])


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory):
    """A plain virtual environment with the wheel installed from the file alone."""
    env_dir = tmp_path_factory.mktemp("venv") / "env"
    p = subprocess.run([sys.executable, "-m", "venv", str(env_dir)], capture_output=True,
                       text=True, timeout=300)
    if p.returncode != 0 and "ensurepip" in p.stdout + p.stderr:
        pytest.fail("python3 -m venv cannot make environments: install python3-venv "
                    "(scripts/install-deps.sh does)")
    assert p.returncode == 0, p.stderr
    cfg = (env_dir / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = false" in cfg, cfg
    p = subprocess.run([str(env_dir / "bin" / "pip"), "install", "--no-index", "--quiet", wheel],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return env_dir


def _clean_env():
    """The environment without the test run's PYTHONPATH (the build tree's package)."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


def test_wheel_runs_a_task_in_a_plain_venv(venv, tmp_path):
    code = ("import sitq, operator; q = sitq.TaskQueue(backend=sitq.SQLiteBackend(':memory:'));"
            "t = q.enqueue(operator.mul, 6, 7); print(sitq.__file__, sitq.Worker(q).process_task(t).value)")
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code], env=_clean_env(),
                         cwd=str(tmp_path), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    path, value = out.stdout.split()
    assert path.startswith(str(venv)) and value == "42"
    # the type stubs and the PEP 561 marker are installed with the package
    installed = set(os.listdir(os.path.dirname(path)))
    assert {"py.typed", "__init__.pyi", "_sitq.pyi", "errors.pyi"} <= installed, installed
    # the extension exports its init function, not libsitq's symbols
    module = [f for f in installed if f.startswith("_sitq.") and f.endswith(".so")]
    assert len(module) == 1, installed
    nm = subprocess.run(["nm", "-D", "--defined-only", os.path.join(os.path.dirname(path),
                                                                    module[0])],
                        capture_output=True, text=True, timeout=60)
    assert nm.returncode == 0, nm.stderr
    exported = [line.split()[-1] for line in nm.stdout.splitlines()
                if line.split()[1:2] and line.split()[1] in "TDBR"]
    assert exported == ["PyInit__sitq"], exported


def test_wheel_console_script_runs_a_worker(venv, tmp_path):
    """`sitq-py worker DB` (the wheel's console script) runs a task enqueued by the
    venv's interpreter and stops on SIGINT with status 0."""
    db = str(tmp_path / "q.db")
    py = str(venv / "bin" / "python")
    enq = subprocess.run([py, "-c", "import sitq, operator; q = sitq.TaskQueue(backend="
                          "sitq.SQLiteBackend(%r)); print(q.enqueue(operator.mul, 6, 7))" % db],
                         env=_clean_env(), cwd=str(tmp_path), capture_output=True, text=True,
                         timeout=60)
    assert enq.returncode == 0, enq.stderr
    task_id = int(enq.stdout)
    worker = subprocess.Popen([str(venv / "bin" / "sitq-py"), "worker", db], env=_clean_env(),
                              cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        res = subprocess.run([py, "-c", "import sitq; q = sitq.TaskQueue(backend=sitq.SQLiteBackend"
                              "(%r)); print(q.get_result(%d, timeout=60).value)" % (db, task_id)],
                             env=_clean_env(), cwd=str(tmp_path), capture_output=True, text=True,
                             timeout=90)
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == "42"
    finally:
        worker.send_signal(signal.SIGINT)
        _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    assert "Traceback" not in err, err
    usage = subprocess.run([str(venv / "bin" / "sitq-py"), "worker", "--help"], env=_clean_env(),
                           cwd=str(tmp_path), capture_output=True, text=True, timeout=60)
    assert usage.returncode == 0 and usage.stdout.startswith("usage: sitq-py worker"), usage
    # The dashboard comes with the package (in its extension): its help.
    usage = subprocess.run([str(venv / "bin" / "sitq-py"), "dashboard", "--help"],
                           env=_clean_env(), cwd=str(tmp_path), capture_output=True, text=True,
                           timeout=60)
    assert usage.returncode == 0 and usage.stdout.startswith("usage: sitq dashboard DB"), usage


def test_pip_install_without_build_isolation(tmp_path):
    _need_pip()
    target = tmp_path / "site"
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation",
                        "--no-index", "--no-deps", "--quiet", "--target", str(target), ROOT],
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert not os.path.exists(os.path.join(ROOT, "python", "sitq.egg-info"))
    env = dict(_clean_env(), PYTHONPATH=str(target))
    code = ("import sitq; q = sitq.TaskQueue(backend=sitq.SQLiteBackend(':memory:'));"
            "t = q.enqueue(abs, -5); print(sitq.__file__, sitq.Worker(q).process_task(t).value)")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=str(tmp_path),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    path, value = out.stdout.split()
    assert path.startswith(str(target)) and value == "5"
    shutil.rmtree(target)
