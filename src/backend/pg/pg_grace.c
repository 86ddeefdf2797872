/* pg_grace.c - which lapsed leases lease recovery may judge after the
 * server restarted.
 *
 * While the server is down no worker can renew a lease, so leases lapse
 * that live workers still hold. After a restart recovery therefore judges
 * none of the leases that lapsed while the server was down or lapse in the
 * first lease after its start (where that lease starts: below): the workers
 * reconnect and renew theirs first.
 *
 * A lease that had lapsed before the server went down is another matter:
 * its worker went a whole lease of service without renewing it, and the
 * restart gives it no new right. Waiting a lease for it would hold such a
 * task up to a lease past its lapse, and restarts less than a lease apart
 * (a server in a restart loop, repeated failovers) would hold it for as
 * long as they go on. So each connection remembers the last server clock
 * it read on the previous server, and the latest moment it saw a server
 * past its first lease ("settled"): a lease that lapsed before that moment
 * lapsed while the server had been serving for a whole lease, and is
 * recovered at once, restart or not. Only this process's own readings
 * count, so a process that never saw the previous server waits a lease. A
 * lease that lapses while every server lives less than a lease waits for
 * one that serves a whole lease: until then a dead worker cannot be told
 * from one that is still reconnecting.
 *
 * The first lease is not counted from pg_postmaster_start_time alone: the
 * server takes connections only once its crash recovery is over, which can
 * take longer than a lease, and a lease counted from the start would then
 * be over before any worker could renew. A connection that saw the server
 * before the restart counts from its own first reading on the new one
 * (the server was ready by then, and the workers reconnect about then
 * too). A connection new to the server counts from its first reading when
 * the server was younger than a lease then; else from the start (a
 * process started during a recovery longer than a lease is the one case
 * this cannot see). */
#include "pg.h"

void pg_grace_connected(pg_conn *c, sitq_time_us start_us) {
    if (start_us != c->server_start_us) {
        c->saw_restart = c->seen_us > 0;
        if (c->saw_restart) {
            c->prev_origin_us = c->origin_us > 0 ? c->origin_us : c->server_start_us;
            c->prev_seen_us = c->seen_us;
        }
        c->first_seen_us = c->seen_us = c->origin_us = 0;
    }
    c->server_start_us = start_us;
}

void pg_grace_seen(pg_conn *c, sitq_time_us db_now_us) {
    if (c->first_seen_us == 0) c->first_seen_us = db_now_us;
    if (db_now_us > c->seen_us) c->seen_us = db_now_us;
}

/* Where the current server's first lease starts (see above). */
static sitq_time_us first_lease_origin(const pg_conn *c, int64_t lease_us) {
    sitq_time_us o = c->server_start_us;
    if (c->first_seen_us > o && (c->saw_restart || c->first_seen_us < o + lease_us))
        o = c->first_seen_us;
    return o;
}

sitq_time_us pg_grace_cutoff(pg_conn *c, sitq_time_us db_now_us, int64_t lease_us) {
    c->origin_us = first_lease_origin(c, lease_us);
    if (db_now_us >= c->origin_us + lease_us) {
        c->settled_us = db_now_us;
        return db_now_us;
    }
    /* The previous server, seen past its first lease before it went down. */
    if (c->prev_seen_us >= c->prev_origin_us + lease_us && c->prev_seen_us > c->settled_us)
        c->settled_us = c->prev_seen_us;
    return c->settled_us < db_now_us ? c->settled_us : db_now_us;
}
