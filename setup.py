"""Build the sitq Python package: `make wheel`, or `pip install .`

The extension sitq._sitq is built by CMake, from the same build description
as everything else (one list of sources, the project's warning flags, the
version from project() in CMakeLists.txt): setuptools' build_ext step
configures a library-and-binding-only CMake tree under build/python-wheel/
of this source tree (or under $SITQ_WHEEL_BUILD_DIR, for a read-only
tree), builds the target sitq_python there (CMake tracks
header dependencies, so a changed header rebuilds what includes it) and
copies the module into the package. setuptools' own scratch files go to
build/python-setuptools/. Offline, with Debian's setuptools and wheel:

    make wheel                       # dist/sitq-VERSION-*.whl
    /usr/bin/python3 -m pip install --no-build-isolation .

The wheel installs the command line of `python -m sitq` as the console
script `sitq-py`.
"""
import fcntl
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("SITQ_WHEEL_BUILD_DIR") or os.path.join(ROOT, "build")
os.makedirs(os.path.join(BUILD, "python-setuptools"), exist_ok=True)


def _stale_tree(tree):
    """True when the CMake tree was configured for another source directory
    (a copied or moved checkout): CMake refuses to reuse it."""
    try:
        with open(os.path.join(tree, "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith("CMAKE_HOME_DIRECTORY:"):
                    home = line.split("=", 1)[1].strip()
                    return os.path.realpath(home) != os.path.realpath(ROOT)
    except OSError:
        pass
    return False


def sitq_version():
    """The version, from project(sitq VERSION ...) of CMakeLists.txt (its one place)."""
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        line = next(line for line in f if line.startswith("project(sitq VERSION "))
    return line.split()[2]


class CMakeExtension(Extension):
    """An extension module that CMake builds (target `target`); no sources here."""

    def __init__(self, name, target):
        super().__init__(name, sources=[])
        self.target = target


class CMakeBuild(build_ext):
    """Configure and build the CMake target of each extension, then copy the
    module it made to where setuptools packages it."""

    def build_extension(self, ext):
        tree = os.path.join(BUILD, "python-wheel")
        os.makedirs(BUILD, exist_ok=True)
        # One build of the tree at a time: two concurrent wheel builds of a
        # checkout would configure and write the same files.
        with open(os.path.join(BUILD, "python-wheel.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._build_locked(ext, tree)

    def _build_locked(self, ext, tree):
        if _stale_tree(tree):
            shutil.rmtree(tree)
        config = ["cmake", "-S", ROOT, "-B", tree, "-DCMAKE_BUILD_TYPE=Release",
                  "-DPython3_EXECUTABLE=" + sys.executable,
                  "-DSITQ_BUILD_CLI=OFF", "-DSITQ_BUILD_EXAMPLES=OFF",
                  "-DSITQ_BUILD_BENCH=OFF", "-DSITQ_BUILD_TESTS=OFF",
                  "-DSITQ_BUILD_PYTHON=ON"]
        subprocess.run(config, check=True, stdout=subprocess.DEVNULL)
        jobs = str(os.cpu_count() or 1)
        subprocess.run(["cmake", "--build", tree, "--target", ext.target, "-j", jobs],
                       check=True)
        built = os.path.join(tree, "python", "sitq", os.path.basename(self.get_ext_filename(
            ext.name)))
        if not os.path.exists(built):
            raise RuntimeError("CMake did not produce %s" % built)
        dest = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        self.copy_file(built, dest)


setup(
    name="sitq",
    version=sitq_version(),
    description="Durable task queue with a C core: SQLite and PostgreSQL backends",
    package_dir={"": "python"},
    packages=["sitq"],
    # type stubs (the extension's and the modules') and the PEP 561 marker
    package_data={"sitq": ["py.typed", "*.pyi"]},
    ext_modules=[CMakeExtension("sitq._sitq", "sitq_python")],
    cmdclass={"build_ext": CMakeBuild},
    entry_points={"console_scripts": ["sitq-py = sitq.__main__:main"]},
    python_requires=">=3.9",
    extras_require={"cloudpickle": ["cloudpickle"]},
    zip_safe=False,
    options={"build": {"build_base": os.path.join(BUILD, "python-setuptools")},
             "egg_info": {"egg_base": os.path.join(BUILD, "python-setuptools")},
             "bdist_wheel": {"bdist_dir": os.path.join(BUILD, "python-setuptools", "wheel")}},
)
