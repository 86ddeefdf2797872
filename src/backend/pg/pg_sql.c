/* pg_sql.c - every SQL statement of the PostgreSQL backend, in one place.
 *
 * "@." stands for the configured schema (quoted); pg_backend.c substitutes
 * it once at open, so that every object is named schema-qualified and no
 * search_path matters. Values always arrive as parameters ($N, cast to
 * their type so that preparing needs no type list); literal numbers are
 * stored states (core/lifecycle.h), written out so that the planner can use
 * the partial indexes. Times are UTC microseconds (columns ending in _us):
 * run_at_us and the other timestamps on the clock of the client that wrote
 * them, as in the SQLite backend; lease_until_us on the server's clock
 * (pg_db_now), so that workers on hosts whose clocks differ agree on when a
 * lease lapsed. Arrays (bigint[] literals, JSON arrays of names) carry
 * batches of any size in one parameter. */
#include "pg.h"

/* Columns read into a sitq_result by pg_row_to_result (pg_read.c). */
#define RESULT_COLS(value, traceback)                                                              \
    "id, queue, function, state, priority, attempts, max_retries, " value ", error, " traceback    \
    ", worker_id, unique_key, progress, cancel_requested, timeout_us, "                            \
    "COALESCE(octet_length(payload), 0)::bigint, enqueued_at_us, run_at_us, started_at_us, "       \
    "finished_at_us"

/* Inline payloads only; a large one is read by the worker later, outside the
 * write transaction. started_at_us IS NOT NULL: counted by the claim itself
 * (claim_id); lapses >= 2: sitq__start_first, recomputed by the reader. */
/* A task's function is one the worker handles: $3 exact names, $4
 * prefixes. */
#define PG_FN_MATCH                                                                                \
    "(function = ANY ($3::text[]) OR EXISTS (SELECT 1 FROM unnest($4::text[]) p(v) "               \
    "WHERE starts_with(function, p.v)))"
/* A running task looked up by its id: "state + 0" so that the planner
 * reaches it through the primary key. "state = 3" implies the predicate of
 * tasks_running, and a generic plan then looked each id up in that index,
 * where id is the second column: a scan of the whole index per task, dead
 * entries included (0.2 ms per task of a group commit, growing with the
 * entries that completions leave until vacuum). */
#define RUNNING_T "t.state + 0 = 3"
#define RUNNING   "state + 0 = 3"
/* A waiting task looked up by its id (a dependent of a task that finished,
 * found through deps), for the same reason: "state = 1" implies the
 * predicate of tasks_waiting, and with statistics read while few tasks
 * waited (before a batch of a pipeline was enqueued, or while a failed
 * chain was retried) the planner walked every waiting task of that index
 * once per lookup. */
#define WAITING_T "t.state + 0 = 1"
/* A failed or cancelled task looked up by its id (tasks_failed alike). */
#define FINISHED_BAD_T "t.state + 0 IN (5, 6)"
#define CLAIM_RETURNING                                                                            \
    " RETURNING t.id, t.function, CASE WHEN octet_length(t.payload) <= 1024 THEN t.payload END, "  \
    "(COALESCE(octet_length(t.payload), 0) > 1024)::int, t.attempts, t.max_retries, t.priority, "  \
    "t.run_at_us, t.timeout_us, (t.started_at_us IS NOT NULL)::int, t.lapses"

const char pg_list_select[] = "SELECT " RESULT_COLS(
    "NULL::bytea", "NULL::bytea") ", COALESCE(octet_length(result), 0)::bigint "
                                  "FROM @.tasks";

/* The queues of the tasks in one partial index, by skipping from one queue
 * to the next (one index seek each) instead of reading every entry. */
#define QUEUE_SKIP(cte, cond)                                                                      \
    cte "(q) AS (SELECT (SELECT queue FROM @.tasks WHERE " cond " ORDER BY queue LIMIT 1) "        \
        "UNION ALL SELECT (SELECT queue FROM @.tasks WHERE " cond " AND queue > " cte ".q "        \
        "ORDER BY queue LIMIT 1) FROM " cte " WHERE " cte ".q IS NOT NULL)"

/* The queues of the queued (r), waiting (w), running (x) and failed or
 * cancelled (f) tasks, each walked in its partial index. One walk per line. */
/* clang-format off */
#define QUEUES_SKIPS                                                                               \
    QUEUE_SKIP("r", "state = 0") ", "                                                              \
    QUEUE_SKIP("w", "state = 1") ", "                                                              \
    QUEUE_SKIP("x", "state = 3") ", "                                                              \
    QUEUE_SKIP("f", "state IN (5, 6)")
/* clang-format on */

/* Purge keeps a finished task that a dependent not yet finished (queued,
 * waiting, running) depends on: that dependent may read its result. */
#define PURGE_KEEP                                                                                 \
    "AND NOT EXISTS (SELECT 1 FROM @.deps k JOIN @.tasks c ON c.id = k.task_id "                   \
    "WHERE k.depends_on = tasks.id AND c.state IN (0, 1, 3))"

