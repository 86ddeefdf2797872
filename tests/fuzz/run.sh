#!/usr/bin/env bash
# run.sh TARGET SEEDS SECONDS: run a libFuzzer target for SECONDS seconds,
# starting from the seed corpus SEEDS (read only) and keeping what it finds
# in a scratch directory. A crash, leak, timeout (10 s per input) or
# sanitizer report fails the run; the reproducer is copied to
# $FUZZ_ARTIFACTS (default: the current directory) and its path printed.
set -euo pipefail
target=$1 seeds=$2 seconds=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/sitq-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
artifacts=${FUZZ_ARTIFACTS:-$PWD}
mkdir -p "$artifacts"
rc=0
# -close_fd_mask=3: the targets' own stdout/stderr (usage texts, messages)
# are closed; libFuzzer keeps its reports on a duplicate of stderr.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
"$target" "$work" "$seeds" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$artifacts/$(basename "$target")-" \
    >"$work/log" 2>&1 || rc=$?
grep -E "^#[0-9]+ *DONE|stat::number_of_executed_units|ERROR|SUMMARY|Test unit written" "$work/log" || true
if [ $rc -ne 0 ]; then
    tail -n 60 "$work/log"
    echo "FAIL: $(basename "$target") exited $rc" >&2
    exit 1
fi
echo "ok: $(basename "$target") ran $seconds s, corpus $(ls "$work" | wc -l) new inputs"
