#!/usr/bin/env bash
# Runs flights_pipeline on the shipped data and checks every row of its
# outputs against an independent computation by the sqlite3 command line
# over the same CSV files.
#
# usage: check_aggregates.sh FLIGHTS_PIPELINE SOURCE_DIR [SQLITE3]
# exit:  0 pass, 1 fail, 77 skipped (no sqlite3 command line)
#
# With SITQ_TEST_BACKEND=postgres (under tests/pg/with_pg.sh) the queue is a
# fresh schema of SITQ_TEST_PG_URI, and a second run on that schema, whose
# queue then holds tasks, must be refused.
set -euo pipefail

BIN=${1:?flights_pipeline binary}
SRC=${2:?source dir}
SQLITE=${3:-sqlite3}
if ! command -v "$SQLITE" >/dev/null 2>&1; then
    echo "SKIP: sqlite3 command line not found" >&2
    exit 77
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sitq-demo-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
OUT=$TMP/out
FLIGHTS_GZ=$SRC/data/flights-200k.csv.gz
AIRPORTS_GZ=$SRC/data/airports.csv.gz
OUTLIER=300

fail() { echo "FAIL: $*" >&2; exit 1; }

DB=$TMP/queue.db
if [ "${SITQ_TEST_BACKEND:-sqlite}" = postgres ]; then
    DB="${SITQ_TEST_PG_URI:?SITQ_TEST_PG_URI is not set}?sitq_schema=flights_$$"
fi

echo "== running $BIN"
# From inside TMP: a --db taken for a file path would leave files there.
(cd "$TMP" && exec "$BIN" --input "$FLIGHTS_GZ" --airports "$AIRPORTS_GZ" --db "$DB" \
    --out "$OUT" --workers 3 --threads 2 --chunk-rows 7000 \
    --outlier-minutes $OUTLIER) >"$TMP/stdout" 2>"$TMP/stderr" || {
    cat "$TMP/stdout" "$TMP/stderr" >&2
    fail "flights_pipeline exited with status $?"
}
cat "$TMP/stdout"
for f in by_origin.csv by_day.csv by_state.csv cleaned.csv enriched.csv summary.txt; do
    [ -s "$OUT/$f" ] || fail "output $f missing or empty"
done
if [ "$DB" = "$TMP/queue.db" ]; then
    [ -f "$DB" ] || fail "queue database not created"
else
    [ ! -e "$TMP/postgresql:" ] || fail "a PostgreSQL --db was taken for a file path"
    rc=0
    "$BIN" --input "$FLIGHTS_GZ" --airports "$AIRPORTS_GZ" --db "$DB" --out "$TMP/again" \
        --quiet >/dev/null 2>"$TMP/again.err" || rc=$?
    [ "$rc" = 1 ] || fail "a second run on the same schema exited $rc, not 1"
    grep -q "already holds $(sed -n 's/^tasks=//p' "$OUT/summary.txt") tasks" "$TMP/again.err" ||
        fail "second run: $(cat "$TMP/again.err")"
fi

summary() { sed -n "s/^$1=//p" "$OUT/summary.txt"; }

echo "== independent computation with $SQLITE"
gunzip -c "$FLIGHTS_GZ" >"$TMP/flights.csv"
gunzip -c "$AIRPORTS_GZ" >"$TMP/airports.csv"

# Each check prints the rows that differ; the script fails if any does.
"$SQLITE" -bail "$TMP/check.db" >"$TMP/diff.txt" <<SQL
CREATE TABLE flights(date TEXT, delay INTEGER, distance INTEGER, origin TEXT, destination TEXT);
CREATE TABLE airports(iata TEXT, name TEXT, city TEXT, state TEXT, country TEXT,
                      latitude REAL, longitude REAL);
CREATE TABLE by_origin(origin TEXT, flights INTEGER, mean_delay REAL, min_delay INTEGER,
                       max_delay INTEGER);
CREATE TABLE by_day(day TEXT, flights INTEGER, mean_delay REAL);
CREATE TABLE by_state(state TEXT, flights INTEGER, mean_delay REAL, min_delay INTEGER,
                      max_delay INTEGER, outliers INTEGER);
CREATE TABLE cleaned(date TEXT, delay INTEGER, distance INTEGER, origin TEXT,
                     destination TEXT, outlier INTEGER);
CREATE TABLE enriched(date TEXT, delay INTEGER, distance INTEGER, origin TEXT,
                      origin_city TEXT, origin_state TEXT, destination TEXT, dest_city TEXT,
                      dest_state TEXT, outlier INTEGER);