const char *const pg_sql[PG_COUNT] = {
    [PG_DB_NOW] = "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint",

    /* Ids come from a sequence: never reused, also after a purge. */
    [PG_NEXT_IDS] = "SELECT nextval('@.task_ids') FROM generate_series(1, $1::int)",
    [PG_UNIQUE_FIND] = "SELECT t.unique_key, t.id FROM @.tasks t "
                       "WHERE t.queue = $1::text AND t.unique_key = ANY($2::text[]) "
                       "AND t.state IN (0, 1, 3)",
    /* Parents are locked FOR SHARE before their state is read: a parent
     * completing at the same moment either waits for this enqueue's commit
     * (and then releases the new edge) or has committed before this read
     * (which then sees its final state). A dependency names a task of its
     * own queue only. */
    [PG_DEP_STATES] = "SELECT id, state FROM @.tasks WHERE id = ANY($1::bigint[]) "
                      "AND queue = $2::text ORDER BY id FOR SHARE",
    [PG_INSERT_TASKS] =
        "INSERT INTO @.tasks(id, queue, function, state, priority, run_at_us, max_retries, "
        "backoff_base_us, backoff_cap_us, backoff_jitter, timeout_us, pending_deps, unique_key, "
        "enqueued_at_us, error, finished_at_us, payload) "
        "SELECT u.id, $1::text, u.fn, u.st::int, u.pr::int, u.run, u.mr::int, u.bb, u.bc, u.bj, "
        "u.tmo, u.pend, u.uk, $2::bigint, u.er, u.fin, u.pl FROM unnest($3::bigint[], "
        "$4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], "
        "$10::bigint[], $11::float8[], $12::bigint[], $13::bigint[], $14::text[], $15::bytea[], "
        "$16::bigint[], $17::bytea[]) "
        "AS u(id, fn, st, pr, run, mr, bb, bc, bj, tmo, pend, uk, er, fin, pl)",
    /* Big batches: binary COPY (no parsing, no escaping, payloads of any
     * size streamed as they are), the same columns as PG_INSERT_TASKS. */
    [PG_COPY_TASKS] =
        "COPY @.tasks(id, queue, function, state, priority, run_at_us, max_retries, "
        "backoff_base_us, backoff_cap_us, backoff_jitter, timeout_us, pending_deps, unique_key, "
        "enqueued_at_us, error, finished_at_us, payload) FROM STDIN WITH (FORMAT binary)",
    /* Tasks that refer to nothing (no unique key, no dependency), in one
     * statement that is its own transaction: ids drawn here, the k-th
     * smallest given to the k-th task, so the caller maps the sorted ids
     * back to its tasks; the queue's waiters notified ($4: channel, $5:
     * payload). Arrays are binary. */
    [PG_INSERT_PLAIN] =
        "WITH ids AS MATERIALIZED (SELECT nextval('@.task_ids') AS id "
        "FROM generate_series(1, $3::int)), "
        "o AS (SELECT id, row_number() OVER (ORDER BY id) AS ord FROM ids), "
        "nt AS MATERIALIZED (SELECT pg_notify($4::text, $5::text)), "
        "ins AS (INSERT INTO @.tasks(id, queue, function, state, priority, run_at_us, "
        "max_retries, backoff_base_us, backoff_cap_us, backoff_jitter, timeout_us, "
        "enqueued_at_us, payload) "
        "SELECT o.id, $1::text, u.fn, 0, u.pr::int, u.run, u.mr::int, u.bb, u.bc, u.bj, u.tmo, "
        "$2::bigint, u.pl FROM unnest($6::text[], $7::bigint[], $8::bigint[], $9::bigint[], "
        "$10::bigint[], $11::bigint[], $12::float8[], $13::bigint[], $14::bytea[]) "
        "WITH ORDINALITY AS u(fn, pr, run, mr, bb, bc, bj, tmo, pl, ord) "
        "JOIN o ON o.ord = u.ord RETURNING id) "
        "SELECT ins.id FROM ins, nt ORDER BY ins.id",
    /* Large payloads travel as binary parameters, one per statement. */
    [PG_SET_PAYLOAD] = "UPDATE @.tasks SET payload = $2::bytea WHERE id = $1::bigint",
    [PG_INSERT_DEPS] = "INSERT INTO @.deps(task_id, depends_on, position, finalizer) "
                       "SELECT u.c, u.p, u.pos::int, u.fin::int FROM unnest($1::bigint[], "
                       "$2::bigint[], $3::bigint[], $4::bigint[]) AS u(c, p, pos, fin) "
                       "ON CONFLICT DO NOTHING",

    [PG_GET] = "SELECT " RESULT_COLS(
        "result", "traceback") " FROM @.tasks WHERE id = $1::bigint AND queue = $2::text",
    /* The head ($3 bytes) of the result, and its size: substring() and
     * octet_length() read only the TOAST slices they need (pg_prefix.c). */
    [PG_GET_PREFIX] = "SELECT " RESULT_COLS(
        "substring(result from 1 for $3::int)",
        "traceback") ", COALESCE(octet_length(result), 0)::bigint FROM @.tasks "
                     "WHERE id = $1::bigint AND queue = $2::text",
    [PG_GET_DEPS] = "SELECT depends_on, finalizer FROM @.deps WHERE task_id = $1::bigint "
                    "ORDER BY position, depends_on",
    /* A running task's dependencies by declared position: one index hop
     * each (deps_order), on a reader connection. */
    [PG_DEP_COUNT] = "SELECT COALESCE(max(position) + 1, 0)::bigint FROM @.deps "
                     "WHERE task_id = $1::bigint",
    [PG_DEP_RESULT] = "SELECT " RESULT_COLS(
        "result",
        "traceback") " FROM @.tasks "
                     "WHERE id = (SELECT depends_on FROM @.deps WHERE task_id = $1::bigint "
                     "AND position = $2::int) AND queue = $3::text",
    /* A range of positions in one statement (a fan-in), the position last. */
    [PG_DEP_RESULTS] = "SELECT " RESULT_COLS(
        "result", "traceback") ", d.position FROM @.deps d JOIN @.tasks t ON t.id = d.depends_on "
                               "WHERE d.task_id = $1::bigint AND d.position BETWEEN $2::int "
                               "AND $3::int AND t.queue = $4::text ORDER BY d.position",
    /* The same edges, only what a fan-in passes on (pg_dep_values). */
    [PG_DEP_VALUES] = "SELECT d.position, t.id, t.state, t.run_at_us, t.result, t.error "
                      "FROM @.deps d JOIN @.tasks t ON t.id = d.depends_on "
                      "WHERE d.task_id = $1::bigint AND d.position BETWEEN $2::int "
                      "AND $3::int AND t.queue = $4::text ORDER BY d.position",
    [PG_PAYLOAD] = "SELECT payload FROM @.tasks WHERE id = $1::bigint AND queue = $2::text",
    [PG_TASK_STATE] = "SELECT state FROM @.tasks WHERE id = $1::bigint AND queue = $2::text "
                      "FOR NO KEY UPDATE",

    /* Batched claim (lesson 1): the MATERIALIZED CTE picks ready tasks in
     * claim order and locks them, skipping those another worker is taking;
     * then one UPDATE takes them. Only functions the worker handles. The
     * lock is the guard: under READ COMMITTED it rechecks state = 0 on the
     * row's newest version and holds it to the commit. The UPDATE repeats
     * no state condition, because one would let the planner join through
     * the ready index: with statistics from an empty table (a new schema
     * before autovacuum analyses it) it scanned every ready task once per
     * claimed one, seconds per claim with 20,000 queued. */
    [PG_CLAIM] =
        "WITH c AS MATERIALIZED (SELECT id FROM @.tasks WHERE state = 0 AND queue = $5::text "
        "AND run_at_us <= $4::bigint AND (function = ANY ($6::text[]) "
        "OR EXISTS (SELECT 1 FROM unnest($7::text[]) p(v) WHERE starts_with(function, p.v))) "
        "AND NOT EXISTS (SELECT 1 FROM @.limits l WHERE l.queue = $5::text) "
        "ORDER BY priority DESC, run_at_us, id LIMIT $8::bigint FOR NO KEY UPDATE SKIP LOCKED) "
        "UPDATE @.tasks t SET state = 3, lease_token = $1::bigint, lease_until_us = $2::bigint, "
        "worker_id = $3::text, lease_owner = $9::bigint, started_at_us = NULL, progress = NULL "
        "FROM c WHERE t.id = c.id" CLAIM_RETURNING,
    /* The claim of a queue that has limits (limit_claim.c, with the queue's
     * limit rows locked): as PG_CLAIM without the limits guard, excluding
     * the functions of $10 (limited ones, claimed on their own). */
    [PG_CLAIM_LIMITED] =
        "WITH c AS MATERIALIZED (SELECT id FROM @.tasks WHERE state = 0 AND queue = $5::text "
        "AND run_at_us <= $4::bigint AND (function = ANY ($6::text[]) "
        "OR EXISTS (SELECT 1 FROM unnest($7::text[]) p(v) WHERE starts_with(function, p.v))) "
        "AND NOT (function = ANY ($10::text[])) "
        "ORDER BY priority DESC, run_at_us, id LIMIT $8::bigint FOR NO KEY UPDATE SKIP LOCKED) "
        "UPDATE @.tasks t SET state = 3, lease_token = $1::bigint, lease_until_us = $2::bigint, "
        "worker_id = $3::text, lease_owner = $9::bigint, started_at_us = NULL, progress = NULL "
        "FROM c WHERE t.id = c.id" CLAIM_RETURNING,
    /* The earliest run_at_us after $2 among the queue's queued tasks, with
     * index lookups only: tasks_ready is ordered by priority first, so the
     * scan hops from one priority to the next (few distinct values) and
     * takes the first run_at_us after $2 within each. */
    [PG_NEXT_RUN_AT] =
        "WITH RECURSIVE p(pr) AS ((SELECT priority FROM @.tasks WHERE queue = $1::text "
        "AND state = 0 ORDER BY priority DESC LIMIT 1) UNION ALL SELECT (SELECT t.priority "
        "FROM @.tasks t WHERE t.queue = $1::text AND t.state = 0 AND t.priority < p.pr "
        "ORDER BY t.priority DESC LIMIT 1) FROM p WHERE p.pr IS NOT NULL) "
        "SELECT min((SELECT t.run_at_us FROM @.tasks t WHERE t.queue = $1::text AND t.state = 0 "
        "AND t.priority = p.pr AND t.run_at_us > $2::bigint ORDER BY t.run_at_us LIMIT 1)) "
        "FROM p WHERE p.pr IS NOT NULL",
    /* Burst mode: a task of the queue ($1) that keeps its worker: running,
     * waiting, or queued and due by $2, of a function the worker handles
     * ($3 names, $4 prefixes, as the claim). One EXISTS per partial index. */
    [PG_LIVE] =
        "SELECT NOT EXISTS (SELECT 1 FROM @.limits WHERE queue = $1::text AND function = '' "
        "AND paused) AND (EXISTS (SELECT 1 FROM @.tasks WHERE queue = $1::text AND state = 3 "
        "AND " PG_FN_MATCH ") OR EXISTS (SELECT 1 FROM @.tasks WHERE queue = $1::text "
        "AND state = 1 AND " PG_FN_MATCH ") OR EXISTS (SELECT 1 FROM @.tasks "
        "WHERE queue = $1::text AND state = 0 AND run_at_us <= $2::bigint AND " PG_FN_MATCH "))",
    /* process_task runs the task right after the commit: counted at once. */
    [PG_CLAIM_ID] =
        "UPDATE @.tasks t SET state = 3, attempts = attempts + 1, lease_token = $1::bigint, "
        "lease_until_us = $2::bigint, worker_id = $3::text, lease_owner = $7::bigint, "
        "started_at_us = $4::bigint, progress = NULL WHERE id = $5::bigint AND queue = $6::text "
        "AND state = 0 "
        "AND run_at_us <= $4::bigint" CLAIM_RETURNING,

    /* Every transition out of running is guarded by (state, lease_token). */
    [PG_START] = "UPDATE @.tasks SET attempts = attempts + 1, started_at_us = $3::bigint "
                 "WHERE id = $1::bigint AND state = 3 AND lease_token = $2::bigint "
                 "AND started_at_us IS NULL",
    /* The same over arrays: one statement for a cycle's starts. */
    [PG_START_MANY] =
        "UPDATE @.tasks t SET attempts = t.attempts + 1, started_at_us = s.st "
        "FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS s(id, tok, st) "
        "WHERE t.id = s.id AND " RUNNING_T " AND t.lease_token = s.tok AND t.started_at_us IS NULL",
    /* A start not yet recorded is recorded with the success. */
    [PG_SUCCEED] = "UPDATE @.tasks SET state = 4, result = $3::bytea, error = NULL, "
                   "traceback = NULL, finished_at_us = $4::bigint, "
                   "attempts = attempts + (started_at_us IS NULL)::int, "
                   "started_at_us = COALESCE(started_at_us, $5::bigint), "
                   "lease_token = NULL, lease_until_us = NULL "
                   "WHERE id = $1::bigint AND " RUNNING " AND lease_token = $2::bigint",
    /* The successes of a cycle in one statement (group commit); the ids
     * returned are those whose lease was still held. */
    [PG_SUCCEED_MANY] =
        "UPDATE @.tasks t SET state = 4, result = s.res, error = NULL, traceback = NULL, "
        "finished_at_us = s.fin, attempts = t.attempts + (t.started_at_us IS NULL)::int, "
        "started_at_us = COALESCE(t.started_at_us, s.st), lease_token = NULL, "
        "lease_until_us = NULL FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], "
        "$4::bigint[], $5::bigint[]) AS s(id, tok, res, fin, st) "
        "WHERE t.id = s.id AND " RUNNING_T " AND t.lease_token = s.tok RETURNING t.id",
    [PG_FAIL_INFO] = "SELECT attempts, max_retries, backoff_base_us, backoff_cap_us, "
                     "backoff_jitter, cancel_requested, (started_at_us IS NULL)::int "
                     "FROM @.tasks WHERE id = $1::bigint AND " RUNNING " "
                     "AND lease_token = $2::bigint FOR NO KEY UPDATE",
    /* The facts of a cycle's failures at once, rows locked in id order. */
    [PG_FAIL_INFO_MANY] =
        "SELECT t.id, t.attempts, t.max_retries, t.backoff_base_us, t.backoff_cap_us, "
        "t.backoff_jitter, t.cancel_requested, (t.started_at_us IS NULL)::int "
        "FROM @.tasks t JOIN unnest($1::bigint[], $2::bigint[]) AS s(id, tok) ON t.id = s.id "
        "WHERE " RUNNING_T " AND t.lease_token = s.tok ORDER BY t.id FOR NO KEY UPDATE OF t",
    [PG_REQUEUE_MANY] =
        "UPDATE @.tasks t SET state = 0, run_at_us = s.run, error = s.er, traceback = s.tb, "
        "lease_token = NULL, lease_until_us = NULL "
        "FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[]) AS s(id, run, er, tb) "
        "WHERE t.id = s.id",
    [PG_REQUEUE] = "UPDATE @.tasks SET state = 0, run_at_us = $2::bigint, error = $3::bytea, "
                   "traceback = $4::bytea, lease_token = NULL, lease_until_us = NULL "
                   "WHERE id = $1::bigint",
    [PG_FINISH] = "UPDATE @.tasks SET state = $2::int, error = $3::bytea, traceback = $4::bytea, "
                  "finished_at_us = $5::bigint, lease_token = NULL, lease_until_us = NULL "
                  "WHERE id = $1::bigint",
    /* Failure reaches every waiting dependent at once, transitively
     * (lesson 8), but not through a finalizer's edges: a finalizer counts
     * the failed tasks (returned) as finished instead (PG_RESOLVE). Each
     * step of the walk looks the dependents of one task up in deps_pkey: a
     * LATERAL subquery that the planner cannot flatten (OFFSET 0) keeps it
     * from joining the whole deps table at every level, which it chose
     * with the statistics of a table just filled by a batch (a hash join
     * over a scan of deps, quadratic in a chain's length: 40-70 s for
     * 20,000 tasks, with the worker's heartbeats waiting behind it). */
    [PG_PROPAGATE] =
        "WITH RECURSIVE d(id) AS (SELECT task_id FROM @.deps WHERE depends_on = $1::bigint "
        "AND finalizer = 0 UNION SELECT s.task_id FROM d CROSS JOIN LATERAL (SELECT task_id "
        "FROM @.deps WHERE depends_on = d.id AND finalizer = 0 OFFSET 0) s) "
        "UPDATE @.tasks t SET state = 5, error = convert_to($2::text, 'UTF8'), "
        "finished_at_us = $3::bigint "
        "FROM (SELECT DISTINCT id FROM d) x WHERE t.id = x.id AND " WAITING_T " RETURNING t.id",
    /* Dependents are locked in id order before they are changed, so that
     * two commits releasing shared children cannot deadlock. */
    [PG_RESOLVE_LOCK] = "SELECT t.id FROM @.tasks t WHERE " WAITING_T " AND t.id IN "
                        "(SELECT task_id FROM @.deps WHERE depends_on = ANY($1::bigint[])) "
                        "ORDER BY t.id FOR NO KEY UPDATE",
    /* Each dependent loses as many pending dependencies as it has among the
     * tasks that just succeeded ($1), and becomes ready at zero. */
    [PG_RESOLVE] =
        "WITH hit AS (SELECT task_id, count(*) AS n FROM @.deps "
        "WHERE depends_on = ANY($1::bigint[]) GROUP BY task_id) "
        "UPDATE @.tasks t SET pending_deps = t.pending_deps - hit.n, "
        "state = CASE WHEN t.pending_deps - hit.n <= 0 THEN 0 ELSE 1 END, "
        "run_at_us = CASE WHEN t.pending_deps - hit.n <= 0 THEN GREATEST(t.run_at_us, $2::bigint) "
        "ELSE t.run_at_us END FROM hit WHERE t.id = hit.task_id AND " WAITING_T,
    /* Succeeded tasks are counted in one of PG_COUNT_SHARDS rows per queue,
     * chosen at random by each commit ($3), so that commits of several
     * workers do not wait for each other on one row; stats add the rows. */
    /* A commit's outcomes in one queue ($2 the shard, $3..$7 sitq__tally):
     * the stored succeeded count (which purge decreases) and the monotonic
     * counters (which nothing decreases). */
    [PG_COUNT_TOTALS] =
        "INSERT INTO @.counts(queue, shard, succeeded, total_succeeded, total_failed, "
        "total_retried, total_lost, total_cancelled) VALUES($1::text, $2::int, $3::bigint, "
        "$3::bigint, $4::bigint, $5::bigint, $6::bigint, $7::bigint) "
        "ON CONFLICT(queue, shard) DO UPDATE SET succeeded = counts.succeeded + "
        "EXCLUDED.succeeded, "
        "total_succeeded = counts.total_succeeded + EXCLUDED.total_succeeded, "
        "total_failed = counts.total_failed + EXCLUDED.total_failed, "
        "total_retried = counts.total_retried + EXCLUDED.total_retried, "
        "total_lost = counts.total_lost + EXCLUDED.total_lost, "
        "total_cancelled = counts.total_cancelled + EXCLUDED.total_cancelled",
    /* The sums of the queue's shards, and the tasks ever inserted: those
     * stored (each status from its partial index, succeeded ones from
     * counts) plus those purged; an insert adds a stored task and a purge
     * moves one from stored to purged in the same transaction, so the sum
     * only grows and the enqueue path writes no counter. One statement:
     * one snapshot. */
    [PG_TOTALS] =
        "SELECT (SELECT count(*) FROM @.tasks WHERE queue = $1::text AND state = 0) + "
        "(SELECT count(*) FROM @.tasks WHERE queue = $1::text AND state = 1) + "
        "(SELECT count(*) FROM @.tasks WHERE queue = $1::text AND state = 3) + "
        "(SELECT count(*) FROM @.tasks WHERE queue = $1::text AND state IN (5, 6)) + "
        "coalesce(sum(succeeded + total_purged), 0)::bigint, "
        "coalesce(sum(total_succeeded), 0)::bigint, coalesce(sum(total_failed), 0)::bigint, "
        "coalesce(sum(total_retried), 0)::bigint, coalesce(sum(total_lost), 0)::bigint, "
        "coalesce(sum(total_cancelled), 0)::bigint FROM @.counts WHERE queue = $1::text",
    /* The counters without enqueued: the queue's shard rows only. */
    [PG_COUNTERS] =
        "SELECT coalesce(sum(total_succeeded), 0)::bigint, coalesce(sum(total_failed), 0)::bigint, "
        "coalesce(sum(total_retried), 0)::bigint, coalesce(sum(total_lost), 0)::bigint, "
        "coalesce(sum(total_cancelled), 0)::bigint FROM @.counts WHERE queue = $1::text",
    /* A heartbeat renews the worker's row, not its tasks' rows: renewing
     * every held task each second would leave a dead tuple per task per
     * second. A task's lease lasts while its task lease (set by the claim)
     * or its owner's row is live (PG_REAP_SELECT). The tasks' rows are
     * written only to record progress or to move a task to the worker's
     * current owner key (after a cycle whose outcome is unknown,
     * pg_cycle.c); the SELECT reads the cancel flag and finds lost leases. */
    [PG_HEARTBEAT_MANY] =
        "WITH w AS (INSERT INTO @.workers(owner, worker_id, lease_until_us, heartbeat_at_us) "
        "VALUES ($5::bigint, $6::text, $3::bigint, $7::bigint) ON CONFLICT (owner) DO UPDATE "
        "SET lease_until_us = EXCLUDED.lease_until_us, heartbeat_at_us = "
        "EXCLUDED.heartbeat_at_us), "
        "s AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $4::float8[]) AS s(id, tok, pr)), "
        "u AS (UPDATE @.tasks t SET lease_owner = $5::bigint, progress = COALESCE(s.pr, "
        "t.progress) "
        "FROM s WHERE t.id = s.id AND " RUNNING_T " AND t.lease_token = s.tok "
        "AND (s.pr IS NOT NULL OR t.lease_owner IS DISTINCT FROM $5::bigint) RETURNING t.id) "
        "SELECT t.id, t.cancel_requested FROM @.tasks t JOIN s ON t.id = s.id "
        "WHERE " RUNNING_T " AND t.lease_token = s.tok",
    /* Given back unstarted: run_at_us is untouched, so it keeps its place. */
    [PG_RELEASE] =
        "UPDATE @.tasks SET state = 0, attempts = attempts - (started_at_us IS NOT NULL)::int, "
        "lease_token = NULL, lease_until_us = NULL, started_at_us = NULL "
        "WHERE id = $1::bigint AND " RUNNING " AND lease_token = $2::bigint",
    [PG_RELEASE_MANY] = "UPDATE @.tasks t SET state = 0, attempts = t.attempts - (t.started_at_us "
                        "IS NOT NULL)::int, "
                        "lease_token = NULL, lease_until_us = NULL, started_at_us = NULL "
                        "FROM unnest($1::bigint[], $2::bigint[]) AS s(id, tok) "
                        "WHERE t.id = s.id AND " RUNNING_T " AND t.lease_token = s.tok",
    /* The tasks a commit whose answer was lost claimed under lease token
     * $1 in queues $2 (pg_unknown.c), put back as a release would: never
     * started (nobody knows them), so no attempt is given back. */
    [PG_RELEASE_UNKNOWN] =
        "UPDATE @.tasks t SET state = 0, lease_token = NULL, lease_until_us = NULL, "
        "lease_owner = NULL, started_at_us = NULL WHERE t.queue = ANY ($2::text[]) "
        "AND t.state = 3 AND t.lease_token = $1::bigint AND t.started_at_us IS NULL "
        "RETURNING t.queue",
    /* One recovery per queue at a time, across every process. */
    [PG_REAP_LOCK] = "SELECT pg_try_advisory_xact_lock($1::bigint)",
    /* $1: leases that lapsed before it are taken: the server's now, or an
     * earlier moment in the first lease after a restart (pg_grace.c). */
    [PG_REAP_SELECT] = "SELECT id, attempts, max_retries, worker_id, cancel_requested, "
                       "(started_at_us IS NOT NULL)::int FROM @.tasks "
                       "t WHERE queue = $2::text AND state = 3 AND lease_until_us < $1::bigint "
                       "AND NOT EXISTS (SELECT 1 FROM @.workers w WHERE w.owner = t.lease_owner "
                       "AND w.lease_until_us >= $1::bigint) "
                       "ORDER BY id LIMIT 1000 FOR NO KEY UPDATE OF t SKIP LOCKED",
    /* Rows of workers gone for a day (the registry shows dead and stopped
     * workers until then); a worker that comes back writes its row again
     * with its next heartbeat. */
    [PG_WORKERS_PRUNE] = "DELETE FROM @.workers WHERE owner IN (SELECT owner FROM @.workers "
                         "WHERE lease_until_us < $1::bigint - 86400000000 LIMIT 100 "
                         "FOR UPDATE SKIP LOCKED)",
    /* Lapsed leases put back at once, one statement per recovery. */
    [PG_REQUEUE_LOST] = "UPDATE @.tasks t SET state = 0, error = s.er, lapses = t.lapses + s.un, "
                        "lease_token = NULL, lease_until_us = NULL, lease_owner = NULL "
                        "FROM unnest($1::bigint[], $2::bytea[], $3::bigint[]) AS s(id, er, un) "
                        "WHERE t.id = s.id",
    [PG_SET_CANCEL_FLAG] = "UPDATE @.tasks SET cancel_requested = 1 WHERE id = $1::bigint",

    [PG_RETRY_LOCK_DEPS] = "SELECT t.id FROM @.tasks t JOIN @.deps d ON t.id = d.depends_on "
                           "WHERE d.task_id = $1::bigint ORDER BY t.id FOR SHARE OF t",
    /* A dependency edge whose task is gone was purged after it failed or
     * was cancelled (purge drops the edges of succeeded ones). */
    [PG_RETRY_DEPS] =
        "SELECT COALESCE(sum(CASE WHEN t.state IS DISTINCT FROM 4 THEN 1 ELSE 0 END), 0)::bigint, "
        "min(CASE WHEN t.id IS NULL OR t.state IN (5, 6) THEN d.depends_on END), "
        "COALESCE(max(d.finalizer), 0)::bigint, "
        "COALESCE(sum(CASE WHEN t.state IN (0, 1, 3) THEN 1 ELSE 0 END), 0)::bigint "
        "FROM @.deps d LEFT JOIN @.tasks t ON t.id = d.depends_on WHERE d.task_id = $1::bigint",
    /* What a retry of $1 runs again with it: every failed or cancelled task
     * downstream, reached through failed or cancelled tasks, oldest first
     * (a dependency is always older than its dependents), locked. Each
     * step an index lookup, as in PG_PROPAGATE. */
    [PG_RETRY_WALK] = "WITH RECURSIVE d(id) AS (SELECT s.task_id FROM @.deps s "
                      "JOIN @.tasks t ON t.id = s.task_id WHERE s.depends_on = $1::bigint "
                      "AND " FINISHED_BAD_T " UNION SELECT s.task_id FROM d CROSS JOIN LATERAL "
                      "(SELECT s.task_id FROM @.deps s JOIN @.tasks t ON t.id = s.task_id "
                      "WHERE s.depends_on = d.id AND " FINISHED_BAD_T " OFFSET 0) s) "
                      "SELECT t.id, t.state FROM @.tasks t JOIN (SELECT DISTINCT id FROM d) x "
                      "ON t.id = x.id ORDER BY t.id FOR NO KEY UPDATE OF t",
    /* Waiting finalizers counted $1 as finished: it is pending again. */
    [PG_RETRY_REARM] = "UPDATE @.tasks t SET pending_deps = t.pending_deps + 1 WHERE " WAITING_T
                       " AND t.id IN (SELECT task_id FROM @.deps WHERE depends_on = $1::bigint "
                       "AND finalizer = 1)",
    [PG_RETRY_SET] =
        "UPDATE @.tasks SET state = $2::int, pending_deps = $3::bigint, attempts = 0, lapses = 0, "
        "result = NULL, error = NULL, traceback = NULL, started_at_us = NULL, "
        "finished_at_us = NULL, run_at_us = $4::bigint, cancel_requested = 0, progress = NULL, "
        "lease_token = NULL, lease_until_us = NULL WHERE id = $1::bigint",
    /* Counts by status, each from its partial index (succeeded ones from
     * counts); one statement, one snapshot. Rows: (state, future, count). */
    /* sitq_store_health: the statistics collector's row counts, the oldest
     * open transaction of the database (it holds back vacuum), the size of
     * the tasks table, and the WAL since the marks written with the schema. */
    [PG_HEALTH] =
        "SELECT (SELECT n_live_tup FROM pg_stat_user_tables WHERE schemaname = $1::text "
        "AND relname = 'tasks'), (SELECT n_dead_tup FROM pg_stat_user_tables "
        "WHERE schemaname = $1::text AND relname = 'tasks'), "
        "COALESCE((SELECT extract(epoch FROM clock_timestamp() - min(xact_start)) "
        "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()), "
        "0)::float8, pg_total_relation_size(to_regclass(format('%I.tasks', $1::text))), "
        "CASE WHEN NOT pg_is_in_recovery() THEN (SELECT (pg_current_wal_lsn() - "
        "value::pg_lsn)::bigint FROM @.meta WHERE key = 'wal_mark_lsn') END, "
        /* The sequence by a function, under a privilege test: a role that
         * may read the tables but not the sequence measures the rest. */
        "CASE WHEN has_sequence_privilege(format('%I.task_ids', $1::text), 'SELECT, USAGE') "
        "THEN COALESCE(pg_sequence_last_value(format('%I.task_ids', $1::text)::regclass), 0) - "
        "(SELECT value::bigint FROM @.meta WHERE key = 'wal_mark_task') END",
    /* The earliest run_at of the queue's queued tasks: one index seek per
     * distinct priority (a skip scan), never a walk of the backlog. */
    [PG_OLDEST_READY] =
        "WITH RECURSIVE p(v) AS (SELECT (SELECT max(priority) FROM @.tasks "
        "WHERE queue = $1::text AND state = 0) UNION ALL SELECT (SELECT max(priority) "
        "FROM @.tasks WHERE queue = $1::text AND state = 0 AND priority < p.v) FROM p "
        "WHERE p.v IS NOT NULL) SELECT min((SELECT min(run_at_us) FROM @.tasks "
        "WHERE queue = $1::text AND state = 0 AND priority = p.v)) FROM p WHERE p.v IS NOT NULL",
    [PG_STATS] =
        "SELECT 0, (run_at_us > $2::bigint)::int, count(*) FROM @.tasks "
        "WHERE queue = $1::text AND state = 0 GROUP BY 2 "
        "UNION ALL SELECT 1, 0, count(*) FROM @.tasks WHERE queue = $1::text AND state = 1 "
        "UNION ALL SELECT 3, 0, count(*) FROM @.tasks WHERE queue = $1::text AND state = 3 "
        "UNION ALL SELECT state, 0, count(*) FROM @.tasks WHERE queue = $1::text "
        "AND state IN (5, 6) GROUP BY state "
        "UNION ALL SELECT 4, 0, succeeded FROM @.counts WHERE queue = $1::text",

    /* As ST_STATS_BOUNDED of SQLite: each status read as at most $3 (the
     * cap plus one) index entries; queued and scheduled per distinct
     * priority of tasks_ready. Each read is in its index's order: without
     * it the planner, seeing most of a backlog match, prefers a sequential
     * scan of the table (which passes every other queue's and every
     * finished task first) and its cost estimate starts JIT compilation
     * (a third of a second). Rows are (status, count). */
    [PG_STATS_BOUNDED] =
        "WITH RECURSIVE p(v) AS (SELECT (SELECT max(priority) FROM @.tasks "
        "WHERE queue = $1::text AND state = 0) UNION ALL SELECT (SELECT max(priority) "
        "FROM @.tasks WHERE queue = $1::text AND state = 0 AND priority < p.v) FROM p "
        "WHERE p.v IS NOT NULL) "
        "SELECT 0, (SELECT count(*) FROM (SELECT 1 FROM @.tasks WHERE queue = $1::text "
        "AND state = 0 AND priority = p.v AND run_at_us <= $2::bigint ORDER BY run_at_us, id "
        "LIMIT $3::bigint) l) "
        "FROM p WHERE p.v IS NOT NULL "
        "UNION ALL SELECT 2, (SELECT count(*) FROM (SELECT 1 FROM @.tasks WHERE queue = $1::text "
        "AND state = 0 AND priority = p.v AND run_at_us > $2::bigint ORDER BY run_at_us, id "
        "LIMIT $3::bigint) l) "
        "FROM p WHERE p.v IS NOT NULL "
        "UNION ALL SELECT 1, count(*) FROM (SELECT 1 FROM @.tasks WHERE queue = $1::text "
        "AND state = 1 ORDER BY id LIMIT $3::bigint) l "
        "UNION ALL SELECT 3, count(*) FROM (SELECT 1 FROM @.tasks WHERE queue = $1::text "
        "AND state = 3 ORDER BY id LIMIT $3::bigint) l "
        "UNION ALL SELECT 5, count(*) FROM (SELECT 1 FROM @.tasks WHERE queue = $1::text "
        "AND state IN (5, 6) AND state = 5 ORDER BY id LIMIT $3::bigint) l "
        "UNION ALL SELECT 6, count(*) FROM (SELECT 1 FROM @.tasks WHERE queue = $1::text "
        "AND state IN (5, 6) AND state = 6 ORDER BY id LIMIT $3::bigint) l "
        "UNION ALL SELECT 4, succeeded FROM @.counts WHERE queue = $1::text",

    /* Purge walks ids in windows ($3..$4), one short transaction each. */
    [PG_ID_RANGE] = "SELECT min(id), max(id) FROM @.tasks",
    [PG_ID_AFTER] = "SELECT min(id) FROM @.tasks WHERE id > $1::bigint",
    /* The window's finished tasks that no unfinished task depends on,
     * locked; those another transaction holds (an enqueue or a retry
     * reading them as dependencies) are left to a later purge.
     * pg_delete_finished reads their dependents again, then deletes. */
    [PG_PURGE_LOCK] =
        "SELECT id FROM @.tasks WHERE id BETWEEN $3::bigint AND $4::bigint "
        "AND queue = $1::text AND state IN (4, 5, 6) AND finished_at_us < $2::bigint " PURGE_KEEP
        " ORDER BY id FOR UPDATE SKIP LOCKED",

    /* Wake-ups of other processes (pg_listen.c), delivered at COMMIT. */
    [PG_NOTIFY] = "SELECT pg_notify($1::text, $2::text)",
    /* The store's queues: those of the tasks in the partial indexes
     * (queued, waiting, running, failed, cancelled) and those that counted
     * a finished task (counts keeps its rows after a purge, so that the
     * counters that only grow stay listed: a queue of failed or cancelled
     * tasks since purged too). */
    [PG_QUEUES] = "WITH RECURSIVE " QUEUES_SKIPS " SELECT q FROM r WHERE q IS NOT NULL "
                  "UNION SELECT q FROM w WHERE q IS NOT NULL "
                  "UNION SELECT q FROM x WHERE q IS NOT NULL "
                  "UNION SELECT q FROM f WHERE q IS NOT NULL "
                  "UNION SELECT queue FROM @.counts GROUP BY queue "
                  "HAVING sum(succeeded) <> 0 OR sum(total_succeeded) <> 0 "
                  "OR sum(total_failed) <> 0 OR sum(total_cancelled) <> 0",
    [PG_TASK_QUEUE] = "SELECT queue FROM @.tasks WHERE id = $1::bigint",
    [PG_DEPENDENTS] = "SELECT task_id FROM @.deps WHERE depends_on = $1::bigint ORDER BY task_id "
                      "LIMIT $2::bigint",
    /* Many tasks by id (pg_many.c): the rows as a list reads them, then
     * their edges, each in one statement whatever the number of ids. */
    [PG_GET_MANY] = "SELECT " RESULT_COLS(
        "NULL::bytea", "NULL::bytea") ", COALESCE(octet_length(result), 0)::bigint "
                                      "FROM @.tasks WHERE id = ANY($1::bigint[]) ORDER BY id",
    [PG_GET_MANY_DEPS] = "SELECT task_id, depends_on, finalizer FROM @.deps "
                         "WHERE task_id = ANY($1::bigint[]) ORDER BY task_id, position, depends_on",
    /* At most $2 dependents of each id: one range of the edges' primary key
     * per id, in one statement. */
    [PG_DEPENDENTS_MANY] = "SELECT d.id, x.task_id FROM unnest($1::bigint[]) d(id) "
                           "CROSS JOIN LATERAL (SELECT task_id FROM @.deps "
                           "WHERE depends_on = d.id ORDER BY task_id LIMIT $2::bigint) x "
                           "ORDER BY 1, 2",
    /* The registry of workers (pg_workers.c): a worker's record fills its
     * row's registry columns and renews the row's lease like a heartbeat. */
    [PG_WORKER_PUT] =
        "INSERT INTO @.workers(owner, worker_id, lease_until_us, heartbeat_at_us, host, pid, "
        "queues, functions, concurrency, started_at_us, stopped_at_us, succeeded, failed, lost) "
        "VALUES($1::bigint, $2::text, $3::bigint, $4::bigint, $5::text, $6::bigint, $7::text, "
        "$8::text, $9::int, $10::bigint, $11::bigint, $12::bigint, $13::bigint, $14::bigint) "
        "ON CONFLICT (owner) DO UPDATE SET worker_id = EXCLUDED.worker_id, lease_until_us = "
        "EXCLUDED.lease_until_us, heartbeat_at_us = EXCLUDED.heartbeat_at_us, host = "
        "EXCLUDED.host, pid = EXCLUDED.pid, queues = EXCLUDED.queues, functions = "
        "EXCLUDED.functions, concurrency = EXCLUDED.concurrency, started_at_us = "
        "EXCLUDED.started_at_us, stopped_at_us = EXCLUDED.stopped_at_us, succeeded = "
        "EXCLUDED.succeeded, failed = EXCLUDED.failed, lost = EXCLUDED.lost",
    /* The newest row of each worker id (a worker takes a new owner key
     * after a lost commit), then the stopped ones left out unless asked. */
    [PG_WORKERS_LIST] =
        "SELECT * FROM (SELECT DISTINCT ON (worker_id) worker_id, host, pid, queues, functions, "
        "concurrency, started_at_us, heartbeat_at_us, lease_until_us, "
        "COALESCE(stopped_at_us, 0) AS stopped, succeeded, failed, lost, "
        "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint FROM @.workers "
        "ORDER BY worker_id, heartbeat_at_us DESC) w WHERE $1::int = 1 OR w.stopped = 0",
    [PG_WORKERS_TASKS] = "SELECT worker_id, id, (started_at_us IS NOT NULL)::int FROM @.tasks "
                         "WHERE state = 3 ORDER BY id",

    /* Limits (pg_limits.c): one row per queue ('' function) and per limited
     * function of a queue. A limited claim locks its queue's rows first, so
     * that the running counts it reads stay true until it commits. */
    [PG_LIMITS_LOCK] = "SELECT function, paused, concurrency, rate_count, rate_interval_us, "
                       "next_start_us FROM @.limits WHERE queue = $1::text ORDER BY function "
                       "FOR UPDATE",
    /* A claim over several queues locks all their rows first, in one
     * order (queue, function) for every worker: claims that reach two
     * limited queues in different orders (round-robin) would otherwise
     * deadlock, each waiting a deadlock_timeout for the server to abort one. */
    [PG_LIMITS_LOCK_ALL] = "SELECT count(*) FROM (SELECT 1 FROM @.limits "
                           "WHERE queue = ANY($1::text[]) ORDER BY queue, function FOR UPDATE) l",
    [PG_LIMITS_READ] = "SELECT function, paused, concurrency, rate_count, rate_interval_us, "
                       "next_start_us FROM @.limits WHERE queue = $1::text ORDER BY function",
    [PG_LIMIT_RUNNING_QUEUE] = "SELECT count(*) FROM @.tasks WHERE queue = $1::text AND state = 3",
    [PG_LIMIT_RUNNING_FUNCTION] = "SELECT count(*) FROM @.tasks WHERE queue = $1::text "
                                  "AND state = 3 AND function = $2::text",
    [PG_LIMIT_RATE_SET] = "UPDATE @.limits SET next_start_us = $3::bigint "
                          "WHERE queue = $1::text AND function = $2::text",
    [PG_LIMIT_PAUSE] = "INSERT INTO @.limits(queue, function, paused) VALUES ($1::text, '', "
                       "$2::bigint <> 0) ON CONFLICT (queue, function) DO UPDATE "
                       "SET paused = excluded.paused",
    [PG_LIMIT_SET] = "INSERT INTO @.limits(queue, function, concurrency, rate_count, "
                     "rate_interval_us) VALUES ($1::text, $2::text, $3::bigint, $4::bigint, "
                     "$5::bigint) ON CONFLICT (queue, function) DO UPDATE SET "
                     "concurrency = excluded.concurrency, rate_count = excluded.rate_count, "
                     "rate_interval_us = excluded.rate_interval_us",
    [PG_LIMIT_PRUNE] = "DELETE FROM @.limits WHERE queue = $1::text AND NOT paused "
                       "AND concurrency = 0 AND rate_count = 0",
    [PG_LIMIT_CLEAR] = "UPDATE @.limits SET concurrency = 0, rate_count = 0, "
                       "rate_interval_us = 0 WHERE queue = $1::text AND function = $2::text "
                       "AND (concurrency <> 0 OR rate_count <> 0)",
    [PG_LIMITS_EXISTS] = "SELECT count(*) FROM pg_tables WHERE schemaname = $1::text "
                         "AND tablename = 'limits'",
};

