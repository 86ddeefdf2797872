-- dashboard_fill.pg.sql - the store of bench/dashboard_fill.sqlite.sql (the
-- same tasks, ids, mix and times) in sitq's PostgreSQL schema, for
-- bench/dashboard_load.sh. The schema must exist (sitq opened it). psql
-- variables: n (tasks), now_us (UTC microseconds), schema (sitq's schema).
\set ON_ERROR_STOP on
SET synchronous_commit = off;
SET maintenance_work_mem = '256MB';
BEGIN;
CREATE TEMP TABLE fill_p AS SELECT :n::bigint AS n, :now_us::bigint AS now_us,
  :n::bigint - greatest(100, (:n::bigint / 100) / 100 * 100) AS b0;
INSERT INTO :"schema".tasks(id, queue, function, state, priority, run_at_us, attempts,
                            max_retries, pending_deps, error, traceback, enqueued_at_us,
                            started_at_us, finished_at_us, payload, result)
SELECT i,
  CASE (i / 100) % 7 WHEN 4 THEN 'emails' WHEN 5 THEN 'emails' WHEN 6 THEN 'reports'
                     ELSE 'default' END,
  CASE WHEN i % 100000 = 50 THEN 'audit'
       ELSE CASE (i / 3) % 8 WHEN 0 THEN 'resize' WHEN 1 THEN 'send_email' WHEN 2 THEN 'render'
            WHEN 3 THEN 'fetch' WHEN 4 THEN 'index' WHEN 5 THEN 'notify' WHEN 6 THEN 'bill'
            ELSE 'report' END END,
  CASE WHEN backlog THEN (CASE j WHEN 9 THEN 1 ELSE 0 END)
       WHEN k BETWEEN 94 AND 97 THEN 5 WHEN k = 98 THEN 6 ELSE 4 END,
  0,
  CASE WHEN backlog AND j = 6 THEN now_us + 3600000000 ELSE enq END,
  CASE WHEN backlog THEN 0 WHEN k BETWEEN 94 AND 97 THEN 3 WHEN k = 98 THEN 0 ELSE 1 END,
  CASE WHEN k BETWEEN 94 AND 97 THEN 2 ELSE 0 END,
  CASE WHEN backlog AND j = 9 THEN 2 ELSE 0 END,
  convert_to(CASE WHEN backlog THEN NULL
       WHEN k BETWEEN 94 AND 97 THEN 'ValueError: row ' || i || ' of the input is malformed'
       WHEN k = 98 THEN 'cancelled by an operator' END, 'UTF8'),
  convert_to(CASE WHEN NOT backlog AND k BETWEEN 94 AND 97 THEN
    'Traceback (most recent call last):' || chr(10) ||
    '  File "jobs.py", line 41, in handle' || chr(10) || '    rows = parse(payload)' || chr(10) ||
    '  File "jobs.py", line 17, in parse' || chr(10) || '    raise ValueError(msg)' || chr(10) ||
    'ValueError: row ' || i || ' of the input is malformed' END, 'UTF8'),
  enq,
  CASE WHEN backlog OR k = 98 THEN NULL ELSE enq + 2000 END,
  CASE WHEN backlog THEN NULL ELSE enq + 7000 END,
  convert_to('{"row": ' || i || ', "source": "s3://bucket/input/part-' || (i % 977) || '.csv"}', 'UTF8'),
  CASE WHEN NOT backlog AND k NOT BETWEEN 94 AND 98
       THEN convert_to('{"ok": true, "rows": ' || (i % 1000) || '}', 'UTF8') END
FROM (SELECT i, i % 100 AS k, (i - b0) % 10 AS j, i > b0 AS backlog,
             now_us - (n - i + 1) * 10000 AS enq, now_us
      FROM fill_p, generate_series(1::bigint, (SELECT n FROM fill_p)) AS i) r;
INSERT INTO :"schema".deps(task_id, depends_on, position, finalizer)
SELECT t.id, t.id - 2 + p.pos, p.pos, 0
FROM fill_p, generate_series(1::bigint, (SELECT n FROM fill_p)) AS t(id), (VALUES (0), (1)) p(pos)
WHERE (t.id <= b0 AND t.id % 100 = 93) OR (t.id > b0 AND (t.id - b0) % 10 = 9);
INSERT INTO :"schema".counts(queue, shard, succeeded)
SELECT queue, 0, count(*) FROM :"schema".tasks WHERE state = 4 GROUP BY queue
ON CONFLICT (queue, shard) DO UPDATE SET succeeded = EXCLUDED.succeeded;
SELECT setval(:'schema' || '.task_ids', (SELECT n FROM fill_p));
COMMIT;
-- What autovacuum would do in time: the visibility map (index-only scans)
-- and the planner's statistics. Then a checkpoint, so that writing the
-- gigabytes just inserted does not stall the measured commits.
VACUUM (ANALYZE) :"schema".tasks;
VACUUM (ANALYZE) :"schema".deps;
CHECKPOINT;
