#!/usr/bin/env bash
# Install the Debian packages sitq needs to build, test and run its demo,
# only those that are missing (no network is used when all are present).
set -euo pipefail

packages=(
  gcc make cmake pkg-config           # toolchain
  clang                               # libFuzzer targets (tests/fuzz)
  clang-format                        # one code style, checked by make test (.clang-format)
  clang-tidy                          # short functions, bug-finding checks (make tidy, .clang-tidy)
  libsqlite3-dev sqlite3              # embedded backend; sqlite3 CLI checks the demo
  libpq-dev                           # the PostgreSQL backend's client library (libpq)
  postgresql                          # server for the throwaway test clusters (tests/pg)
  pgbouncer                           # transaction pooling in front of them (tests/pg/with_pgbouncer.sh)
  libjansson-dev                      # JSON output of the sitq command
  libmicrohttpd-dev                   # /metrics of sitq worker --metrics-address
  chromium chromium-driver            # headless browser test of sitq dashboard (tests/cli/test_dashboard_browser.sh)
  libncurses-dev                      # the live terminal view of sitq top (curses)
  tmux                                # drives sitq top on a terminal in tests/cli/test_top.sh
  prometheus                          # promtool checks the metrics text (tests/cli/test_metrics*.sh)
  libcmocka-dev                       # C unit tests
  zlib1g-dev                          # the demo reads gzip-compressed CSV
  python3-dev python3-setuptools python3-pip python3-wheel   # the Python binding and its wheel (make wheel)
  python3-pytest python3-numpy python3-pandas python3-cloudpickle
  python3-mypy                        # the type stubs are checked by tests/python/test_typing.py
  python3-venv                        # isolated environments for the Python packaging checks
  dpkg-dev debhelper dh-python fakeroot lintian   # the Debian packages (make deb, tests/install)
  tzdata                              # IANA time zones of cron schedules (/usr/share/zoneinfo)
  python3-croniter                    # independent cron implementation, cross-checked in tests
  python3-matplotlib                  # the Python demo draws its chunk timeline as a PNG
  procps                              # ps/pgrep used by process tests
  man-db groff-base                   # man --warnings checks the man pages (tests/install)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
