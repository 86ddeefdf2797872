#!/usr/bin/env bash
# run_cli.sh - the sitq command's tests (tests/cli/*.sh) against PostgreSQL:
# run from with_pg.sh, so that SITQ_TEST_PG_URI names a throwaway cluster;
# with SITQ_TEST_BACKEND=postgres each script's DB is a URI of a fresh schema
# of it (tests/cli/lib.sh).
#
#   run_cli.sh SITQ_BINARY JOBS SCRIPT...
#
# Runs the SCRIPTs, JOBS at a time (they spend most of their time waiting
# for processes, so a few at once fit on two cores), prints one line per
# script (passed, skipped with its reason, or failed) and the output of
# those that failed; exits 1 when any failed.
set -u
sitq=$1
jobs=$2
shift 2
export SITQ_TEST_BACKEND=postgres
outdir=$(mktemp -d "${TMPDIR:-/tmp}/sitq-pg-cli.XXXXXX")
trap 'rm -rf "$outdir"' EXIT

# run_one SCRIPT: run it, leave its output in $outdir/NAME.out and its exit
# status and seconds in $outdir/NAME.rc.
run_one() {
    local name start rc=0
    name=$(basename "$1" .sh)
    start=$(date +%s)
    bash "$1" "$sitq" >"$outdir/$name.out" 2>&1 || rc=$?
    echo "$rc $(($(date +%s) - start))" >"$outdir/$name.rc"
}

running=0
for s in "$@"; do
    run_one "$s" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

failed=()
skipped=0
for s in "$@"; do
    name=$(basename "$s" .sh)
    read -r rc secs <"$outdir/$name.rc"
    case "$rc" in
        0)
            echo "pg.cli: $name passed in $secs s"
            grep '^SKIP on PostgreSQL (part)' "$outdir/$name.out" | sed 's/^/    /' || true
            ;;
        77)
            skipped=$((skipped + 1))
            echo "pg.cli: $name skipped: $(grep -m1 '^SKIP' "$outdir/$name.out")"
            ;;
        *)
            failed+=("$name")
            echo "pg.cli: $name FAILED (exit $rc) in $secs s:"
            sed 's/^/    /' "$outdir/$name.out"
            ;;
    esac
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "pg.cli: failed: ${failed[*]}"
    exit 1
fi
echo "pg.cli: $(($# - skipped)) scripts passed, $skipped skipped"
