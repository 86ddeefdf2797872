#!/bin/bash
# run.sh BUILD_DIR - the long chaos runs (`make chaos`): every scenario at
# full size, one line of figures each, then a summary. Exit status 1 when a
# scenario failed.
#
# Environment: SEED (one seed for every scenario; default: a new one per
# run, printed), CHAOS_TASKS (default 20000), CHAOS_KILLS (default 100),
# SOAK (seconds of an extra soak, 8 producers and 4 workers with every
# execution counted; default none), CHAOS_ONLY (space-separated scenario
# names to run; default all), PYTHON (default /usr/bin/python3).
#
# The counted scenarios (contention kill stop pgterm pgrestart) run on
# PostgreSQL, in a throwaway cluster each (tests/pg/with_pg.sh; skipped when
# no server is installed), with CHAOS_TASKS * 5 tasks.
set -u
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$build" && pwd)
chaos=$build/tests/chaos/sitq_chaos
sitq=$build/sitq
python=${PYTHON:-/usr/bin/python3}
tasks=${CHAOS_TASKS:-20000}
kills=${CHAOS_KILLS:-100}
for v in "CHAOS_TASKS=$tasks" "CHAOS_KILLS=$kills" ${SOAK:+"SOAK=$SOAK"}; do
    if ! [[ ${v#*=} =~ ^[0-9]+$ ]]; then
        echo "run.sh: ${v%%=*} must be a whole number, got '${v#*=}'" >&2
        exit 2
    fi
done
scenarios="shell python dag batch diskfull corrupt wal blob contention kill stop pgterm pgrestart soak"
for name in ${CHAOS_ONLY:-}; do
    if [[ " $scenarios " != *" $name "* ]]; then
        echo "run.sh: unknown scenario '$name' in CHAOS_ONLY (known: $scenarios)" >&2
        exit 2
    fi
done
if [[ " ${CHAOS_ONLY:-} " == *" soak "* ]] && [ -z "${SOAK:-}" ]; then
    echo "run.sh: CHAOS_ONLY names soak but SOAK (its seconds) is not set" >&2
    exit 2
fi
if [ ! -x "$chaos" ] || [ ! -x "$sitq" ]; then
    echo "run.sh: build first (make build): $chaos or $sitq is missing" >&2
    exit 2
fi
if [ -z "${SEED:-}" ]; then
    SEED=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
fi
export SEED
echo "chaos: SEED=$SEED (make chaos SEED=$SEED reproduces the kill moments and inputs)"

lines=()
failed=0
runner=() # a command that runs sitq_chaos (run_pg: inside with_pg.sh)
run() {
    local name=$1 out rc
    shift
    if [ -n "${CHAOS_ONLY:-}" ] && [[ " $CHAOS_ONLY " != *" $name "* ]]; then
        return 0
    fi
    echo "--- $name: sitq_chaos $*" >&2
    out=$("${runner[@]}" "$chaos" "$@")
    rc=$?
    [ -n "$out" ] && echo "$out"
    case $rc in
        0) ;;
        77) out="chaos $name: SKIPPED (see above)" ;;
        *) failed=$((failed + 1)); [ -n "$out" ] || out="chaos $name: FAILED with exit status $rc" ;;
    esac
    lines+=("$out")
}

# run_pg NAME ARGS...: as run, on a throwaway PostgreSQL cluster (--db).
run_pg() {
    runner=(bash "$here/../pg/with_pg.sh" bash -c 'exec "$0" "$@" --db "$SITQ_TEST_PG_URI"')
    run "$@"
    runner=()
}

run shell shell --sitq "$sitq" --tasks "$tasks" --kills "$kills" --workers 4 --concurrency 4 \
    --lease 2 --deadline 3600
run python python --python "$python" --pythonpath "$build/python" --tasks-dir "$here" \
    --tasks "$tasks" --kills "$kills" --workers 4 --concurrency 2 --lease 2 --deadline 3600
run dag dag --sitq "$sitq" --tasks $((tasks / 2)) --kills "$kills" --workers 4 --concurrency 4 \
    --lease 2 --deadline 3600
run batch batch --tasks 100000 --trials 20 --deadline 600
run diskfull diskfull --sitq "$sitq" --tmpfs-mib 64 --deadline 600
run corrupt corrupt --sitq "$sitq" --variants 64 --deadline 120
run wal wal --producers 8 --workers 4 --concurrency 2 --duration 60 --wal-bound-mib 64 --deadline 600
run blob blob --result-mib 1 --lease 2 --load 2 --deadline 600
run_pg contention contention --tasks $((tasks * 5)) --workers 4 --concurrency 4 --lease 2 \
    --deadline 1800
run_pg kill kill --tasks $((tasks * 5)) --kills "$kills" --workers 4 --concurrency 4 --lease 2 \
    --deadline 1800
run_pg stop stop --kills 20 --workers 4 --concurrency 2 --lease 2 --deadline 600
run_pg pgterm pgterm --tasks $((tasks * 5)) --workers 4 --concurrency 4 --lease 2 --deadline 1800
run_pg pgrestart pgrestart --producers 4 --duration 150 --kills 10 --workers 4 --concurrency 4 \
    --lease 10 --deadline 600
if [ -n "${SOAK:-}" ]; then
    run soak wal --label soak --producers 8 --workers 4 --concurrency 2 --duration "$SOAK" --wal-bound-mib 64 \
        --deadline 1800
fi

echo
echo "chaos summary (SEED=$SEED):"
if [ ${#lines[@]} -eq 0 ]; then
    echo "chaos: no scenario ran"
    exit 1
fi
printf '%s\n' "${lines[@]}"
if [ "$failed" -ne 0 ]; then
    echo "chaos: $failed scenario(s) failed"
    exit 1
fi
echo "chaos: every scenario passed"
