#!/usr/bin/env bash
# Error handling of flights_pipeline: bad options and paths, malformed input,
# bad rows, injected task failures and retries.
#
# usage: check_errors.sh FLIGHTS_PIPELINE SOURCE_DIR
set -uo pipefail

BIN=${1:?flights_pipeline binary}
SRC=${2:?source dir}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sitq-demo-errors.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
AIRPORTS=$SRC/data/airports.csv.gz
FLIGHTS=$SRC/data/flights-200k.csv.gz
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# run NAME EXPECTED_STATUS STDERR_PATTERN -- args...
run() {
    local name=$1 want=$2 pattern=$3
    shift 4
    "$BIN" --db "$TMP/$name.db" --out "$TMP/$name" --quiet "$@" \
        >"$TMP/$name.stdout" 2>"$TMP/$name.stderr"
    local got=$?
    if [ "$got" != "$want" ]; then
        fail "$name: exit status $got, expected $want"
        sed 's/^/    /' "$TMP/$name.stderr" >&2
    elif [ -n "$pattern" ] && ! grep -Eq -- "$pattern" "$TMP/$name.stderr"; then
        fail "$name: stderr lacks /$pattern/"
        sed 's/^/    /' "$TMP/$name.stderr" >&2
    else
        echo "ok   $name (exit $got)"
    fi
}
summary() { sed -n "s/^$2=//p" "$TMP/$1/summary.txt" 2>/dev/null; }
expect() { # name key expected
    local got
    got=$(summary "$1" "$2")
    if [ "$got" != "$3" ]; then fail "$1: $2 = '$got', expected '$3'"; else echo "ok   $1: $2 = $3"; fi
}

# --- options and paths -------------------------------------------------------
run missing_input 1 "input file '$TMP/nope.csv.gz': No such file or directory" -- \
    --input "$TMP/nope.csv.gz" --airports "$AIRPORTS"
run missing_airports 1 "airports file '$TMP/nope.csv': No such file" -- \
    --input "$FLIGHTS" --airports "$TMP/nope.csv"
run input_is_dir 1 "is not a regular file" -- --input "$TMP" --airports "$AIRPORTS"
run unknown_option 2 "unknown option '--bogus'" -- --bogus
run bad_workers 2 "--workers: '0' is not an integer in 1..64" -- --workers 0
run bad_chunk 2 "--chunk-rows: 'x' is not an integer" -- --chunk-rows x
run missing_value 2 "needs a value" -- --input
run stray_argument 2 "unexpected argument 'extra'" -- extra
"$BIN" --help >"$TMP/help.txt" 2>&1 && grep -q -- "--chunk-rows" "$TMP/help.txt" &&
    echo "ok   --help" || fail "--help"
touch "$TMP/outfile"
run out_not_dir 1 "cannot create output directory" -- --input "$FLIGHTS" \
    --airports "$AIRPORTS" --out "$TMP/outfile/sub"

# --- malformed input ---------------------------------------------------------
printf 'when,delay,distance,origin,destination\n2001-01-01 00:01:00,1,2,AAA,BBB\n' \
    >"$TMP/bad_header.csv"
run bad_header 1 "lacks column 'date'" -- --input "$TMP/bad_header.csv" --airports "$AIRPORTS"
: >"$TMP/empty.csv"
run empty_input 1 "is empty" -- --input "$TMP/empty.csv" --airports "$AIRPORTS"
printf 'date,delay,distance,origin,destination\n' >"$TMP/header_only.csv"
run header_only 1 "no data rows" -- --input "$TMP/header_only.csv" --airports "$AIRPORTS"
head -c 300000 "$FLIGHTS" >"$TMP/truncated.csv.gz"
run truncated_gzip 1 "unexpected end of file|read error" -- \
    --input "$TMP/truncated.csv.gz" --airports "$AIRPORTS"