.import --csv --skip 1 $TMP/flights.csv flights
.import --csv --skip 1 $TMP/airports.csv airports
.import --csv --skip 1 $OUT/by_origin.csv by_origin
.import --csv --skip 1 $OUT/by_day.csv by_day
.import --csv --skip 1 $OUT/by_state.csv by_state
.import --csv --skip 1 $OUT/cleaned.csv cleaned
.import --csv --skip 1 $OUT/enriched.csv enriched
CREATE INDEX flights_key ON flights(date, origin, destination);
CREATE UNIQUE INDEX airports_iata ON airports(iata);

CREATE VIEW distinct_flights AS
  SELECT DISTINCT date, delay, distance, origin, destination FROM flights;

CREATE TABLE exp_origin AS
  SELECT origin, COUNT(*) AS flights, AVG(delay) AS mean_delay, MIN(delay) AS min_delay,
         MAX(delay) AS max_delay
  FROM flights GROUP BY origin;
CREATE TABLE exp_day AS
  SELECT substr(date, 1, 10) AS day, COUNT(*) AS flights, AVG(delay) AS mean_delay
  FROM flights GROUP BY day;
CREATE TABLE exp_state AS
  SELECT COALESCE(a.state, '(unmatched)') AS state, COUNT(*) AS flights,
         AVG(f.delay) AS mean_delay, MIN(f.delay) AS min_delay, MAX(f.delay) AS max_delay,
         SUM(abs(f.delay) > $OUTLIER) AS outliers
  FROM distinct_flights f LEFT JOIN airports a ON a.iata = f.origin GROUP BY 1;

-- by_origin: every expected row present and equal, no extra rows.
SELECT 'by_origin differs', e.*, g.* FROM exp_origin e LEFT JOIN by_origin g USING (origin)
 WHERE g.origin IS NULL OR g.flights != e.flights OR g.min_delay != e.min_delay
    OR g.max_delay != e.max_delay
    OR abs(g.mean_delay - e.mean_delay) > 1e-6 * max(1.0, abs(e.mean_delay));
SELECT 'by_origin extra row', g.* FROM by_origin g LEFT JOIN exp_origin e USING (origin)
 WHERE e.origin IS NULL;

SELECT 'by_day differs', e.*, g.* FROM exp_day e LEFT JOIN by_day g USING (day)
 WHERE g.day IS NULL OR g.flights != e.flights
    OR abs(g.mean_delay - e.mean_delay) > 1e-6 * max(1.0, abs(e.mean_delay));
SELECT 'by_day extra row', g.* FROM by_day g LEFT JOIN exp_day e USING (day)
 WHERE e.day IS NULL;

SELECT 'by_state differs', e.*, g.* FROM exp_state e LEFT JOIN by_state g USING (state)
 WHERE g.state IS NULL OR g.flights != e.flights OR g.min_delay != e.min_delay
    OR g.max_delay != e.max_delay OR g.outliers != e.outliers
    OR abs(g.mean_delay - e.mean_delay) > 1e-6 * max(1.0, abs(e.mean_delay));
SELECT 'by_state extra row', g.* FROM by_state g LEFT JOIN exp_state e USING (state)
 WHERE e.state IS NULL;

-- cleaned.csv: exactly the distinct rows, outliers flagged.
SELECT 'cleaned row count', (SELECT COUNT(*) FROM cleaned), (SELECT COUNT(*) FROM distinct_flights)
 WHERE (SELECT COUNT(*) FROM cleaned) != (SELECT COUNT(*) FROM distinct_flights);
SELECT 'cleaned has duplicates'
 WHERE (SELECT COUNT(*) FROM (SELECT DISTINCT date, delay, distance, origin, destination
                              FROM cleaned)) != (SELECT COUNT(*) FROM cleaned);
SELECT 'cleaned row not in input', c.* FROM cleaned c
 WHERE NOT EXISTS (SELECT 1 FROM flights f WHERE f.date = c.date AND f.delay = c.delay
                     AND f.distance = c.distance AND f.origin = c.origin
                     AND f.destination = c.destination) LIMIT 5;
SELECT 'outlier flag wrong', c.* FROM cleaned c
 WHERE c.outlier != (abs(c.delay) > $OUTLIER) LIMIT 5;

-- enriched.csv: same rows, cities and states as in airports.csv.
SELECT 'enriched row count', (SELECT COUNT(*) FROM enriched)
 WHERE (SELECT COUNT(*) FROM enriched) != (SELECT COUNT(*) FROM cleaned);
SELECT 'enrichment wrong', e.* FROM enriched e
  LEFT JOIN airports o ON o.iata = e.origin LEFT JOIN airports d ON d.iata = e.destination
 WHERE COALESCE(o.city, '') != e.origin_city OR COALESCE(o.state, '') != e.origin_state
    OR COALESCE(d.city, '') != e.dest_city OR COALESCE(d.state, '') != e.dest_state LIMIT 5;