/* The limits table, added to a schema of this version when missing. */
const char *const pg_limits_sql =
    "CREATE TABLE IF NOT EXISTS @.limits(queue text NOT NULL, function text NOT NULL,"
    " paused boolean NOT NULL DEFAULT false, concurrency bigint NOT NULL DEFAULT 0,"
    " rate_count bigint NOT NULL DEFAULT 0, rate_interval_us bigint NOT NULL DEFAULT 0,"
    " next_start_us bigint NOT NULL DEFAULT 0, PRIMARY KEY (queue, function));";

/* One row per worker process incarnation (its owner key, pg_cycle.c),
 * renewed by its heartbeats; updated in place (HOT: no index changes). */
#define PG_WORKERS_DDL                                                                             \
    "CREATE TABLE IF NOT EXISTS @.workers(owner bigint PRIMARY KEY, worker_id text NOT NULL,"      \
    " lease_until_us bigint NOT NULL, heartbeat_at_us bigint NOT NULL)"                            \
    " WITH (fillfactor = 50, autovacuum_vacuum_threshold = 100);"

/* Where WAL per task is measured from (sitq_store_health): the WAL position
 * and the tasks enqueued so far, at creation or upgrade. */
#define PG_WAL_MARK_SQL                                                                            \
    "INSERT INTO @.meta(key, value) SELECT 'wal_mark_lsn', pg_current_wal_lsn()::text"             \
    " WHERE NOT pg_is_in_recovery() ON CONFLICT DO NOTHING;"                                       \
    "INSERT INTO @.meta(key, value) SELECT 'wal_mark_task', (CASE WHEN is_called THEN"             \
    " last_value ELSE 0 END)::text FROM @.task_ids ON CONFLICT DO NOTHING;"

