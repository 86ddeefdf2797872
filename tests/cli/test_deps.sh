#!/usr/bin/env bash
# show ID --deps: the dependency tree with each node's status and why it is
# blocked, as text and JSON; --finalizer runs after failures too.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

a=$("$SITQ" enqueue "$DB" -- false)
b=$("$SITQ" enqueue "$DB" -- echo hi)
s=$("$SITQ" enqueue "$DB" --delay 3600 -- true)
f=$("$SITQ" enqueue "$DB" --after "$a" --after "$b" --after "$s" --finalizer -- true)
d=$("$SITQ" enqueue "$DB" --after "$f" -- true)
e=$("$SITQ" enqueue "$DB" --after "$b" --after "$a" -- true)

# before any run: blocked counts, declared order
out=$("$SITQ" show "$DB" "$d" --deps)
assert_eq "$d waiting shell: waiting on 1 of 1" "$(echo "$out" | sed -n 1p)" "root line"
assert_eq "  $f waiting shell (finalizer): waiting on 3 of 3" "$(echo "$out" | sed -n 2p)" "finalizer line"
assert_eq "    $a queued shell" "$(echo "$out" | sed -n 3p)" "first dependency"
assert_eq "    $s scheduled shell" "$(echo "$out" | sed -n 5p)" "third dependency"
json=$("$SITQ" show "$DB" "$e" --deps --json)
assert_eq "[$b, $a]" "$(echo "$json" | jget "[c['id'] for c in d['dependencies']]")" "declared order"
assert_eq "waiting on 2 of 2" "$(echo "$json" | jget "d['blocked']")" "json blocked"

# a fails, b succeeds, s is cancelled: e fails by dependency, the finalizer runs
expect_exit 0 "$SITQ" cancel "$DB" "$s"
start_worker --concurrency 2
expect_exit 0 "$SITQ" wait "$DB" "$d" --timeout 20
stop_worker
out=$("$SITQ" show "$DB" "$e" --deps)
assert_eq "$e failed shell: dependency $a failed" "$(echo "$out" | sed -n 1p)" "failed by dependency"
json=$("$SITQ" show "$DB" "$d" --deps --json)
assert_eq succeeded "$(echo "$json" | jget "d['dependencies'][0]['status']")" "finalizer ran"
assert_eq true "$(echo "$json" | jget "d['dependencies'][0]['finalizer']")" "finalizer flag"
assert_eq '["failed", "succeeded", "cancelled"]' \
  "$(echo "$json" | jget "[c['status'] for c in d['dependencies'][0]['dependencies']]")" "outcomes"
assert_eq "exit status 1" "$(echo "$json" | jget "d['dependencies'][0]['dependencies'][0]['error']")" "error"

assert_eq true "$(field "$f" finalizer)" "show --json finalizer"
assert_eq false "$(field "$d" finalizer)" "show --json not a finalizer"
assert_contains "$("$SITQ" show "$DB" "$f")" "depends_on:       $a $b $s (finalizer" "show text finalizer"

# a diamond lists a task met again once
x=$("$SITQ" enqueue "$DB" --after "$b" -- true)
y=$("$SITQ" enqueue "$DB" --after "$b" --after "$x" -- true)
out=$("$SITQ" show "$DB" "$y" --deps)
assert_contains "$out" "$b succeeded (shown above)" "diamond"

expect_exit 2 "$SITQ" show "$DB" "$d" --deps --value
expect_exit 1 "$SITQ" show "$DB" 999 --deps
expect_exit 2 "$SITQ" list "$DB" --deps
echo "ok"
