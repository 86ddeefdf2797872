-- One queue cycle in raw SQL, for pgbench (run by bench/pg_part.sh: -c 2 -j 2 -D batch=200):
-- complete the previous batch of this client, then claim the next batch with SKIP LOCKED.
-- The table (create it once, with about 1M queued rows):
--   CREATE TABLE jobs (id bigint PRIMARY KEY, queue text NOT NULL, state smallint NOT NULL,
--     priority int NOT NULL DEFAULT 0, run_at timestamptz NOT NULL DEFAULT now(),
--     attempts int NOT NULL DEFAULT 0, worker int, lease_token bigint,
--     lease_until timestamptz, result bytea) WITH (fillfactor = 80);
--   CREATE INDEX jobs_ready ON jobs (queue, priority DESC, run_at, id) WHERE state = 0;
--   CREATE INDEX jobs_running ON jobs (queue, id) WHERE state = 3;
--   INSERT INTO jobs (id, queue, state) SELECT g, 'default', 0 FROM generate_series(1, 1000000) g;
-- Tasks per second = transactions per second x batch.
BEGIN;
UPDATE jobs SET state = 4, result = '\x01', lease_token = NULL
 WHERE state = 3 AND queue = 'default' AND worker = :client_id;
WITH c AS MATERIALIZED (
  SELECT id FROM jobs WHERE queue = 'default' AND state = 0 AND run_at <= now()
  ORDER BY priority DESC, run_at, id LIMIT :batch FOR UPDATE SKIP LOCKED)
UPDATE jobs j SET state = 3, attempts = j.attempts + 1, worker = :client_id, lease_token = 1,
  lease_until = now() + interval '30 s'
  FROM c WHERE j.id = c.id;
COMMIT;