/* The schema, created in one transaction under an advisory lock (two
 * processes may create it at once). Few, narrow, partial indexes, as in the
 * SQLite backend; succeeded tasks are in none and are counted in counts.
 * PostgreSQL keeps large payloads and results out of line (TOAST) by
 * itself, so a transition never rewrites them: they stay in the task row.
 * The task table is vacuumed early and often: every transition leaves a
 * dead tuple, and dead tuples are what slow a PostgreSQL queue down. */
const char *const pg_schema_sql =
    "CREATE SCHEMA IF NOT EXISTS @;"
    "CREATE TABLE IF NOT EXISTS @.meta(key text PRIMARY KEY, value text NOT NULL);"
    "CREATE SEQUENCE IF NOT EXISTS @.task_ids AS bigint;"
    "CREATE TABLE IF NOT EXISTS @.tasks("
    " id bigint PRIMARY KEY,"
    " queue text NOT NULL,"
    " function text NOT NULL,"
    " state int NOT NULL," /* 0 queued/scheduled 1 waiting 3 running 4 succeeded 5 failed
                              6 cancelled */
    " priority int NOT NULL DEFAULT 0,"
    " run_at_us bigint NOT NULL,"
    " attempts int NOT NULL DEFAULT 0,"
    " max_retries int NOT NULL DEFAULT 0,"
    " backoff_base_us bigint NOT NULL DEFAULT 1000000,"
    " backoff_cap_us bigint NOT NULL DEFAULT 3600000000,"
    " backoff_jitter float8 NOT NULL DEFAULT 0.1,"
    " timeout_us bigint NOT NULL DEFAULT 0,"
    " pending_deps bigint NOT NULL DEFAULT 0,"
    " unique_key text,"
    " lease_token bigint,"
    " lease_until_us bigint," /* the server's clock */
    " lease_owner bigint,"    /* workers.owner of the claim's worker */
    " worker_id text,"
    " cancel_requested int NOT NULL DEFAULT 0,"
    " progress float8,"
    " lapses int NOT NULL DEFAULT 0,"
    " error bytea," /* any bytes, as SQLite stores them: text refuses non-UTF-8 */
    " traceback bytea,"
    " enqueued_at_us bigint NOT NULL,"
    " started_at_us bigint,"
    " finished_at_us bigint,"
    " payload bytea,"
    " result bytea)"
    " WITH (fillfactor = 90, autovacuum_vacuum_scale_factor = 0.01,"
    " autovacuum_vacuum_threshold = 500, autovacuum_analyze_scale_factor = 0.02,"
    " autovacuum_vacuum_cost_delay = 0);"
    "CREATE INDEX IF NOT EXISTS tasks_ready ON @.tasks(queue, priority DESC, run_at_us, id)"
    " WHERE state = 0;"
    "CREATE INDEX IF NOT EXISTS tasks_running ON @.tasks(queue, id) WHERE state = 3;"
    "CREATE INDEX IF NOT EXISTS tasks_waiting ON @.tasks(queue, id) WHERE state = 1;"
    "CREATE INDEX IF NOT EXISTS tasks_failed ON @.tasks(queue, state, id)"
    " WHERE state IN (5, 6);"
    "CREATE UNIQUE INDEX IF NOT EXISTS tasks_unique ON @.tasks(queue, unique_key)"
    " WHERE unique_key IS NOT NULL AND state IN (0, 1, 3);"
    /* clang-format off */
    PG_WORKERS_DDL
    /* Per queue and shard: succeeded tasks stored (purge decreases it) and
     * the monotonic counters (sitq_totals), which nothing decreases. */
    "CREATE TABLE IF NOT EXISTS @.counts(queue text NOT NULL, shard int NOT NULL DEFAULT 0,"
    " succeeded bigint NOT NULL DEFAULT 0," PG_TOTALS_COLUMNS(" ") ","
    " PRIMARY KEY(queue, shard));"
    /* position: the dependency's place in the order declared at enqueue
     * (dense, 0-based); finalizer: 1 when the dependent runs once the
     * dependency is terminal, whatever its outcome. */
    "CREATE TABLE IF NOT EXISTS @.deps(task_id bigint NOT NULL, depends_on bigint NOT NULL,"
    " position int NOT NULL DEFAULT 0, finalizer int NOT NULL DEFAULT 0,"
    " PRIMARY KEY(depends_on, task_id));"
    "CREATE INDEX IF NOT EXISTS deps_order ON @.deps(task_id, position);"
    "INSERT INTO @.meta(key, value) VALUES('schema_version', '" PG_SCHEMA_VERSION "')"
    " ON CONFLICT DO NOTHING;"
    PG_WAL_MARK_SQL;