# --- bad rows, duplicates, outliers, unknown airports (small file) -----------
cat >"$TMP/small.csv" <<'CSV'
date,delay,distance,origin,destination
2001-01-01 00:01:00,33,2176,LAS,PHL
2001-01-01 00:01:00,33,2176,LAS,PHL
2001-01-01 00:02:00,-5,215,ATL,SAV
2001-01-01 00:03:00,abc,215,ATL,SAV
2001-01-01 00:04:00,12,215,ATL
2001-02-30 00:05:00,12,215,ATL,SAV
2001/01/02 10:00,400,405,MCI,ZZZ
"2001-01-02 11:00:00",-400,405,"MCI",MDW
2001-01-02 12:00:00,7,100,ZZZ,LAX
2001-01-02 12:30:00,-1,100,lax,SFO
"2001-01-03
00:00:00",1,1,ATL,SAV
CSV
run small 0 "" -- --input "$TMP/small.csv" --airports "$AIRPORTS" --chunk-rows 3 --workers 2
expect small rows_in 11         # the quoted newline makes one record, not two
expect small chunks 4
expect small bad 5          # abc delay, missing field, 30 February, lower-case code,
expect small etl_bad 5      # newline inside the date
expect small duplicates 1
expect small rows_out 5
expect small outliers 2     # 400 and -400 > 300
expect small unmatched_codes 1
expect small unmatched_origin_rows 1
expect small unmatched_dest_rows 1
grep -q '^(unmatched),1,7.000000,7,7,0$' "$TMP/small/by_state.csv" &&
    echo "ok   small: by_state has the (unmatched) group" ||
    fail "small: by_state.csv lacks '(unmatched),1,7.000000,7,7,0'"
grep -q '^MCI,2,0.000000,-400,400$' "$TMP/small/by_origin.csv" &&
    echo "ok   small: by_origin MCI" || fail "small: by_origin.csv MCI row wrong"
grep -q '^2001-01-02,3,2.333333$' "$TMP/small/by_day.csv" &&
    echo "ok   small: by_day 2001-01-02 (slash date normalised)" ||
    fail "small: by_day.csv 2001-01-02 row wrong"

# --- task failures -----------------------------------------------------------
# A chunk failing every attempt: its retries run out, the aggregate and load
# that depend on it fail, the chain still completes; exit status 1.
run fail_chunk 1 "transform_chunk failed after 3 attempt\(s\): chunk 2 .*injected failure" -- \
    --input "$FLIGHTS" --airports "$AIRPORTS" --fail-chunk 2 --chunk-rows 20000
grep -q "aggregate_chunks failed" "$TMP/fail_chunk.stderr" &&
    echo "ok   fail_chunk: dependent aggregate_chunks reported failed" ||
    fail "fail_chunk: aggregate_chunks failure not reported"
grep -q "load_reports failed" "$TMP/fail_chunk.stderr" &&
    echo "ok   fail_chunk: dependent load_reports reported failed" ||
    fail "fail_chunk: load_reports failure not reported"
expect fail_chunk status failed
expect fail_chunk tasks_failed 3
expect fail_chunk duplicates 14
[ ! -e "$TMP/fail_chunk/by_origin.csv" ] && echo "ok   fail_chunk: no by_origin.csv" ||
    fail "fail_chunk: by_origin.csv written despite the failure"

# A chunk failing only its first attempt: retried, and the run succeeds.
run flaky_chunk 0 "" -- --input "$FLIGHTS" --airports "$AIRPORTS" --flaky-chunk 1 \
    --chunk-rows 20000
expect flaky_chunk status ok
expect flaky_chunk failed_attempts 1
expect flaky_chunk attempts 17   # 10 chunks + aggregate + load + 4 chain + 1 retry
expect flaky_chunk origins 223

# A failing run over the outputs of a good one leaves no stale aggregates.
"$BIN" --db "$TMP/rerun.db" --out "$TMP/flaky_chunk" --quiet --input "$FLIGHTS" \
    --airports "$AIRPORTS" --fail-chunk 0 --chunk-rows 50000 >/dev/null 2>&1
if [ $? -eq 1 ] && [ ! -e "$TMP/flaky_chunk/by_origin.csv" ] &&
    [ ! -e "$TMP/flaky_chunk/by_day.csv" ]; then
    echo "ok   failed rerun removed the previous by_origin.csv and by_day.csv"
else
    fail "failed rerun: exit status or stale by_origin.csv/by_day.csv"
fi

if [ "$failures" -ne 0 ]; then
    echo "FAILED: $failures check(s)" >&2
    exit 1
fi
echo "PASS: error handling"
