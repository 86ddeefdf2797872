/* sqlite_sql.c - every SQL statement of the SQLite backend, in one place.
 * Values always arrive as bound parameters (?N); literal numbers are stored
 * states (sitq__state of core/lifecycle.h, checked below), written out so
 * that SQLite can use the partial indexes. Times are UTC microseconds
 * (columns ending in _us).
 *
 * The statements decide nothing: the rules are in core/lifecycle.c, and a
 * transition's statement only applies a verdict, guarded so that it writes
 * nothing when the task moved meanwhile (out of running: state and lease
 * token). The exceptions are set-based for speed and follow lifecycle.c's
 * transition table exactly: the batched claim (ST_CLAIM), releasing the
 * dependents of a group of successes (ST_RESOLVE) and failing dependents
 * transitively (ST_PROPAGATE). */
#include "sq.h"

/* The literal states of the SQL below. */
_Static_assert(SITQ__QUEUED == 0 && SITQ__WAITING == 1 && SITQ__RUNNING == 3,
               "stored states spelled in sqlite_sql.c");
_Static_assert(SITQ__SUCCEEDED == 4 && SITQ__FAILED == 5 && SITQ__CANCELLED == 6,
               "stored states spelled in sqlite_sql.c");

/* Columns read into a sitq_result by sq_row_to_result (sqlite_read.c). */
#define RESULT_COLS(value, traceback)                                                              \
    "id, queue, function, state, priority, attempts, max_retries, " value ", error, " traceback    \
    ", worker_id, unique_key, progress, cancel_requested, timeout_us, "                            \
    "CASE WHEN blobs & 1 THEN (SELECT length(p.payload) FROM sitq_payloads p "                     \
    "WHERE p.id = sitq_tasks.id) ELSE length(payload) END, "                                       \
    "enqueued_at_us, run_at_us, started_at_us, finished_at_us"
/* The stored result, wherever it lives (inline or in sitq_results). */
#define RESULT_VALUE                                                                               \
    "CASE WHEN blobs & 2 THEN (SELECT r.result FROM sitq_results r "                               \
    "WHERE r.id = sitq_tasks.id) ELSE result END"

/* The queues of the tasks in one partial index, by skipping from one queue
 * to the next (one index seek each) instead of reading every entry. */
#define QUEUE_SKIP(cte, cond)                                                                      \
    cte "(q) AS (SELECT (SELECT queue FROM sitq_tasks WHERE " cond " ORDER BY queue LIMIT 1) "     \
        "UNION ALL SELECT (SELECT queue FROM sitq_tasks WHERE " cond " AND queue > " cte ".q "     \
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

const char sq_list_select[] =
    "SELECT " RESULT_COLS("NULL", "NULL") ", CASE WHEN blobs & 2 THEN (SELECT length(r.result) "
                                          "FROM sitq_results r WHERE r.id = sitq_tasks.id) ELSE "
                                          "length(result) END FROM sitq_tasks";

/* A claim takes the lease but counts no attempt: the attempt is counted when
 * the worker records its start (ST_START, or folded into ST_SUCCEED), so a
 * prefetched task that never started costs nothing when its worker dies. */
/* A task's function is one the worker handles: ?3 exact names, ?4 prefixes
 * (JSON arrays, sqlite_names.c). */
#define SQ_FN_MATCH                                                                                \
    "(function IN (SELECT value FROM json_each(?3)) OR EXISTS (SELECT 1 FROM json_each(?4) "       \
    "WHERE substr(function, 1, length(value)) = value))"
#define CLAIM_SET                                                                                  \
    "SET state = 3, lease_token = ?1, lease_until_us = ?2, worker_id = ?3, "                       \
    "started_at_us = NULL, progress = NULL "
/* Inline payloads only; a large one (blobs & 1) is read by the worker later,
 * outside the write transaction. lapses: whether the worker must record the
 * start before it runs the task is sitq__start_first(lapses).
 * (started_at_us IS NOT NULL: counted by the claim itself, process_task.) */
#define CLAIM_RETURNING                                                                            \
    " RETURNING id, function, payload, blobs & 1, attempts, max_retries, priority, "               \
    "run_at_us, timeout_us, started_at_us IS NOT NULL, lapses"

/* The waiting tasks that fail with task P (recursive member of a CTE d):
 * its dependents through edges that are not a finalizer's, transitively. */
