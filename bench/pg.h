/* pg.h - helpers of the PostgreSQL scenarios (pg_common.c). They read the
 * server from SITQ_BENCH_PG_URI and exit(1) with a message on any error. */
#ifndef SITQ_BENCH_PG_H
#define SITQ_BENCH_PG_H

#include <libpq-fe.h>

#include "bench.h"

/** SITQ_BENCH_PG_URI, or NULL when unset or empty. */
const char *bench_pg_uri(void);
/** 1 when SITQ_BENCH_PG_URI is set; else prints that the scenario is skipped. */
int bench_pg_available(const char *scenario);
/** A new libpq connection to the server (notices silenced). */
PGconn *bench_pg_connect(void);
/** Run one statement; exits on error. */
void bench_pg_exec(PGconn *c, const char *sql);
/** Drop schema (and everything in it) when it exists. */
void bench_pg_drop_schema(const char *schema);
/** Drop the schema, then open a sitq backend on it (created afresh). */
sitq_backend *bench_pg_open(const char *schema, int poll_only);
/** Open a sitq backend on an existing or new schema (no drop: other processes share it). */
sitq_backend *bench_pg_attach(const char *schema, int poll_only);
/** Transactions committed so far in the benchmark's database
 * (pg_stat_database.xact_commit, read-only ones included), read from another
 * database once no client session is left in it, so that every session's
 * counts have reached the statistics. Take it between phases, with every
 * backend closed: the difference over a phase is that phase's commits. */
int64_t bench_pg_xacts(void);
/** Emit "commits_per_task": (xacts_now - xacts_before) / tasks. */
void bench_pg_emit_commits(bench_ctx *c, const char *system, const char *scenario,
                           const char *variant, int64_t xacts_before, double tasks);

#endif
