#!/usr/bin/env bash
# Shell pipelines: a task gets its dependencies' results as files named in
# SITQ_DEP_* variables (removed after the attempt) and, with
# --stdin-from-deps, their concatenation on stdin; stdin is /dev/null
# otherwise.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

expect_exit 2 "$SITQ" enqueue "$DB" --stdin-from-deps -- cat
assert_contains "$(cat "$TMP/err")" "--stdin-from-deps needs --after ID" "flag without --after"
expect_exit 2 "$SITQ" enqueue "$DB" --finalizer -- true
assert_contains "$(cat "$TMP/err")" "--finalizer needs --after ID" "finalizer without --after"
assert_eq "" "$(cat "$TMP/out")" "a refused finalizer prints no id"
assert_contains "$("$SITQ" enqueue --help)" "SITQ_DEP_i_STATUS" "enqueue --help"
assert_contains "$("$SITQ" worker --help)" "SITQ_DEPS_DIR" "worker --help"

# A 3-stage pipeline: two producers, a `sort | uniq -c` consumer reading
# them on stdin, and a finalizer reading the SITQ_DEP_* files.
p1=$("$SITQ" enqueue "$DB" -- printf 'pear\napple\npear\n')
p2=$("$SITQ" enqueue "$DB" -- printf 'apple\nfig\npear\n')
c=$("$SITQ" enqueue "$DB" --after "$p1" --after "$p2" --stdin-from-deps -- sh -c 'sort | uniq -c')
fin=$("$SITQ" enqueue "$DB" --after "$c" --after "$p2" --finalizer -- sh -c '
  echo "count=$SITQ_DEP_COUNT dir=$SITQ_DEPS_DIR"
  i=1
  while [ $i -le "$SITQ_DEP_COUNT" ]; do
    eval "f=\$SITQ_DEP_$i id=\$SITQ_DEP_${i}_ID st=\$SITQ_DEP_${i}_STATUS"
    echo "dep $i: id=$id status=$st file=${f#$SITQ_DEPS_DIR/} bytes=$(wc -c <"$f")"
    i=$((i + 1))
  done
  stat -c "dir mode %a" "$SITQ_DEPS_DIR"
  stat -c "file mode %a" "$SITQ_DEP_1"
  tr -s " " <"$SITQ_DEP_1"
  readlink /proc/$$/fd/0')
# Without --stdin-from-deps stdin is /dev/null; with one dependency it is
# that dependency's file.
nul=$("$SITQ" enqueue "$DB" --after "$p1" -- sh -c 'readlink /proc/$$/fd/0; cat')
one=$("$SITQ" enqueue "$DB" --after "$p2" --stdin-from-deps -- sh -c 'cat; basename "$(readlink /proc/$$/fd/0)"')

mkdir "$TMP/wtmp"
# A stale variable in the worker's environment never reaches a command.
SITQ_DEP_9=stale SITQ_DEPS_DIR=/nowhere TMPDIR="$TMP/wtmp" start_worker --concurrency 2
expect_exit 0 "$SITQ" wait "$DB" "$fin" --timeout 20
expect_exit 0 "$SITQ" wait "$DB" "$nul" --timeout 20
expect_exit 0 "$SITQ" wait "$DB" "$one" --timeout 20

assert_eq "$(printf '      2 apple\n      1 fig\n      3 pear')" "$(field "$c" value)" "sort | uniq -c over both producers"
assert_eq true "$(field "$c" stdin_from_deps)" "show --json stdin_from_deps"
assert_eq false "$(field "$fin" stdin_from_deps)" "show --json without the flag"
assert_contains "$("$SITQ" show "$DB" "$c")" "stdin:            the dependencies' results" "show text"
case "$("$SITQ" show "$DB" "$fin")" in *"stdin:"*) fail "stdin line without the flag" ;; esac
out=$(field "$fin" value)
dir=$(echo "$out" | sed -n 1p | sed 's/.*dir=//')
case "$dir" in "$TMP/wtmp/sitq-deps-"??????) ;; *) fail "deps dir '$dir' not under the worker's TMPDIR" ;; esac
cbytes=$(field "$c" value_len)
assert_eq "count=2 dir=$dir
dep 1: id=$c status=succeeded file=1 bytes=$cbytes
dep 2: id=$p2 status=succeeded file=2 bytes=15
dir mode 700
file mode 600
 2 apple
 1 fig
 3 pear
/dev/null" "$out" "finalizer's view of SITQ_DEP_*"
assert_eq "/dev/null" "$(field "$nul" value)" "stdin without --stdin-from-deps"
assert_eq "$(printf 'apple\nfig\npear\n1')" "$(field "$one" value)" "stdin from one dependency"

# Nothing is left behind: the directories are gone after each attempt.
assert_eq "" "$(ls -A "$TMP/wtmp")" "files removed after the attempts"
[ ! -e "$dir" ] || fail "$dir still exists"

# Outcomes a finalizer sees; a command's own files in the directory go too;
# a task without dependencies gets no SITQ_DEP* variable at all.
bad=$("$SITQ" enqueue "$DB" -- sh -c 'echo partial; exit 3')
late=$("$SITQ" enqueue "$DB" --delay 3600 -- true)
expect_exit 0 "$SITQ" cancel "$DB" "$late"
fin2=$("$SITQ" enqueue "$DB" --after "$bad" --after "$late" --after "$p1" --finalizer \
  --stdin-from-deps -- sh -c '
  echo "$SITQ_DEP_1_STATUS $SITQ_DEP_2_STATUS $SITQ_DEP_3_STATUS"
  wc -c <"$SITQ_DEP_1"; wc -c; echo junk >"$SITQ_DEPS_DIR/mine"')
solo=$("$SITQ" enqueue "$DB" -- sh -c 'env | grep -c ^SITQ_DEP || true')
expect_exit 0 "$SITQ" wait "$DB" "$fin2" --timeout 20
expect_exit 0 "$SITQ" wait "$DB" "$solo" --timeout 20
assert_eq "$(printf 'failed cancelled succeeded\n0\n16')" "$(field "$fin2" value)" "finalizer outcomes"
assert_eq "0" "$(field "$solo" value)" "no dependencies"

# Results stream to stdin through files: two 60000-byte results.
big1=$("$SITQ" enqueue "$DB" -- sh -c 'head -c 60000 /dev/zero | tr "\0" a')
big2=$("$SITQ" enqueue "$DB" -- sh -c 'head -c 60000 /dev/zero | tr "\0" b')
sum=$("$SITQ" enqueue "$DB" --after "$big1" --after "$big2" --stdin-from-deps -- sh -c \
  'tr -d "\n" | fold -w 1 | sort | uniq -c | tr -s " "')
expect_exit 0 "$SITQ" wait "$DB" "$sum" --timeout 20
assert_eq "$(printf ' 60000 a\n 60000 b')" "$(field "$sum" value)" "large results on stdin"
stop_worker
assert_eq "" "$(ls -A "$TMP/wtmp")" "files removed at the end"
echo OK
