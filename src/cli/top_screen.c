/*
 * top_screen.c - the curses side of `sitq top` (see top_screen.h).
 *
 * Signals: SIGINT, SIGTERM and SIGHUP only set a flag (installed before
 * curses starts, so that ncurses keeps them rather than its own), and the
 * loop waits for keys in slices of at most 200 ms, so a signal ends the
 * view within that time through the same endwin() as `q`. An atexit hook
 * restores the terminal should the process exit from anywhere else.
 */
#include "top_screen.h"

#include <curses.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <term.h>

#include "cli.h"
#include "term_escape.h"

/* Longest wait for a key before the loop looks at the flag and the clock. */
#define KEY_SLICE_MS 200

static volatile sig_atomic_t stop_signal;
static SCREEN *active; /* the curses screen while it is up */

static void on_signal(int sig) { stop_signal = sig; }

/* The terminal was resized: handled here rather than by ncurses (which
 * installs no SIGWINCH handler of its own when one is in place), so that
 * ncurses never takes a size larger than the view draws (see MAX_ROWS). */
static volatile sig_atomic_t resized;
static void on_winch(int sig) {
    (void)sig;
    resized = 1;
}

/* Take the terminal back (idempotent). */
static void restore_terminal(void) {
    if (active == NULL) return;
    curs_set(1);
    endwin();
    delscreen(active);
    active = NULL;
    fflush(stdout);
}

static void install_signals(struct sigaction *old) {
    static const int sigs[4] = {SIGINT, SIGTERM, SIGHUP, SIGWINCH};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 4; i++) {
        sa.sa_handler = sigs[i] == SIGWINCH ? on_winch : on_signal;
        sigaction(sigs[i], &sa, &old[i]);
    }
}

static void restore_signals(const struct sigaction *old) {
    static const int sigs[4] = {SIGINT, SIGTERM, SIGHUP, SIGWINCH};
    for (int i = 0; i < 4; i++) sigaction(sigs[i], &old[i], NULL);
}

/* The largest window drawn: ncurses keeps sizes in shorts (a terminal of
 * 32,768 columns crashed it) and keeps and repaints every cell (10,000 x
 * 10,000 took it seconds and gigabytes); a larger terminal shows the view
 * in its top left part. */
#define MAX_ROWS 500
#define MAX_COLS 1000

/* The terminal's size, cut to MAX_ROWS x MAX_COLS; 0 when unknown. */
static int clamped_size(int *rows, int *cols) {
    struct winsize ws;
    if (ioctl(fileno(stdout), TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0) return 0;
    *rows = ws.ws_row > MAX_ROWS ? MAX_ROWS : ws.ws_row;
    *cols = ws.ws_col > MAX_COLS ? MAX_COLS : ws.ws_col;
    return 1;
}

/* Draw the lines cut to the window; the last row says what did not fit. */
static void draw(const top_lines *l) {
    erase();
    int rows = LINES, cols = COLS;
    if (rows < 3 || cols < 20) {
        mvaddnstr(0, 0, "terminal too small", cols > 0 ? cols : 0);
        refresh();
        return;
    }
    size_t fit = l->n <= (size_t)rows ? l->n : (size_t)rows - 1;
    for (size_t i = 0; i < fit; i++)
        mvaddnstr((int)i, 0, l->line[i], (int)term_prefix_len(l->line[i], (size_t)cols));
    if (fit < l->n) {
        char more[96];
        snprintf(more, sizeof more, "... %zu more lines: enlarge the terminal", l->n - fit);
        mvaddnstr(rows - 1, 0, more, cols);
    }
    if (l->oom) mvaddnstr(rows - 1, 0, "(out of memory: the view is cut)", cols);
    refresh();
}

static int start_curses(void) {
    setlocale(LC_CTYPE, ""); /* UTF-8 names drawn as characters */
    /* Look the terminal up first: newterm() on an unknown TERM fails but
     * keeps memory it allocated, setupterm() frees what it took. */
    int err = 0;
    if (setupterm(NULL, fileno(stdout), &err) != OK) return -1;
    del_curterm(cur_term);
    /* A terminal larger than the view draws is taken at the size drawn
     * (ncurses reads LINES and COLUMNS first). */
    int rows = 0, cols = 0;
    char num[16];
    if (clamped_size(&rows, &cols)) {
        snprintf(num, sizeof num, "%d", rows);
        setenv("LINES", num, 1);
        snprintf(num, sizeof num, "%d", cols);
        setenv("COLUMNS", num, 1);
    }
    active = newterm(NULL, stdout, stdin);
    if (active == NULL) return -1;
    static int hooked;
    if (!hooked && atexit(restore_terminal) == 0) hooked = 1;
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    curs_set(0);
    return 0;
}

/* State of the loop. */
typedef struct loop {
    const top_screen_ops *ops;
    void *ctx;
    top_lines view; /* the lines drawn last (term.h takes the name "lines") */
    int paused;
    sitq_time_us next_us;
    sitq_time_us interval_us;
} loop;

static void redraw(loop *lp) {
    top_lines_free(&lp->view);
    lp->ops->render(lp->ctx, lp->paused, &lp->view);
    draw(&lp->view);
}

/* Sample and redraw; returns an exit code. */
static int refresh_view(loop *lp) {
    int rc = lp->ops->sample(lp->ctx);
    if (rc != CLI_EXIT_OK) return rc;
    redraw(lp);
    sitq_time_us now = sitq_now_us();
    lp->next_us += lp->interval_us;
    if (lp->next_us <= now) lp->next_us = now + lp->interval_us;
    return CLI_EXIT_OK;
}

/* Handle one key; returns 1 to quit. */
static int on_key(loop *lp, int ch) {
    switch (ch) {
    case 'q':
    case 'Q': return 1;
    case 'p':
    case 'P':
        lp->paused = !lp->paused;
        if (!lp->paused) lp->next_us = sitq_now_us(); /* refresh at once */
        redraw(lp);
        return 0;
    case KEY_RESIZE: draw(&lp->view); return 0;
    default: return 0;
    }
}

static int run_loop(loop *lp) {
    lp->next_us = sitq_now_us();
    int rc = refresh_view(lp);
    while (rc == CLI_EXIT_OK && stop_signal == 0) {
        sitq_time_us left = lp->next_us - sitq_now_us();
        int wait_ms = left <= 0                    ? 0
                      : left / 1000 > KEY_SLICE_MS ? KEY_SLICE_MS
                                                   : (int)(left / 1000);
        if (lp->paused) wait_ms = KEY_SLICE_MS;
        timeout(wait_ms);
        int ch = getch();
        if (ch != ERR && on_key(lp, ch)) break;
        int rows = 0, cols = 0;
        if (resized) {
            resized = 0;
            if (clamped_size(&rows, &cols)) resizeterm(rows, cols);
            draw(&lp->view);
        }
        if (!lp->paused && stop_signal == 0 && sitq_now_us() >= lp->next_us) rc = refresh_view(lp);
    }
    return rc;
}

int top_screen_run(double interval_s, const top_screen_ops *ops, void *ctx) {
    struct sigaction old[4];
    stop_signal = 0;
    install_signals(old);
    if (start_curses() != 0) {
        restore_signals(old);
        return TOP_SCREEN_NO_TERMINAL;
    }
    loop lp;
    memset(&lp, 0, sizeof lp);
    lp.ops = ops;
    lp.ctx = ctx;
    lp.interval_us = (sitq_time_us)(interval_s * 1e6);
    int rc = run_loop(&lp);
    restore_terminal();
    top_lines_free(&lp.view);
    restore_signals(old);
    return rc;
}
