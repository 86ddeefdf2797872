"""Build the sitq Python package with setuptools: `pip install .`

The extension sitq._sitq is compiled from the binding's C sources
(python/src) together with libsitq's own sources (src/core, src/backend,
src/worker) and linked with the system SQLite and libpq (the PostgreSQL
backend). Offline, use Debian's
setuptools without build isolation:

    /usr/bin/python3 -m pip install --no-build-isolation .

The CMake build (build/python) is the other way to get the package.
"""
import glob
import hashlib
import os
import subprocess
import tempfile

from setuptools import Extension, setup

ROOT = os.path.dirname(os.path.abspath(__file__))
# Keep setuptools' intermediate files out of the source tree (build/ is the
# CMake build directory), in a directory of this source tree's own: two
# checkouts must not share one, or one's copies of sitq/*.py (copied only
# when newer) would end up in the other's package.
SCRATCH = os.path.join(tempfile.gettempdir(), "sitq-setuptools-%d-%s" % (
    os.getuid(), hashlib.sha256(ROOT.encode()).hexdigest()[:12]))
os.makedirs(SCRATCH, exist_ok=True)


def sitq_version():
    """The version, from project(sitq VERSION ...) of CMakeLists.txt (its one place)."""
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        line = next(line for line in f if line.startswith("project(sitq VERSION "))
    major, minor, patch = line.split()[2].split(".")
    return major, minor, patch


def write_version_header(directory):
    """Write sitq_version.h (included by sitq.h) from its template, as CMake does."""
    major, minor, patch = sitq_version()
    values = {"PROJECT_VERSION": "%s.%s.%s" % (major, minor, patch), "PROJECT_VERSION_MAJOR": major,
              "PROJECT_VERSION_MINOR": minor, "PROJECT_VERSION_PATCH": patch}
    with open(os.path.join(ROOT, "include", "sitq_version.h.in")) as f:
        text = f.read()
    for name, value in values.items():
        text = text.replace("@%s@" % name, value)
    os.makedirs(directory, exist_ok=True)
    # Written aside and renamed: builds of other checkouts may share SCRATCH.
    tmp = os.path.join(directory, "sitq_version.h.%d" % os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, os.path.join(directory, "sitq_version.h"))
    return directory


def rel(pattern):
    return sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, pattern)))


sources = rel("python/src/*.c")
for sub in ("src/core/*.c", "src/backend/*.c", "src/backend/sqlite/*.c", "src/backend/pg/*.c",
            "src/worker/*.c"):
    sources += rel(sub)


def libpq_include_dir():
    """libpq's headers (Debian: libpq-dev), from pkg-config when it knows them."""
    try:
        out = subprocess.run(["pkg-config", "--variable=includedir", "libpq"],
                             capture_output=True, text=True, check=True).stdout.strip()
        if out:
            return out
    except (OSError, subprocess.CalledProcessError):
        pass
    return "/usr/include/postgresql"


ext = Extension(
    "sitq._sitq",
    sources=sources,
    include_dirs=["include", "src", "python/src", libpq_include_dir()],
    define_macros=[("_GNU_SOURCE", None)],
    extra_compile_args=["-std=c11", "-fvisibility=hidden"],
    libraries=["sqlite3", "pq", "pthread", "m"],
)
ext.include_dirs.append(write_version_header(os.path.join(SCRATCH, "include")))

setup(
    name="sitq",
    version="%s.%s.%s" % sitq_version(),
    description="Durable task queue with a C core and an SQLite backend",
    package_dir={"": "python"},
    packages=["sitq"],
    # type stubs (the extension's and the modules') and the PEP 561 marker
    package_data={"sitq": ["py.typed", "*.pyi"]},
    ext_modules=[ext],
    python_requires=">=3.9",
    extras_require={"cloudpickle": ["cloudpickle"]},
    zip_safe=False,
    options={"build": {"build_base": os.path.join(SCRATCH, "build")},
             "egg_info": {"egg_base": SCRATCH}},
)