SQL
if [ -s "$TMP/diff.txt" ]; then
    head -50 "$TMP/diff.txt" >&2
    fail "pipeline outputs differ from the sqlite3 computation ($(wc -l <"$TMP/diff.txt") lines)"
fi

# Scalar figures of the summary against sqlite3.
q() { "$SQLITE" "$TMP/check.db" "$1"; }
expect() { # name expected got
    if [ "$2" != "$3" ]; then fail "$1: expected $2, pipeline says $3"; fi
    echo "ok   $1 = $3"
}
expect "rows_in" "$(q 'SELECT COUNT(*) FROM flights')" "$(summary rows_in)"
expect "duplicates" \
    "$(q "SELECT COUNT(*) - COUNT(DISTINCT date||','||delay||','||distance||','||origin||','||destination) FROM flights")" \
    "$(summary duplicates)"
expect "duplicates (known figure)" 14 "$(summary duplicates)"
expect "rows_out" "$(q 'SELECT COUNT(*) FROM distinct_flights')" "$(summary rows_out)"
expect "outliers" "$(q "SELECT COUNT(*) FROM distinct_flights WHERE abs(delay) > $OUTLIER")" \
    "$(summary outliers)"
expect "bad rows" 0 "$(summary bad)"
expect "etl bad rows" 0 "$(summary etl_bad)"
expect "origins" "$(q 'SELECT COUNT(DISTINCT origin) FROM flights')" "$(summary origins)"
expect "days" "$(q 'SELECT COUNT(DISTINCT substr(date,1,10)) FROM flights')" "$(summary days)"
expect "unmatched_codes" \
    "$(q 'SELECT COUNT(*) FROM (SELECT origin c FROM flights UNION SELECT destination FROM flights) WHERE c NOT IN (SELECT iata FROM airports)')" \
    "$(summary unmatched_codes)"
expect "tasks" "$(( $(summary chunks) + 2 + 4 ))" "$(summary tasks)"
expect "tasks_succeeded" "$(summary tasks)" "$(summary tasks_succeeded)"
expect "tasks_failed" 0 "$(summary tasks_failed)"
expect "chunks" 29 "$(summary chunks)" # ceil(200000 / 7000)
expect "workers" 3 "$(summary workers)"
# The findings printed at the end: the five worst airports (>= 1000 flights)
# in order, and the worst full day, as sqlite3 ranks them.
worst=$(q "SELECT origin FROM exp_origin WHERE flights >= 1000 ORDER BY mean_delay DESC LIMIT 5" | tr '\n' ' ')
printed=$(sed -n 's/^    [1-5]\. \([A-Z0-9]*\) .*/\1/p' "$TMP/stdout" | tr '\n' ' ')
expect "worst airports printed" "$worst" "$printed"
name=$(q "SELECT name FROM airports WHERE iata = '$(echo "$worst" | cut -d' ' -f1)'")
grep -qF "  $name, " "$TMP/stdout" || fail "the worst airport's name '$name' is not printed"
worst_day=$(q "SELECT day FROM exp_day WHERE 2 * flights >= (SELECT flights FROM exp_day ORDER BY flights LIMIT 1 OFFSET (SELECT COUNT(*) / 2 FROM exp_day)) ORDER BY mean_delay DESC LIMIT 1")
grep -q "^  worst day $worst_day " "$TMP/stdout" || fail "worst day is not $worst_day"
grep -q "^    $(q "SELECT max(day) FROM exp_day") .* partial$" "$TMP/stdout" ||
    fail "the last, partial day is not marked partial"
[ "$(grep -c ' partial$' "$TMP/stdout")" = 1 ] || fail "only the last day is partial"
expect "per-day lines" "$(q 'SELECT COUNT(*) FROM exp_day')" \
    "$(grep -c '^    [0-9-]\{10\} .* flights ' "$TMP/stdout")"
# The timeline: a line per worker, whose chunk counts add up to the chunks.
lanes=$(grep -c '^  flights-w[1-3] *|[# ]\{60\}| [0-9]* chunks$' "$TMP/stdout" || true)
[ "$lanes" -ge 1 ] && [ "$lanes" -le 3 ] || fail "timeline: $lanes worker lines, expected 1..3"
expect "timeline chunks" "$(summary chunks)" \
    "$(sed -n 's/^  flights-w[0-9]* *|.*| \([0-9]*\) chunks$/\1/p' "$TMP/stdout" | awk '{ s += $1 } END { print s }')"
grep -q 'tasks/s' "$TMP/stdout" && fail "the summary prints a tasks/s figure"
echo "PASS: pipeline outputs match sqlite3 (by_origin $(($(wc -l <"$OUT/by_origin.csv") - 1)) rows, by_day $(($(wc -l <"$OUT/by_day.csv") - 1)), by_state $(($(wc -l <"$OUT/by_state.csv") - 1)))"
