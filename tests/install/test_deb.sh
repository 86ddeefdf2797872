#!/usr/bin/env bash
# test_deb.sh SRC - the Debian packages build, pass lintian, install and work.
#
#   1. builds the binary packages (debian/: libsitq0, libsitq-dev, sitq,
#      python3-sitq) with scripts/build-deb.sh (dpkg-buildpackage on a copy
#      of the tree);
#   2. which runs lintian on them: any error fails;
#   3. smoke test, on the files the packages hold: extracted into a staging
#      root with dpkg-deb, or - as root with SITQ_TEST_DEB_INSTALL=1, or CI=true
#      (a throwaway machine) - installed with apt and removed after:
#        - the sitq command enqueues a shell task and runs it (--max-tasks 1);
#        - the README's first C program builds with pkg-config against
#          libsitq-dev and runs against libsitq0;
#        - python3 imports sitq from python3-sitq and runs a task; sitq-py
#          answers --help.
# Skipped (77) when dpkg-buildpackage, debhelper or lintian is missing.
set -euo pipefail
src=$1
for tool in dpkg-buildpackage dh lintian dh_python3 fakeroot; do
  if ! command -v "$tool" >/dev/null; then
    echo "test_deb: $tool is not installed (scripts/install-deps.sh installs it): skipped" >&2
    exit 77
  fi
done
tmp=$(mktemp -d)
installed=()
cleanup() {
  if [ ${#installed[@]} -gt 0 ]; then
    apt-get remove -y -qq "${installed[@]}" >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# 1 and 2. build, and lintian
bash "$src/scripts/build-deb.sh" "$src" "$tmp/debs"
debs=()
for p in libsitq0 libsitq-dev sitq python3-sitq; do
  debs+=("$(ls "$tmp/debs/${p}"_*.deb)")
done

# 3. install (or extract) and smoke test
if [ "$(id -u)" -eq 0 ] && { [ "${SITQ_TEST_DEB_INSTALL:-0}" = 1 ] || [ "${CI:-}" = true ]; }; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${debs[@]}" >"$tmp/apt.log" 2>&1 \
    || { tail -20 "$tmp/apt.log" >&2; echo "FAIL: apt-get install" >&2; exit 1; }
  installed=(libsitq0 libsitq-dev sitq python3-sitq)
  root=""
  unset PYTHONPATH
  echo "installed with apt: ${installed[*]}"
else
  root="$tmp/root"
  for f in "${debs[@]}"; do dpkg-deb -x "$f" "$root"; done
  multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
  export LD_LIBRARY_PATH="$root/usr/lib/$multiarch" PKG_CONFIG_SYSROOT_DIR="$root"
  export PKG_CONFIG_PATH="$root/usr/lib/$multiarch/pkgconfig"
  export PYTHONPATH="$root/usr/lib/python3/dist-packages"
  echo "extracted into a staging root (SITQ_TEST_DEB_INSTALL=1 as root installs with apt)"
fi
unset PYTHONDONTWRITEBYTECODE

cd "$tmp"
db="$tmp/smoke.db"
id=$("$root/usr/bin/sitq" enqueue "$db" -- echo deb-smoke)
"$root/usr/bin/sitq" worker "$db" --max-tasks 1 --quiet
out=$("$root/usr/bin/sitq" wait "$db" "$id" --json)
case "$out" in
  *'"status": "succeeded"'*deb-smoke* | *'"status":"succeeded"'*deb-smoke*) ;;
  *) echo "FAIL: the packaged sitq did not run the task: $out" >&2; exit 1 ;;
esac

awk '/^## A first program in C/ { sect = 1 }
     sect && /^```c$/ { code = 1; next }
     code && /^```$/ { exit }
     code { print }' "$src/README.md" >"$tmp/first.c"
# shellcheck disable=SC2046
cc -std=c11 "$tmp/first.c" $(pkg-config --cflags --libs sitq) -o "$tmp/first"
got=$("$tmp/first")
[ "$got" = "succeeded: hello" ] || { echo "FAIL: first program printed '$got'" >&2; exit 1; }

py=$(/usr/bin/python3 -c "import sitq, operator; q = sitq.TaskQueue(backend=sitq.SQLiteBackend(':memory:')); t = q.enqueue(operator.mul, 6, 7); print(sitq.__file__, sitq.Worker(q).process_task(t).value)")
case "$py" in
  "$root/usr/lib/python3/dist-packages/sitq/__init__.py 42") ;;
  *) echo "FAIL: python3-sitq: $py" >&2; exit 1 ;;
esac
"$root/usr/bin/sitq-py" worker --help | grep -q "usage:" \
  || { echo "FAIL: sitq-py --help" >&2; exit 1; }
echo "deb packages: built, lintian clean of errors, installed and smoke-tested"
