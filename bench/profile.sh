#!/usr/bin/env bash
# bench/profile.sh - where the time goes in the end-to-end no-op case.
#
#   bench/profile.sh [TASKS] [normal|full] [PREFETCH]   (defaults: 200000, normal, sitq's own)
#
# Runs `sitq_bench --scenario e2e --sync MODE --tasks TASKS` under
# `perf record --call-graph dwarf` (falls back to valgrind --tool=callgrind
# with TASKS/10 when perf cannot count on this machine) and writes the top
# self-time symbols, the split by library and by thread, and the inclusive
# time of sitq's own functions to bench/results/profile.md; report.py puts
# that file into the closing note of results.md. The enqueue_batch that fills
# the queue (about a tenth of the run) is part of the profile; it runs on the
# main thread, which the per-thread split shows apart.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BUILD="${BUILD:-$ROOT/build}"
TASKS="${1:-200000}"
MODE="${2:-normal}"
PREFETCH="${3:-}"
PF_OPT=""
[ -n "$PREFETCH" ] && PF_OPT="--prefetch $PREFETCH"
OUT="${PROFILE_OUT:-$HERE/results/profile.md}"
WORK="${BENCH_DIR:-$HERE/work}"
mkdir -p "$WORK" "$HERE/results"
BENCH="$BUILD/sitq_bench"
[ -x "$BENCH" ] || BENCH="$BUILD/bench-standalone/sitq_bench"
[ -x "$BENCH" ] || { echo "profile.sh: run bench/run.sh (or build sitq_bench) first" >&2; exit 1; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

if perf stat -e instructions true >/dev/null 2>&1; then
  perf record -q -F 2000 --call-graph dwarf,16384 -o "$TMP/perf.data" -- \
    "$BENCH" --scenario e2e --sync "$MODE" --tasks "$TASKS" --dir "$WORK" $PF_OPT > "$TMP/run.txt" 2>&1 || exit 1
  R="perf report -i $TMP/perf.data --stdio --no-header"
  $R --no-children --sort symbol --percent-limit 0.8 -g none 2>/dev/null | grep -v '^$' | grep -v '^#' > "$TMP/self.txt"
  $R --no-children --sort dso --percent-limit 0.5 -g none 2>/dev/null | grep -v '^$' | grep -v '^#' > "$TMP/dso.txt"
  $R --no-children --sort pid --percent-limit 0.5 -g none 2>/dev/null | grep -v '^$' | grep -v '^#' > "$TMP/tid.txt"
  $R --children --sort symbol -g none 2>/dev/null | grep -E ' (sq_|sitq_|apply_|read_claimed|reap|dispatcher_main|executor_main|sqlite3_step|sqlite3_prepare|sqlite3VdbeExec|sqlite3BtreeCommitPhaseTwo|sqlite3PagerCommitPhaseOne|walWriteToLog|walCheckpoint|sqlite3WalFrames|pthread_cond|pthread_mutex|__futex|futex|syscall|fdatasync|pwrite|sqlite3_reset|sqlite3_bind|malloc|free)' \
    | head -40 > "$TMP/incl.txt"
  TOOL="perf record --call-graph dwarf (2 kHz), perf $(perf version 2>/dev/null | awk '{print $3}')"
else
  TASKS=$(( TASKS / 10 ))
  valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" \
    "$BENCH" --scenario e2e --sync "$MODE" --tasks "$TASKS" --dir "$WORK" $PF_OPT > "$TMP/run.txt" 2>&1 || exit 1
  callgrind_annotate "$TMP/cg.out" 2>/dev/null | sed -n '/Ir/,$p' | head -40 > "$TMP/self.txt"
  callgrind_annotate --inclusive=yes "$TMP/cg.out" 2>/dev/null | sed -n '/Ir/,$p' | head -40 > "$TMP/incl.txt"
  : > "$TMP/dso.txt"; : > "$TMP/tid.txt"
  TOOL="valgrind --tool=callgrind (instructions, not time)"
fi
{
  echo "### Profile: end-to-end no-op tasks, C API, $(echo "$MODE" | tr a-z A-Z), $TASKS tasks${PREFETCH:+, prefetch $PREFETCH}"
  echo
  echo "Tool: $TOOL; sitq $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- src include 2>/dev/null || echo '+changes'); $(date -u +%Y-%m-%dT%H:%MZ). Figures of that run:"
  echo
  echo '```'
  grep -E 'tasks_per_s|per_commit' "$TMP/run.txt"
  echo '```'
  echo
  echo "Self time by symbol (share of all samples, all threads):"
  echo
  echo '```'
  sed 's/[[:space:]]*$//' "$TMP/self.txt" | head -30
  echo '```'
  if [ -s "$TMP/dso.txt" ]; then
    echo
    echo "By library:"
    echo
    echo '```'
    cat "$TMP/dso.txt"
    echo '```'
    echo
    echo "By thread (pid:comm; the largest is the dispatcher, which does all the writing; then the main thread, which enqueues and waits; then the two handler threads):"
    echo
    echo '```'
    cat "$TMP/tid.txt"
    echo '```'
  fi
  echo
  echo "Inclusive time (self + callees) of selected functions:"
  echo
  echo '```'
  sed 's/[[:space:]]*$//' "$TMP/incl.txt"
  echo '```'
} > "$OUT"
echo "profile.sh: wrote $OUT"
