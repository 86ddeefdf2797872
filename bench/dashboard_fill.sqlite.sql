-- dashboard_fill.sqlite.sql - a store of :n tasks in sitq's SQLite schema for
-- bench/dashboard_load.sh, inserted in one statement (far faster than any
-- queue API). The schema must exist (sitq opened the file). The shell
-- script replaces @N@ (tasks) and @NOW@ (UTC microseconds) before running it.
--
-- The mix, by id i (1..N), in blocks of 100 ids that share a queue:
--   the oldest 99%: 94% succeeded, 4% failed (error and traceback), 1%
--   cancelled, and a pipeline per block: id 93 of the block succeeded after
--   its two dependencies 91 and 92;
--   the newest 1% (the backlog): queued, scheduled (an hour ahead), and
--   waiting children of two queued parents each.
-- Queues: default (4 blocks in 7), emails (2), reports (1). Functions: 8
-- common ones, and "audit" once in 100,000 ids (a rare function: what a
-- function filter has to find). Enqueued 10 ms apart, ending now, so that
-- retention (7 days) keeps every task.
PRAGMA synchronous = OFF;
PRAGMA cache_size = -262144;
CREATE TEMP TABLE fill_p AS SELECT @N@ AS n, @NOW@ AS now_us,
  @N@ - max(100, (@N@ / 100) / 100 * 100) AS b0;
BEGIN IMMEDIATE;
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < (SELECT n FROM fill_p)),
r AS (
  SELECT i, i % 100 AS k, (i - b0) % 10 AS j, i > b0 AS backlog,
         now_us - (n - i + 1) * 10000 AS enq, now_us
  FROM s, fill_p)
INSERT INTO sitq_tasks(id, queue, function, state, priority, run_at_us, attempts, max_retries,
                       pending_deps, error, traceback, enqueued_at_us, started_at_us,
                       finished_at_us, payload, result)
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
  CASE WHEN backlog THEN NULL
       WHEN k BETWEEN 94 AND 97 THEN 'ValueError: row ' || i || ' of the input is malformed'
       WHEN k = 98 THEN 'cancelled by an operator' END,
  CASE WHEN NOT backlog AND k BETWEEN 94 AND 97 THEN
    'Traceback (most recent call last):' || char(10) ||
    '  File "jobs.py", line 41, in handle' || char(10) || '    rows = parse(payload)' || char(10) ||
    '  File "jobs.py", line 17, in parse' || char(10) || '    raise ValueError(msg)' || char(10) ||
    'ValueError: row ' || i || ' of the input is malformed' END,
  enq,
  CASE WHEN backlog OR k = 98 THEN NULL ELSE enq + 2000 END,
  CASE WHEN backlog THEN NULL ELSE enq + 7000 END,
  CAST('{"row": ' || i || ', "source": "s3://bucket/input/part-' || (i % 977) || '.csv"}' AS BLOB),
  CASE WHEN NOT backlog AND k NOT BETWEEN 94 AND 98 THEN CAST('{"ok": true, "rows": ' || (i % 1000) || '}' AS BLOB) END
FROM r;
-- Pipelines: the finished one of each block, and each waiting child of the backlog.
INSERT INTO sitq_deps(task_id, depends_on, position, finalizer)
SELECT t.id, t.id - 2 + p.pos, p.pos, 0
FROM sitq_tasks t, (SELECT 0 AS pos UNION ALL SELECT 1) p, fill_p
WHERE (t.id <= b0 AND t.id % 100 = 93) OR (t.id > b0 AND (t.id - b0) % 10 = 9);
INSERT OR REPLACE INTO sitq_counts(queue, succeeded)
SELECT queue, count(*) FROM sitq_tasks WHERE state = 4 GROUP BY queue;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
