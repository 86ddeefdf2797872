/* sqlite_wal.c - keeps the write-ahead log bounded under any load.
 *
 * SQLite's automatic checkpoint is PASSIVE: it copies what it can and never
 * waits. The log can start again from its beginning only at a moment when no
 * reader still uses its frames, and with several processes reading and
 * writing all the time that moment may never come: the file then grows
 * without bound (gigabytes within a minute with eight writing processes).
 *
 * So the writer connection of each process installs this hook, which SQLite
 * calls after every commit with the number of pages in the log. Every
 * SQ_WAL_PASSIVE_PAGES pages it runs the passive checkpoint SQLite would
 * have run. Past SQ_WAL_RESTART_BYTES it runs a RESTART checkpoint, which
 * waits, for at most SQ_WAL_WAIT_MS, until every reader has moved to the
 * newest snapshot, so that the next commit writes the log from its start;
 * journal_size_limit then truncates the file. While it waits, this process
 * holds the write lock: other writers wait (readers do not). A reader that
 * holds one snapshot for longer than that (a long query, a backup) pins the
 * log: no checkpoint can restart it until that reader ends, and every
 * commit meanwhile makes the file longer. Below SQ_WAL_BOUND_BYTES the RESTART
 * checkpoint then gives up and is tried again only after a pause that doubles
 * each time (SQ_WAL_BACKOFF_*), so that writers keep most of their speed.
 * Past the bound, every commit waits for the readers again: writers slow down
 * to a few commits per second until the long reader ends, and the file stays
 * near its bound instead of growing by gigabytes.
 *
 * A RESTART checkpoint also blocks new writers while it copies the log. After
 * an enqueue whose own payloads filled the log past SQ_WAL_RESTART_BYTES (a
 * batch of large payloads: 105 MB held every other process's claim for the
 * whole copy, 0.2-0.3 s on a quiet machine), a passive checkpoint copies it
 * first while the other writers go on, and RESTART is left with the rest.
 * Only then (the enqueue knows its own size, wal_big_commit): during a
 * passive copy the other processes' commits make the log longer, and after
 * every commit of a busy log that would let it outgrow its bound.
 */
#include "sq.h"

/* SQLite's own auto-checkpoint interval. */
#define SQ_WAL_PASSIVE_PAGES 1000
/* Past this size (a margin under the documented 64 MiB bound), no backoff:
 * writers wait for readers. */
#define SQ_WAL_BOUND_BYTES (48 << 20)
/* Longest wait of that checkpoint for readers (the write lock is held). */
#define SQ_WAL_WAIT_MS 200
/* Pause after a RESTART checkpoint gave up: first, and longest. */
#define SQ_WAL_BACKOFF_FIRST_US 1000000
#define SQ_WAL_BACKOFF_MAX_US   8000000

/* A RESTART checkpoint that waits for readers at most SQ_WAL_WAIT_MS in all.
 * While another process runs a checkpoint, SQLite refuses this one at once
 * (SQLITE_BUSY, its busy handler not called), and that other checkpoint may
 * be a passive copy of a long log, which takes seconds under load while every
 * writer goes on: the log outgrew its bound by half. So with wait_for_other
 * (past the bound) it is tried again until the wait is over, and this
 * process's commits wait with it. */
static int wal_restart(sq_conn *c, sqlite3 *db, const char *schema, int wait_for_other) {
    int saved = c->busy_timeout_ms;
    int64_t deadline = sitq__mono_us() + (int64_t)SQ_WAL_WAIT_MS * 1000;
    int rc;
    for (;;) {
        int64_t left_ms = (deadline - sitq__mono_us()) / 1000;
        if (left_ms < 0) left_ms = 0;
        c->busy_timeout_ms = left_ms < saved ? (int)left_ms : saved;
        rc = sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
        if (rc != SQLITE_BUSY || !wait_for_other || sitq__mono_us() >= deadline) break;
        sitq__sleep_us(500 + (int64_t)(sitq__rand64() % 1000));
    }
    c->busy_timeout_ms = saved;
    return rc;
}

static int wal_hook(void *arg, sqlite3 *db, const char *schema, int pages) {
    sq_backend *b = arg;
    /* A log shorter than at this process's last commit was restarted by
     * another process: a size this process set to look again at (after a
     * checkpoint that gave up) is about the old log and could lie far ahead
     * of the new one, with no checkpoint from here until the log reached it
     * again. Look again as after a restart of its own. */
    if (pages < b->wal_seen_pages && b->wal_next_pages > SQ_WAL_PASSIVE_PAGES)
        b->wal_next_pages = SQ_WAL_PASSIVE_PAGES;
    b->wal_seen_pages = pages;
    if (pages < b->wal_next_pages) return SQLITE_OK;
    int64_t now = sitq__mono_us();
    int64_t bytes = (int64_t)pages * b->page_size;
    int restart = bytes >= SQ_WAL_RESTART_BYTES &&
                  (bytes >= SQ_WAL_BOUND_BYTES || now >= b->wal_restart_after_us);
    int rc;
    if (restart) {
        if (b->wal_big_commit)
            sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        rc = wal_restart(&b->writer, db, schema, bytes >= SQ_WAL_BOUND_BYTES);
        if (rc == SQLITE_OK) {
            b->wal_backoff_us = 0;
        } else { /* a reader pins the log: wait before holding writers up again */
            b->wal_backoff_us = b->wal_backoff_us ? b->wal_backoff_us * 2 : SQ_WAL_BACKOFF_FIRST_US;
            if (b->wal_backoff_us > SQ_WAL_BACKOFF_MAX_US)
                b->wal_backoff_us = SQ_WAL_BACKOFF_MAX_US;
            b->wal_restart_after_us = sitq__mono_us() + b->wal_backoff_us;
        }
    } else {
        rc = sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    }
    /* After a restart the next commit starts the log again from page 1; after
     * a passive checkpoint or a failure, look again SQ_WAL_PASSIVE_PAGES later. */
    b->wal_next_pages = restart && rc == SQLITE_OK    ? SQ_WAL_PASSIVE_PAGES
                        : bytes >= SQ_WAL_BOUND_BYTES ? pages /* the next commit waits too */
                                                      : pages + SQ_WAL_PASSIVE_PAGES;
    return SQLITE_OK; /* a checkpoint that could not finish is not the commit's failure */
}

void sq_wal_bound(sq_backend *b) {
    sqlite3_stmt *st = NULL;
    b->page_size = 4096;
    if (sqlite3_prepare_v2(b->writer.db, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0)
        b->page_size = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    b->wal_next_pages = SQ_WAL_PASSIVE_PAGES;
    b->wal_seen_pages = 0;
    sqlite3_wal_hook(b->writer.db, wal_hook, b);
}
