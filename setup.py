"""Build the sitq Python package with setuptools: `pip install .`

The extension sitq._sitq is compiled from the binding's C sources
(python/src) together with libsitq's own sources (src/core, src/backend,
src/worker) and linked with the system SQLite. Offline, use Debian's
setuptools without build isolation:

    /usr/bin/python3 -m pip install --no-build-isolation .

The CMake build (build/python) is the other way to get the package.
"""
import glob
import hashlib
import os
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


def rel(pattern):
    return sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, pattern)))


sources = rel("python/src/*.c")
for sub in ("src/core/*.c", "src/backend/*.c", "src/backend/sqlite/*.c", "src/worker/*.c"):
    sources += rel(sub)

ext = Extension(
    "sitq._sitq",
    sources=sources,
    include_dirs=["include", "src", "python/src"],
    define_macros=[("_GNU_SOURCE", None)],
    extra_compile_args=["-std=c11", "-fvisibility=hidden"],
    libraries=["sqlite3", "pthread", "m"],
)

setup(
    name="sitq",
    version="0.1.0",
    description="Durable task queue with a C core and an SQLite backend",
    package_dir={"": "python"},
    packages=["sitq"],
    ext_modules=[ext],
    python_requires=">=3.9",
    extras_require={"cloudpickle": ["cloudpickle"]},
    zip_safe=False,
    options={"build": {"build_base": os.path.join(SCRATCH, "build")},
             "egg_info": {"egg_base": SCRATCH}},
)