#define FAIL_WALK(P)                                                                               \
    "SELECT s.task_id FROM sitq_deps s JOIN sitq_tasks t ON t.id = s.task_id "                     \
    "WHERE s.depends_on = " P " AND s.finalizer = 0 AND t.state = 1 "                              \
    "UNION SELECT s.task_id FROM sitq_deps s JOIN d ON s.depends_on = d.id "                       \
    "JOIN sitq_tasks t ON t.id = s.task_id WHERE s.finalizer = 0 AND t.state = 1"

/* Purge keeps a finished task that a dependent not yet finished (queued,
 * waiting, running) depends on: that dependent may read its result. */
#define PURGE_KEEP                                                                                 \
    "AND NOT EXISTS (SELECT 1 FROM sitq_deps k JOIN sitq_tasks c ON c.id = k.task_id "             \
    "WHERE k.depends_on = sitq_tasks.id AND c.state IN (0, 1, 3))"

const char *const sq_sql[ST_COUNT] = {
    [ST_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [ST_BEGIN] = "BEGIN",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT sitq_op",
    [ST_RELEASE_SAVEPOINT] = "RELEASE sitq_op",
    [ST_ROLLBACK_SAVEPOINT] = "ROLLBACK TO sitq_op",

    [ST_INSERT_TASK] =
        "INSERT INTO sitq_tasks(queue, function, payload, state, priority, run_at_us, "
        "max_retries, backoff_base_us, backoff_cap_us, backoff_jitter, timeout_us, "
        "pending_deps, unique_key, enqueued_at_us, error, finished_at_us, id, blobs, keep_us) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
        "?19)",
    [ST_INSERT_PAYLOAD] = "INSERT INTO sitq_payloads(id, payload) VALUES(?1, ?2)",
    [ST_NEXT_ID] =
        "SELECT MAX(COALESCE((SELECT MAX(id) FROM sitq_tasks), 0), "
        "COALESCE((SELECT CAST(value AS INTEGER) FROM sitq_meta WHERE key = 'id_floor'), 0)) + 1",
    [ST_SET_ID_FLOOR] = "INSERT INTO sitq_meta(key, value) VALUES('id_floor', ?1) "
                        "ON CONFLICT(key) DO UPDATE SET value = MAX(CAST(value AS INTEGER), ?1)",
    [ST_INSERT_DEP] = "INSERT OR IGNORE INTO sitq_deps(task_id, depends_on, position, finalizer) "
                      "VALUES(?1, ?2, ?3, ?4)",
    /* A dependency names a task of its own queue only: another queue's id
     * reads as unknown, so that a queue reveals nothing about the others. */
    [ST_DEP_STATE] = "SELECT state FROM sitq_tasks WHERE id = ?1 AND queue = ?2",
    [ST_UNIQUE_FIND] = "SELECT id FROM sitq_tasks WHERE queue = ?1 AND unique_key = ?2 "
                       "AND " SQ_SQL_HOLDS_UNIQUE_KEY,

    [ST_GET] = "SELECT " RESULT_COLS(RESULT_VALUE,
                                     "traceback") " FROM sitq_tasks WHERE id = ?1 AND queue = ?2",
    /* The head (?3 bytes) of an inline result (whole when it fits: substr()
     * of an empty blob is NULL, not empty); a result in sitq_results is
     * read by incremental blob I/O (sqlite_prefix.c). Then the result's
     * size (length() reads no content) and where it lives. */
    [ST_GET_PREFIX] = "SELECT " RESULT_COLS(
        "CASE WHEN blobs & 2 THEN NULL WHEN length(result) <= ?3 THEN result "
        "ELSE substr(result, 1, ?3) END",
        "traceback") ", CASE WHEN blobs & 2 THEN (SELECT length(r.result) FROM sitq_results r "
                     "WHERE r.id = sitq_tasks.id) ELSE COALESCE(length(result), 0) END, "
                     "blobs & 2 FROM sitq_tasks WHERE id = ?1 AND queue = ?2",
    [ST_GET_DEPS] = "SELECT depends_on, finalizer FROM sitq_deps WHERE task_id = ?1 "
                    "ORDER BY position, depends_on",
    /* A running task's dependencies, by declared position: one index hop
     * each (sitq_deps_order), on a reader connection. */
    [ST_DEP_COUNT] = "SELECT COALESCE(MAX(position) + 1, 0) FROM sitq_deps WHERE task_id = ?1",
    [ST_DEP_RESULT] = "SELECT " RESULT_COLS(
        RESULT_VALUE,
        "traceback") " FROM sitq_tasks "
                     "WHERE id = (SELECT depends_on FROM sitq_deps WHERE task_id = ?1 "
                     "AND position = ?2) AND queue = ?3",
    /* A range of positions in one statement (a fan-in), the position last:
     * a range scan of sitq_deps_order, then one hop per edge. */
    [ST_DEP_RESULTS] = "SELECT " RESULT_COLS(
        RESULT_VALUE, "traceback") ", d.position FROM sitq_deps d "
                                   "JOIN sitq_tasks ON sitq_tasks.id = d.depends_on "
                                   "WHERE d.task_id = ?1 AND d.position BETWEEN ?2 AND ?3 "
                                   "AND sitq_tasks.queue = ?4 ORDER BY d.position",
    /* The same edges, only what a fan-in passes on (sq_dep_values). */
    [ST_DEP_VALUES] = "SELECT d.position, id, state, run_at_us, " RESULT_VALUE ", error "
                      "FROM sitq_deps d JOIN sitq_tasks ON sitq_tasks.id = d.depends_on "
                      "WHERE d.task_id = ?1 AND d.position BETWEEN ?2 AND ?3 "
                      "AND sitq_tasks.queue = ?4 ORDER BY d.position",
    [ST_PAYLOAD] = "SELECT CASE WHEN blobs & 1 THEN (SELECT p.payload FROM sitq_payloads p "
                   "WHERE p.id = sitq_tasks.id) ELSE payload END "
                   "FROM sitq_tasks WHERE id = ?1 AND queue = ?2",
    [ST_TASK_STATE] = "SELECT state FROM sitq_tasks WHERE id = ?1 AND queue = ?2",

    /* Batched claim (lesson 1): one UPDATE over the ready index, highest
     * priority first, FIFO within a priority, only functions we handle. */
    [ST_CLAIM] =
        "UPDATE sitq_tasks " CLAIM_SET
        "WHERE id IN (SELECT id FROM sitq_tasks WHERE state = 0 AND queue = ?5 "
        "AND run_at_us <= ?4 AND (function IN (SELECT value FROM json_each(?6)) "
        "OR EXISTS (SELECT 1 FROM json_each(?7) WHERE substr(function, 1, length(value)) = value)) "
        "AND NOT EXISTS (SELECT 1 FROM sitq_limits WHERE queue = ?5) "
        "ORDER BY priority DESC, run_at_us, id LIMIT ?8)" CLAIM_RETURNING,
    /* The claim of a queue that has limits (limit_claim.c): as ST_CLAIM,
     * without the limits guard, excluding the functions of ?9 (a JSON
     * array: limited functions, claimed on their own). */
    [ST_CLAIM_LIMITED] =
        "UPDATE sitq_tasks " CLAIM_SET
        "WHERE id IN (SELECT id FROM sitq_tasks WHERE state = 0 AND queue = ?5 "
        "AND run_at_us <= ?4 AND (function IN (SELECT value FROM json_each(?6)) "
        "OR EXISTS (SELECT 1 FROM json_each(?7) WHERE substr(function, 1, length(value)) = value)) "
        "AND function NOT IN (SELECT value FROM json_each(?9)) "
        "ORDER BY priority DESC, run_at_us, id LIMIT ?8)" CLAIM_RETURNING,
    /* Burst mode: a task of the queue (?1) that keeps its worker: running,
     * waiting, or queued and due by ?2, of a function the worker handles
     * (?3 names, ?4 prefixes, as the claim). One EXISTS per partial index. */
    /* A paused queue holds nothing that keeps a burst worker. */
    [ST_LIVE] = "SELECT NOT EXISTS (SELECT 1 FROM sitq_limits WHERE queue = ?1 AND function = '' "
                "AND paused) AND (EXISTS (SELECT 1 FROM sitq_tasks WHERE queue = ?1 AND state = 3 "
                "AND " SQ_FN_MATCH ") OR EXISTS (SELECT 1 FROM sitq_tasks WHERE queue = ?1 "
                "AND state = 1 AND " SQ_FN_MATCH ") OR EXISTS (SELECT 1 FROM sitq_tasks "
                "WHERE queue = ?1 AND state = 0 AND run_at_us <= ?2 AND " SQ_FN_MATCH "))",
    /* process_task runs the task right after the commit: counted at once. */
    [ST_CLAIM_ID] =
        "UPDATE sitq_tasks SET state = 3, attempts = attempts + 1, lease_token = ?1, "
        "lease_until_us = ?2, worker_id = ?3, started_at_us = ?4, progress = NULL "
        "WHERE id = ?5 AND queue = ?6 AND state = 0 AND run_at_us <= ?4" CLAIM_RETURNING,

    /* Every transition out of running is guarded by (state, lease_token). */
    /* A start not yet recorded is recorded with the success (one UPDATE for
     * tasks shorter than a dispatcher cycle). ?5: 2 when the result was
     * stored in sitq_results, else 0. */
    [ST_SUCCEED] = "UPDATE sitq_tasks SET state = 4, result = ?3, blobs = (blobs & 1) | ?5, "
                   "error = NULL, traceback = NULL, finished_at_us = ?4, "
                   "attempts = attempts + (started_at_us IS NULL), "
                   "started_at_us = COALESCE(started_at_us, ?6), "
                   "lease_token = NULL, lease_until_us = NULL "
                   "WHERE id = ?1 AND state = 3 AND lease_token = ?2",
    /* The start of an attempt: from here on, a lost lease spends it. */
    [ST_START] = "UPDATE sitq_tasks SET attempts = attempts + 1, started_at_us = ?3 "
                 "WHERE id = ?1 AND state = 3 AND lease_token = ?2 AND started_at_us IS NULL",
    [ST_OWNED] = "SELECT 1 FROM sitq_tasks WHERE id = ?1 AND state = 3 AND lease_token = ?2",
    [ST_INSERT_RESULT] = "INSERT OR REPLACE INTO sitq_results(id, result) VALUES(?1, ?2)",
    [ST_DELETE_RESULT] = "DELETE FROM sitq_results WHERE id = ?1",
    /* Dependents of the tasks that just succeeded (?1: a JSON array of their
     * ids, one statement per commit): each loses as many pending
     * dependencies as it has among them, and becomes ready at zero. */
    [ST_RESOLVE] = "WITH hit(task_id, n) AS (SELECT task_id, COUNT(*) FROM sitq_deps "
                   "WHERE depends_on IN (SELECT value FROM json_each(?1)) GROUP BY task_id) "
                   "UPDATE sitq_tasks SET pending_deps = pending_deps - hit.n, "
                   "state = CASE WHEN pending_deps - hit.n <= 0 THEN 0 ELSE 1 END, "
                   "run_at_us = CASE WHEN pending_deps - hit.n <= 0 THEN MAX(run_at_us, ?2) ELSE "
                   "run_at_us END "
                   "FROM hit WHERE sitq_tasks.id = hit.task_id AND sitq_tasks.state = 1",
    [ST_FAIL_INFO] = "SELECT attempts, max_retries, backoff_base_us, backoff_cap_us, "
                     "backoff_jitter, cancel_requested, started_at_us IS NULL FROM sitq_tasks "
                     "WHERE id = ?1 AND state = 3 AND lease_token = ?2",
    [ST_REQUEUE] = "UPDATE sitq_tasks SET state = 0, run_at_us = ?2, error = ?3, traceback = ?4, "
                   "lease_token = NULL, lease_until_us = NULL "
                   "WHERE id = ?1 AND state = 3 AND lease_token = ?5",
    /* Into a terminal state from ?6: running under lease ?7, or queued or
     * waiting (cancel). */
    [ST_FINISH] = "UPDATE sitq_tasks SET state = ?2, error = ?3, traceback = ?4, "
                  "finished_at_us = ?5, lease_token = NULL, lease_until_us = NULL "
                  "WHERE id = ?1 AND state = ?6 AND (state <> 3 OR lease_token = ?7)",
    /* Failure reaches every waiting dependent at once, transitively (lesson
     * 8), but not through finalizer edges: a finalizer runs instead. */
    [ST_PROPAGATE] = "WITH RECURSIVE d(id) AS (" FAIL_WALK(
        "?1") ") "
              "UPDATE sitq_tasks SET state = 5, error = ?2, finished_at_us = ?3 "
              "WHERE state = 1 AND id IN (SELECT id FROM d)",
    /* Before ST_PROPAGATE, over the same walk (and the failed task itself):
     * each waiting finalizer loses as many pending dependencies as it has
     * among them, and becomes ready at zero, as after a success. */
    [ST_RELEASE_FINALIZERS] = "WITH RECURSIVE d(id) AS (SELECT ?1 UNION " FAIL_WALK(
        "?1") "), "
              "hit(task_id, n) AS (SELECT f.task_id, COUNT(*) FROM sitq_deps f "
              "WHERE f.finalizer = 1 AND f.depends_on IN (SELECT id FROM d) GROUP BY f.task_id) "
              "UPDATE sitq_tasks SET pending_deps = pending_deps - hit.n, "
              "state = CASE WHEN pending_deps - hit.n <= 0 THEN 0 ELSE 1 END, "
              "run_at_us = CASE WHEN pending_deps - hit.n <= 0 THEN MAX(run_at_us, ?2) ELSE "
              "run_at_us END FROM hit WHERE sitq_tasks.id = hit.task_id AND sitq_tasks.state = 1",
    [ST_HEARTBEAT] = "UPDATE sitq_tasks SET lease_until_us = ?3, progress = COALESCE(?4, progress) "
                     "WHERE id = ?1 AND state = 3 AND lease_token = ?2 RETURNING cancel_requested",
    /* Given back unstarted: an attempt counted at claim (lapses) is undone;
     * run_at_us is untouched, so the task keeps its place. */
    [ST_RELEASE] =
        "UPDATE sitq_tasks SET state = 0, attempts = attempts - (started_at_us IS NOT NULL), "
        "lease_token = NULL, lease_until_us = NULL, started_at_us = NULL "
        "WHERE id = ?1 AND state = 3 AND lease_token = ?2",
    [ST_REAP_SELECT] = "SELECT id, attempts, max_retries, worker_id, cancel_requested, "
                       "started_at_us IS NOT NULL, lease_token "
                       "FROM sitq_tasks WHERE queue = ?2 AND state = 3 AND lease_until_us < ?1 "
                       "LIMIT 1000",
    /* A lapsed lease put back: run_at_us is kept, so the task keeps its place
     * in the queue; ?3 = 1 when its attempt had not started (counted in
     * lapses, no attempt spent). */
    [ST_REQUEUE_LOST] = "UPDATE sitq_tasks SET state = 0, error = ?2, lapses = lapses + ?3, "
                        "lease_token = NULL, lease_until_us = NULL "
                        "WHERE id = ?1 AND state = 3 AND lease_token = ?4",
    [ST_SET_CANCEL_FLAG] = "UPDATE sitq_tasks SET cancel_requested = 1 WHERE id = ?1 AND state = 3",

    /* The dependencies of a task being retried, each with its state (NULL:
     * the task is gone), folded by sitq__retry_deps_add. */
    [ST_RETRY_DEPS] = "SELECT d.depends_on, t.state, d.finalizer "
                      "FROM sitq_deps d LEFT JOIN sitq_tasks t ON t.id = d.depends_on "
                      "WHERE d.task_id = ?1 ORDER BY d.depends_on",
    /* What a retry of ?1 runs again with it: every failed or cancelled task
     * downstream, reached through failed or cancelled tasks, oldest first
     * (a dependency is always older than its dependents). */
    [ST_RETRY_WALK] = "WITH RECURSIVE d(id) AS (SELECT s.task_id FROM sitq_deps s "
                      "JOIN sitq_tasks t ON t.id = s.task_id WHERE s.depends_on = ?1 "
                      "AND t.state IN (5, 6) UNION SELECT s.task_id FROM sitq_deps s "
                      "JOIN d ON s.depends_on = d.id JOIN sitq_tasks t ON t.id = s.task_id "
                      "WHERE t.state IN (5, 6)) SELECT id FROM d ORDER BY id",
    /* Waiting finalizers counted ?1 as finished: it is pending again. */
    [ST_RETRY_REARM] = "UPDATE sitq_tasks SET pending_deps = pending_deps + 1 WHERE state = 1 "
                       "AND id IN (SELECT task_id FROM sitq_deps WHERE depends_on = ?1 "
                       "AND finalizer = 1)",
    [ST_RETRY_SET] =
        "UPDATE sitq_tasks SET state = ?2, pending_deps = ?3, attempts = 0, "
        "lapses = 0, blobs = blobs & 1, result = NULL, error = NULL, traceback = NULL, "
        "started_at_us = NULL, "
        "finished_at_us = NULL, run_at_us = ?4, cancel_requested = 0, progress = NULL, "
        "lease_token = NULL, lease_until_us = NULL WHERE id = ?1 AND state = ?5",
    /* Counts by status, each from its partial index (succeeded ones from
     * sitq_counts); one statement, so one consistent snapshot. Rows are
     * (stored state, in the future, count). */
    [ST_STATS] =
        "SELECT 0, run_at_us > ?2, COUNT(*) FROM sitq_tasks WHERE queue = ?1 AND state = 0 "
        "GROUP BY run_at_us > ?2 "
        "UNION ALL SELECT 1, 0, COUNT(*) FROM sitq_tasks WHERE queue = ?1 AND state = 1 "
        "UNION ALL SELECT 3, 0, COUNT(*) FROM sitq_tasks WHERE queue = ?1 AND state = 3 "
        "UNION ALL SELECT state, 0, COUNT(*) FROM sitq_tasks WHERE queue = ?1 AND state IN (5, 6) "
        "GROUP BY state "
        "UNION ALL SELECT 4, 0, succeeded FROM sitq_counts WHERE queue = ?1",
    /* Counts by public status, each read as at most ?3 (the cap plus one)
     * index entries, so that a backlog of any size costs the same: queued
     * and scheduled tasks per distinct priority of the ready index (a skip
     * scan, then a range on run_at_us), the others from their partial
     * indexes (failed and cancelled name the index's `state IN (5, 6)`:
     * without it SQLite does not see that the partial index serves
     * `state = 5` and scans the table); succeeded from sitq_counts. Rows
     * are (status, count); the caller adds a status's rows and caps them. */
    [ST_STATS_BOUNDED] =
        "WITH RECURSIVE p(v) AS (SELECT (SELECT MAX(priority) FROM sitq_tasks "
        "WHERE queue = ?1 AND state = 0) UNION ALL SELECT (SELECT MAX(priority) FROM sitq_tasks "
        "WHERE queue = ?1 AND state = 0 AND priority < p.v) FROM p WHERE p.v IS NOT NULL) "
        "SELECT 0, (SELECT COUNT(*) FROM (SELECT 1 FROM sitq_tasks WHERE queue = ?1 AND state = 0 "
        "AND priority = p.v AND run_at_us <= ?2 LIMIT ?3)) FROM p WHERE p.v IS NOT NULL "
        "UNION ALL SELECT 2, (SELECT COUNT(*) FROM (SELECT 1 FROM sitq_tasks WHERE queue = ?1 "
        "AND state = 0 AND priority = p.v AND run_at_us > ?2 LIMIT ?3)) FROM p "
        "WHERE p.v IS NOT NULL "
        "UNION ALL SELECT 1, COUNT(*) FROM (SELECT 1 FROM sitq_tasks WHERE queue = ?1 "
        "AND state = 1 LIMIT ?3) "
        "UNION ALL SELECT 3, COUNT(*) FROM (SELECT 1 FROM sitq_tasks WHERE queue = ?1 "
        "AND state = 3 LIMIT ?3) "
        "UNION ALL SELECT 5, COUNT(*) FROM (SELECT 1 FROM sitq_tasks WHERE queue = ?1 "
        "AND state IN (5, 6) AND state = 5 LIMIT ?3) "
        "UNION ALL SELECT 6, COUNT(*) FROM (SELECT 1 FROM sitq_tasks WHERE queue = ?1 "
        "AND state IN (5, 6) AND state = 6 LIMIT ?3) "
        "UNION ALL SELECT 4, succeeded FROM sitq_counts WHERE queue = ?1",
    /* The earliest run_at of the queue's queued tasks: one seek per distinct
     * priority in the ready index (a skip scan), never a walk of the
     * backlog. */
    [ST_OLDEST_READY] =
        "WITH RECURSIVE p(v) AS (SELECT (SELECT MAX(priority) FROM sitq_tasks "
        "WHERE queue = ?1 AND state = 0) UNION ALL SELECT (SELECT MAX(priority) FROM sitq_tasks "
        "WHERE queue = ?1 AND state = 0 AND priority < p.v) FROM p WHERE p.v IS NOT NULL) "
        "SELECT MIN((SELECT MIN(run_at_us) FROM sitq_tasks WHERE queue = ?1 AND state = 0 "
        "AND priority = p.v)) FROM p WHERE p.v IS NOT NULL",
    /* A commit's outcomes in one queue, added once per commit: the stored
     * succeeded count (which purge decreases) and the monotonic counters
     * (which nothing decreases). ?2..?6: sitq__tally. */
    [ST_COUNT_TOTALS] =
        "INSERT INTO sitq_counts(queue, succeeded, total_succeeded, total_failed, total_retried, "
        "total_lost, total_cancelled) VALUES(?1, ?2, ?2, ?3, ?4, ?5, ?6) "
        "ON CONFLICT(queue) DO UPDATE SET succeeded = succeeded + ?2, "
        "total_succeeded = total_succeeded + ?2, total_failed = total_failed + ?3, "
        "total_retried = total_retried + ?4, total_lost = total_lost + ?5, "
        "total_cancelled = total_cancelled + ?6",
    /* Purge: the stored succeeded count goes down by ?2, the tasks deleted
     * (?3, succeeded or not) are added to total_purged. */
    [ST_COUNT_PURGED] = "INSERT INTO sitq_counts(queue, succeeded, total_purged) "
                        "VALUES(?1, -?2, ?3) ON CONFLICT(queue) DO UPDATE SET "
                        "succeeded = succeeded - ?2, total_purged = total_purged + ?3",
    /* The counters, and the tasks ever inserted: those stored (each status
     * from its partial index, succeeded ones from sitq_counts) plus those
     * purged. An insert adds a stored task and a purge moves one from stored
     * to purged in the same transaction, so the sum only grows, and the
     * enqueue path writes no counter of its own. One statement: one
     * snapshot. */
    [ST_TOTALS] =
        "SELECT (SELECT COUNT(*) FROM sitq_tasks WHERE queue = ?1 AND state = 0) + "
        "(SELECT COUNT(*) FROM sitq_tasks WHERE queue = ?1 AND state = 1) + "
        "(SELECT COUNT(*) FROM sitq_tasks WHERE queue = ?1 AND state = 3) + "
        "(SELECT COUNT(*) FROM sitq_tasks WHERE queue = ?1 AND state IN (5, 6)) + "
        "COALESCE(c.succeeded + c.total_purged, 0), COALESCE(c.total_succeeded, 0), "
        "COALESCE(c.total_failed, 0), COALESCE(c.total_retried, 0), COALESCE(c.total_lost, 0), "
        "COALESCE(c.total_cancelled, 0) FROM (SELECT 1) LEFT JOIN sitq_counts c ON c.queue = ?1",
    /* The counters without enqueued: the one row, whatever the backlog. */
    [ST_COUNTERS] =
        "SELECT COALESCE(c.total_succeeded, 0), COALESCE(c.total_failed, 0), "
        "COALESCE(c.total_retried, 0), COALESCE(c.total_lost, 0), COALESCE(c.total_cancelled, 0) "
        "FROM (SELECT 1) LEFT JOIN sitq_counts c ON c.queue = ?1",

    /* Purge walks ids in windows (?3..?4), one short transaction each, so
     * that it never holds the write lock for long. */
    [ST_ID_RANGE] = "SELECT MIN(id), MAX(id) FROM sitq_tasks",
    [ST_ID_AFTER] = "SELECT MIN(id) FROM sitq_tasks WHERE id > ?1",
    [ST_PURGE_DEPS] = "DELETE FROM sitq_deps WHERE task_id IN (SELECT id FROM sitq_tasks "
                      "WHERE id BETWEEN ?3 AND ?4 AND queue = ?1 AND state IN (4, 5, 6) "
                      "AND finished_at_us < ?2 " PURGE_KEEP ")",
    /* Edges to purged succeeded tasks are satisfied for good: drop them. */
    [ST_PURGE_DEP_EDGES] = "DELETE FROM sitq_deps WHERE depends_on IN (SELECT id FROM sitq_tasks "
                           "WHERE id BETWEEN ?3 AND ?4 AND queue = ?1 AND state = 4 "
                           "AND finished_at_us < ?2 " PURGE_KEEP ")",
    [ST_PURGE_PAYLOADS] = "DELETE FROM sitq_payloads WHERE id IN (SELECT id FROM sitq_tasks "
                          "WHERE id BETWEEN ?3 AND ?4 AND queue = ?1 AND state IN (4, 5, 6) "
                          "AND finished_at_us < ?2 AND blobs & 1 " PURGE_KEEP ")",
    [ST_PURGE_RESULTS] = "DELETE FROM sitq_results WHERE id IN (SELECT id FROM sitq_tasks "
                         "WHERE id BETWEEN ?3 AND ?4 AND queue = ?1 AND state IN (4, 5, 6) "
                         "AND finished_at_us < ?2 AND blobs & 2 " PURGE_KEEP ")",
    [ST_PURGE_SUCCEEDED] = "DELETE FROM sitq_tasks WHERE id BETWEEN ?3 AND ?4 AND queue = ?1 "
                           "AND state = 4 AND finished_at_us < ?2 " PURGE_KEEP,
    [ST_PURGE_DEAD] = "DELETE FROM sitq_tasks WHERE id BETWEEN ?3 AND ?4 AND queue = ?1 "
                      "AND state IN (5, 6) AND finished_at_us < ?2 " PURGE_KEEP,

    /* The store's queues: those of the tasks in the partial indexes
     * (queued, waiting, running, failed, cancelled) and those that counted
     * a finished task (sitq_counts keeps its row after a purge, so that the
     * counters that only grow stay listed: a queue of failed or cancelled
     * tasks since purged too). */
    [ST_QUEUES] =
        "WITH RECURSIVE " QUEUES_SKIPS " SELECT q FROM r WHERE q IS NOT NULL "
        "UNION SELECT q FROM w WHERE q IS NOT NULL "
        "UNION SELECT q FROM x WHERE q IS NOT NULL "
        "UNION SELECT q FROM f WHERE q IS NOT NULL "
        "UNION SELECT queue FROM sitq_counts WHERE succeeded <> 0 OR total_succeeded <> 0 "
        "OR total_failed <> 0 OR total_cancelled <> 0",
    [ST_TASK_QUEUE] = "SELECT queue FROM sitq_tasks WHERE id = ?1",
    [ST_DEPENDENTS] = "SELECT task_id FROM sitq_deps WHERE depends_on = ?1 ORDER BY task_id "
                      "LIMIT ?2",

    /* Limits (sqlite_limits.c): one row per queue ('' function) and per
     * limited function of a queue. Running tasks are counted through the
     * running index (only running tasks are read). */
    [ST_LIMITS_READ] = "SELECT function, paused, concurrency, rate_count, rate_interval_us, "
                       "next_start_us FROM sitq_limits WHERE queue = ?1 ORDER BY function",
    [ST_LIMIT_RUNNING_QUEUE] = "SELECT count(*) FROM sitq_tasks WHERE queue = ?1 AND state = 3",
    [ST_LIMIT_RUNNING_FUNCTION] = "SELECT count(*) FROM sitq_tasks INDEXED BY sitq_tasks_running "
                                  "WHERE queue = ?1 AND state = 3 AND function = ?2",
    [ST_LIMIT_RATE_SET] =
        "UPDATE sitq_limits SET next_start_us = ?3 WHERE queue = ?1 AND function = ?2",
    [ST_LIMIT_PAUSE] = "INSERT INTO sitq_limits(queue, function, paused) VALUES (?1, '', ?2) "
                       "ON CONFLICT(queue, function) DO UPDATE SET paused = excluded.paused",
    [ST_LIMIT_SET] =
        "INSERT INTO sitq_limits(queue, function, concurrency, rate_count, "
        "rate_interval_us) VALUES (?1, ?2, ?3, ?4, ?5) "
        "ON CONFLICT(queue, function) DO UPDATE SET concurrency = excluded.concurrency, "
        "rate_count = excluded.rate_count, rate_interval_us = excluded.rate_interval_us",
    [ST_LIMIT_PRUNE] = "DELETE FROM sitq_limits WHERE queue = ?1 AND paused = 0 "
                       "AND concurrency = 0 AND rate_count = 0",
    [ST_LIMIT_CLEAR] = "UPDATE sitq_limits SET concurrency = 0, rate_count = 0, "
                       "rate_interval_us = 0 WHERE queue = ?1 AND function = ?2 "
                       "AND (concurrency <> 0 OR rate_count <> 0)",
};
