/*
 * top_view.h - the text of one `sitq top` screen, as lines: the same lines
 * are printed as they are (--once, output that is not a terminal) or drawn
 * by curses, cut to the terminal's size (top_screen.c). Every stored name,
 * command and error passes through term_escape.
 */
#ifndef SITQ_CLI_TOP_VIEW_H
#define SITQ_CLI_TOP_VIEW_H

#include <stddef.h>

#include "sitq.h"
#include "top_rate.h"
#include "top_snapshot.h"

/** Lines of text, each malloc'd and NUL-terminated (no newline). */
typedef struct top_lines {
    char **line;
    size_t n;
    size_t cap;
    int oom; /**< 1 when a line could not be added (memory ran out) */
} top_lines;

/** What the view shows besides the snapshot. */
typedef struct top_view_in {
    const char *db;     /**< the database as it may be shown (passwords masked) */
    const char *queue;  /**< --queue, NULL: every queue */
    double interval_s;  /**< refresh interval */
    int paused;         /**< 1: refresh paused (`p`) */
    int interactive;    /**< 1: the curses view (the header names the keys) */
    size_t max_workers; /**< most worker rows (the rest is counted) */
    sitq_queue *handle; /**< an open queue of the store, to read shell commands */
    const top_snapshot *snap;
    top_rate_value rate;
    const char *stale; /**< the error of the last refresh when it failed and the
                            snapshot is older; NULL or "" otherwise */
} top_view_in;

/** Fill *out (zeroed first) with the lines of the view; release with top_lines_free. */
void top_view_build(const top_view_in *in, top_lines *out);

/** Release the lines and zero *l. */
void top_lines_free(top_lines *l);

#endif /* SITQ_CLI_TOP_VIEW_H */