/* clang-format on */

/* From version pg3: the monotonic counters, from 0 (what came before is not
 * known). */
/* clang-format off */
const char *const pg_migrate_pg3_sql =
    "ALTER TABLE @.counts" PG_TOTALS_COLUMNS(" ADD COLUMN IF NOT EXISTS") ";"
    "UPDATE @.meta SET value = '" PG_SCHEMA_VERSION "' WHERE key = 'schema_version'"
    " AND value = 'pg3';";
/* clang-format on */

/* From version pg1: the worker rows of heartbeats, the task's owner, and
 * the succeeded counts split into shards; then pg_migrate_pg2_sql. */
const char *const pg_migrate_pg1_sql =
    "ALTER TABLE @.tasks ADD COLUMN IF NOT EXISTS lease_owner bigint;" PG_WORKERS_DDL
    "ALTER TABLE @.counts ADD COLUMN IF NOT EXISTS shard int NOT NULL DEFAULT 0;"
    "ALTER TABLE @.counts DROP CONSTRAINT IF EXISTS counts_pkey;"
    "ALTER TABLE @.counts ADD PRIMARY KEY(queue, shard);"
    "UPDATE @.meta SET value = 'pg2' WHERE key = 'schema_version'"
    " AND value = 'pg1';" PG_WAL_MARK_SQL;

/* From version pg2: dependency edges keep their declared position (older
 * ones get ascending id order, the order reads used then) and the
 * finalizer flag. */
const char *const pg_migrate_pg2_sql =
    "ALTER TABLE @.deps ADD COLUMN IF NOT EXISTS position int NOT NULL DEFAULT 0;"
    "ALTER TABLE @.deps ADD COLUMN IF NOT EXISTS finalizer int NOT NULL DEFAULT 0;"
    "UPDATE @.deps d SET position = o.pos FROM (SELECT task_id, depends_on, (row_number()"
    " OVER (PARTITION BY task_id ORDER BY depends_on) - 1)::int AS pos FROM @.deps) o"
    " WHERE d.task_id = o.task_id AND d.depends_on = o.depends_on;"
    "DROP INDEX IF EXISTS @.deps_task;"
    "CREATE INDEX IF NOT EXISTS deps_order ON @.deps(task_id, position);"
    "UPDATE @.meta SET value = 'pg3' WHERE key = 'schema_version'"
    " AND value = 'pg2';";
