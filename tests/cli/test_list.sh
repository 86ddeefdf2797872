#!/usr/bin/env bash
# `sitq list`: every queue by default, true depends_on and value_len in
# JSON, JSON lines, and the error of failed tasks in the table.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

a=$("$SITQ" enqueue "$DB" -- echo hello)
b=$("$SITQ" enqueue "$DB" -- sh -c 'head -c 5000 /dev/zero | tr "\0" a')
c=$("$SITQ" enqueue "$DB" --after "$b" --after "$a" -- true)
m=$("$SITQ" enqueue "$DB" --queue mail -- sh -c 'echo boom >&2; exit 3')
"$SITQ" worker "$DB" --max-tasks 3 --quiet
"$SITQ" worker "$DB" --queue mail --max-tasks 1 --quiet

# JSON: the true dependencies (declared order) and result sizes, inline or not
json=$("$SITQ" list "$DB" --json)
assert_eq "[$m, $c, $b, $a]" "$(echo "$json" | jget "[t['id'] for t in d]")" "every queue, newest first"
assert_eq "[$b, $a]" "$(echo "$json" | jget "d[1]['depends_on']")" "list --json depends_on"
assert_eq "[]" "$(echo "$json" | jget "d[3]['depends_on']")" "no dependencies"
assert_eq 6 "$(echo "$json" | jget "d[3]['value_len']")" "list --json value_len (inline)"
assert_eq 5000 "$(echo "$json" | jget "d[2]['value_len']")" "list --json value_len (stored apart)"
assert_eq null "$(echo "$json" | jget "d[2]['value']")" "a list carries no value"
assert_eq "exit status 3" "$(echo "$json" | jget "d[0]['error']")" "list --json error"
# the same as show
assert_eq "$(field "$c" depends_on)" "$(echo "$json" | jget "d[1]['depends_on']")" "list and show agree"

# JSON lines: one object per line
"$SITQ" list "$DB" --jsonl >"$TMP/jsonl"
assert_eq 4 "$(wc -l <"$TMP/jsonl")" "list --jsonl lines"
assert_eq mail "$(sed -n 1p "$TMP/jsonl" | jget "d['queue']")" "list --jsonl first line"
assert_eq 5000 "$(sed -n 3p "$TMP/jsonl" | jget "d['value_len']")" "list --jsonl value_len"
expect_exit 2 "$SITQ" list "$DB" --json --jsonl

# --queue restricts; the table shows the queue and a failed task's error
assert_eq "[$c, $b, $a]" "$("$SITQ" list "$DB" --queue default --json | jget "[t['id'] for t in d]")" \
    "list --queue default"
expect_exit 0 "$SITQ" list "$DB"
assert_eq "ID STATUS QUEUE PRI ATT ENQUEUED TASK" "$(sed -n 1p "$TMP/out" | tr -s ' ')" "list header"
assert_eq "$m failed mail 0 1" "$(sed -n 2p "$TMP/out" | tr -s ' ' | cut -d' ' -f1-5)" "list failed row"
assert_eq "error: exit status 3" "$(sed -n 3p "$TMP/out" | tr -s ' ' | sed 's/^ //')" "list error line"
assert_eq "$c succeeded default 0 1" "$(sed -n 4p "$TMP/out" | tr -s ' ' | cut -d' ' -f1-5)" "list next row"
# a status no task has: an empty page, on every queue and on one
assert_eq "[]" "$("$SITQ" list "$DB" --status running --json | jget "d")" "list --status with no match"
assert_eq "[]" "$("$SITQ" list "$DB" --status running --offset 1 --json | jget "d")" \
    "list --status with no match, with an offset"
assert_eq "[]" "$("$SITQ" list "$DB" --status running --queue mail --json | jget "d")" \
    "list --status --queue with no match"
echo "ok"
