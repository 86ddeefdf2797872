/*
 * top_screen.h - the curses loop of `sitq top` on a terminal: draws the
 * view's lines cut to the window, samples every interval, reads the keys
 * (q quits, p pauses and resumes the refresh), follows resizes, and
 * restores the terminal however it ends (q, SIGINT, SIGTERM, SIGHUP, an
 * error of the store, or exit()).
 */
#ifndef SITQ_CLI_TOP_SCREEN_H
#define SITQ_CLI_TOP_SCREEN_H

#include "top_view.h"

/** What the loop calls back (ctx is the caller's). */
typedef struct top_screen_ops {
    /** Read the store once; returns an exit code (CLI_EXIT_OK to go on). */
    int (*sample)(void *ctx);
    /** Build the lines of the last sample into *out (paused: 1 while paused). */
    void (*render)(void *ctx, int paused, top_lines *out);
} top_screen_ops;

/** Result of top_screen_run when the terminal cannot be driven by curses. */
#define TOP_SCREEN_NO_TERMINAL (-1)

/**
 * Run the view on the terminal of stdout until `q` or a signal (returns
 * CLI_EXIT_OK) or a failed sample (returns its exit code; the caller
 * prints the error once the terminal is restored). Returns
 * TOP_SCREEN_NO_TERMINAL, before sampling anything, when curses cannot
 * drive the terminal (unknown TERM). Not thread-safe (one per process).
 */
int top_screen_run(double interval_s, const top_screen_ops *ops, void *ctx);

#endif /* SITQ_CLI_TOP_SCREEN_H */
