# sitq - top-level entry points. `make demo` runs the main job, `make test`
# builds everything and runs every test (plain, ASan+UBSan, TSan).
PYTHON ?= /usr/bin/python3
JOBS ?= 2
MAKEFLAGS += --no-print-directory
CMAKE_FLAGS = -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPython3_EXECUTABLE=$(PYTHON)

.PHONY: all deps build wheel deb build-asan build-tsan build-fuzz demo test tidy test-plain test-asan test-tsan test-fuzz fuzz bench chaos clean format format-check

all: build

deps:
	@./scripts/install-deps.sh

build: deps
	@cmake -S . -B build $(CMAKE_FLAGS) >/dev/null
	@cmake --build build -j$(JOBS)

build-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSITQ_SANITIZE=address >/dev/null
	@cmake --build build-asan -j$(JOBS)

build-tsan: deps
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DSITQ_SANITIZE=thread >/dev/null
	@cmake --build build-tsan -j$(JOBS)

# The Python package as a wheel in dist/, offline, with Debian's setuptools and
# wheel; setup.py builds the extension with CMake (build/python-wheel).
wheel: deps
	@$(PYTHON) -m pip wheel --no-build-isolation --no-index --no-deps --quiet -w dist .
	@ls dist/sitq-*.whl

# The Debian packages libsitq0, libsitq-dev, sitq and python3-sitq in
# dist/deb (debian/; dpkg-buildpackage on a copy of the tree, then lintian).
deb: deps
	@scripts/build-deb.sh . dist/deb

# The libFuzzer targets of tests/fuzz, built with clang (ASan+UBSan).
build-fuzz: deps
	@cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DSITQ_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j$(JOBS) --target fuzz_targets

# One style for the whole tree (.clang-format): `make format` applies it,
# `make format-check` (part of `make test`) fails on any difference.
C_SOURCES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format: deps
	@clang-format -i $(C_SOURCES)
format-check: deps
	@clang-format --dry-run --Werror $(C_SOURCES) && echo "format-check: clean"

# clang-tidy (.clang-tidy: short functions and bug-finding checks) over every
# C source of build/compile_commands.json, JOBS at a time; part of `make test`,
# fails on any warning.
tidy: build
	@scripts/tidy.sh build $(JOBS)

# The main job: the flight-data pipeline on the bundled real data, in C,
# then in Python with pandas on worker processes (docs/demo.md).
demo: build
	./build/flights_pipeline
	PYTHONPATH=build/python $(PYTHON) examples/python/flights_pipeline.py

test: format-check tidy test-plain test-asan test-tsan test-fuzz
	@echo "make test: all suites passed (format, tidy, plain, ASan+UBSan, TSan, fuzz)"

test-plain: build
	@t0=$$(date +%s); cd build && ctest --output-on-failure -j$(JOBS) && \
	  echo "test-plain: passed in $$(( $$(date +%s) - t0 )) s"

# Every C suite under AddressSanitizer and UndefinedBehaviorSanitizer (the
# Python binding is tested in the plain build only).
test-asan: build-asan
	@t0=$$(date +%s); cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j$(JOBS) -LE python && \
	  echo "test-asan: passed in $$(( $$(date +%s) - t0 )) s"

# The concurrent tests (threads, processes, the worker command) under ThreadSanitizer.
test-tsan: build-tsan
	@t0=$$(date +%s); cd build-tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  ctest --output-on-failure -j$(JOBS) -L "concurrent|cli" && \
	  echo "test-tsan: passed in $$(( $$(date +%s) - t0 )) s"

# Each fuzz target briefly (SITQ_FUZZ_SMOKE_TIME, 5 s) over its seed corpus.
test-fuzz: build-fuzz
	@t0=$$(date +%s); cd build-fuzz && ctest --output-on-failure -j$(JOBS) -L fuzz && \
	  echo "test-fuzz: passed in $$(( $$(date +%s) - t0 )) s"

# Each fuzz target for FUZZ_TIME seconds (default 300), one after another;
# a reproducer of any failure is left in build-fuzz/artifacts/.
FUZZ_TIME ?= 300
fuzz: build-fuzz
	@set -e; for t in fuzz_cli_args fuzz_shell_payload fuzz_py_envelope fuzz_stored_row fuzz_cron \
	    fuzz_dash_request fuzz_py_value; do \
	  FUZZ_ARTIFACTS=build-fuzz/artifacts tests/fuzz/run.sh build-fuzz/tests/fuzz/$$t tests/fuzz/corpus/$$t $(FUZZ_TIME); \
	done

# Benchmarks: sitq beside raw SQLite, plainjob and Celery (see bench/README.md).
bench: build
	./bench/run.sh

# The long chaos runs (see tests/chaos/README.md): one line of figures per
# scenario. SEED=N reproduces a run; SOAK=S adds an S-second soak;
# CHAOS_TASKS and CHAOS_KILLS size the kill scenarios; CHAOS_ONLY="shell dag"
# picks scenarios.
chaos: build
	./tests/chaos/run.sh build

clean:
	rm -rf build build-asan build-tsan build-fuzz

# Install the sitq command, libsitq (shared and static), sitq.h, sitq.pc, the
# CMake package and the man pages under PREFIX; DESTDIR stages the files for
# a package. `make uninstall` (with the same DESTDIR) removes what the last
# install put in place (build/install_manifest.txt). See packaging/CMakeLists.txt.
PREFIX ?= /usr/local
.PHONY: install uninstall
install: build
	@DESTDIR="$(DESTDIR)" cmake --install build --prefix "$(PREFIX)"
uninstall:
	@DESTDIR="$(DESTDIR)" ./scripts/uninstall.sh build/install_manifest.txt
