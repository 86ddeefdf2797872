/*
 * dash.h - the parts of `sitq dashboard` shared by its files: the server's
 * context, one request and its reply, and the text buffer every page is
 * written into.
 *
 * The design: libmicrohttpd answers each connection on a thread of its
 * own (the backend is thread-safe), so an action that waits for the write
 * lock never holds the pages; each page's reads are bounded by the page
 * size cap and run on the backend's reader connections. Pages are HTML written on
 * the server through dash_esc (every stored string is escaped); actions are
 * POST forms that carry the token in their body (dash_actions.c).
 */
#ifndef SITQ_CLI_DASH_H
#define SITQ_CLI_DASH_H

#include "http_addr.h"
#include <stddef.h>

#include "list_page.h"
#include "sitq.h"

typedef struct json_t json_t; /* jansson's */

/** Most queues the queues page (and /api/queues) lists. */
#define DASH_QUEUES_MAX 1000
/** Most tasks one list page shows (the `limit` parameter's bound). */
#define DASH_PAGE_MAX 100
/** Tasks a list page shows when no `limit` is given. */
#define DASH_PAGE_DEFAULT 50
/** Ids a task list examines at most for one page when no index serves its
 *  filter (--scan-limit; list_page.h). */
#define DASH_SCAN_DEFAULT LIST_SCAN_DEFAULT
/** Most bytes of a payload, result, error or traceback a task page shows. */
#define DASH_VALUE_SHOWN 4096
/** Longest token accepted, in bytes; the shortest is DASH_TOKEN_MIN. */
#define DASH_TOKEN_MAX 1024
#define DASH_TOKEN_MIN 16
/** Largest POST body read, in bytes (a form holds a token and an id). */
#define DASH_BODY_MAX 4096

/** Most connections served at once, and from one client address: past
 *  them a new connection is refused until one closes. */
#define DASH_CONN_MAX    128
#define DASH_CONN_PER_IP 64
/** Seconds a connection may stay idle (no byte received or sent) before it
 *  is closed. */
#define DASH_IDLE_S 5
/** Stack of each connection's thread, bytes (pages build on the heap). */
#define DASH_STACK_BYTES (512 * 1024)

/** A growing NUL-terminated text; an allocation failure sticks in failed. */
typedef struct dash_buf {
    char *s;
    size_t len, cap;
    int failed;
} dash_buf;

void dash_putn(dash_buf *b, const char *s, size_t n);
void dash_put(dash_buf *b, const char *s);
void dash_printf(dash_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Append n bytes of s escaped for HTML text and quoted attributes: & < > " '
 *  become entities, control characters (tab and newline too) and DEL become
 *  "\xNN", a NUL byte "\x00" (payloads are bytes). For one-line values:
 *  names, ids, labels. */
void dash_escn(dash_buf *b, const char *s, size_t n);
/** dash_escn keeping tab and newline as they are: values shown as lines
 *  (errors, tracebacks, payloads, results). */
void dash_esc_lines(dash_buf *b, const char *s, size_t n);
/** dash_escn of a NUL-terminated string; NULL appends "-". */
void dash_esc(dash_buf *b, const char *s);
/** Append s percent-encoded for a URL query value (all but A-Z a-z 0-9 -._~). */
void dash_urlenc(dash_buf *b, const char *s);
/** Append the bytes of s as lower-case hex, two digits a byte: a form
 *  field that carries any byte (control characters, newlines) unchanged
 *  through a browser. */
void dash_hexenc(dash_buf *b, const char *s);
/** The length (1..4) of the well-formed UTF-8 character s starts with
 *  (RFC 3629: shortest form, no surrogate, at most U+10FFFF), 0 when it
 *  starts with no such character. s is NUL-terminated and not empty. */
size_t dash_utf8_seq(const char *s);
/** How many of the n bytes of s to show for at most max: n when it fits,
 *  else max backed off to the start of a UTF-8 character. Pure. */
size_t dash_utf8_cut(const char *s, size_t n, size_t max);
/** Append at most DASH_VALUE_SHOWN bytes of s (cut on a UTF-8 boundary),
 *  escaped, and a note of the full size when cut. */
void dash_esc_summary(dash_buf *b, const char *s, size_t n);
/** dash_esc_summary of the head of a value: s holds its first n bytes (at
 *  least DASH_VALUE_SHOWN + 1 when it is longer, so that the cut finds its
 *  UTF-8 boundary), the value has total bytes. */
void dash_esc_head(dash_buf *b, const char *s, size_t n, size_t total);
void dash_buf_free(dash_buf *b);

/* dash_rate.c: the throughput history, sampled by a thread of its own. */
/** Samples kept per queue: an hour at the default interval. */
#define DASH_RATE_POINTS 360
/** Seconds between samples by default, and the bounds of --sample-interval. */
#define DASH_RATE_INTERVAL_S     10.0
#define DASH_RATE_INTERVAL_MIN_S 0.1
#define DASH_RATE_INTERVAL_MAX_S 3600.0
/** One reading of a queue's counters (sitq_totals), at t_us (UTC). */
typedef struct dash_sample {
    int64_t t_us, succeeded, failed, retried;
} dash_sample;
/** A queue's samples, oldest first, as dash_rate_get copies them. */
typedef struct dash_series {
    size_t n;
    dash_sample s[DASH_RATE_POINTS];
    double interval_s;
    int64_t started_us; /**< when the sampler started (UTC) */
} dash_series;
typedef struct dash_rate dash_rate;
typedef struct dash_counts dash_counts;
typedef struct dash_ctx dash_ctx;
/** Start sampling the queues of backend (which must outlive it) every
 *  interval_s seconds, the first sample at once. NULL when out of memory
 *  or no thread can be started. */
dash_rate *dash_rate_start(sitq_backend *backend, double interval_s);
/** Stop the sampler, wait for it and free r (NULL: no-op). */
void dash_rate_stop(dash_rate *r);

/* dash_exact.c: exact counts of the queues that reached the count cap,
 * taken one at a time by a thread of their own. */
/** Default of --count-cap: most tasks of one status a page or a scrape
 *  counts (sitq_get_stats_bounded); above it, the background count. */
#define DASH_COUNT_CAP_DEFAULT 100000
/** A queue's next exact count is due this many times its last count's
 *  duration after it, at least DASH_EXACT_MIN_US, at most DASH_EXACT_MAX_US. */
#define DASH_EXACT_FACTOR 20
#define DASH_EXACT_MIN_US 10000000LL
#define DASH_EXACT_MAX_US 1800000000LL
/** An exact count of a queue (sitq_get_stats, then sitq_queue_totals,
 *  which counts too) and when it was taken. */
typedef struct dash_exact_fig {
    sitq_stats st;
    sitq_totals totals;   /**< the counters, read right after st */
    sitq_time_us at_us;   /**< when it ended (UTC) */
    sitq_time_us took_us; /**< how long it took */
} dash_exact_fig;
typedef struct dash_exact dash_exact;
/** Start the counting thread over backend (which must outlive it); NULL
 *  when out of memory or no thread can be started (pages then show the
 *  bounds). */
dash_exact *dash_exact_start(sitq_backend *backend);
/** Stop the thread (after the count it runs, if any), free x (NULL: no-op). */
void dash_exact_stop(dash_exact *x);
/** want 1: queue name reached the cap, keep counting it (the first count
 *  at once); want 0: it did not, stop. Copies its last count into *out and
 *  returns 1 when there is one, else 0. Never waits for a count.
 *  Thread-safe; x NULL: 0. */
int dash_exact_get(dash_exact *x, const char *name, int want, dash_exact_fig *out);
/** The delay after a count that took dur_us before the next one. Pure. */
sitq_time_us dash_exact_interval_us(sitq_time_us dur_us);

/** What the pages show of a queue's counts (dash_counts_queue). */
typedef struct dash_qcounts {
    sitq_stats st;  /**< the figures (total: their sum) */
    unsigned bound; /**< bit 1u << s: count[s] is the cap, a lower bound */
    unsigned exact; /**< bit 1u << s: count[s] is the background's exact count */
    double age_s;   /**< the age of that count, seconds (when exact != 0) */
    int64_t cap;    /**< the cap the counts were read with */
    int paused;
    int has_totals;     /**< totals holds the background's counters */
    sitq_totals totals; /**< (as old as age_s) */
} dash_qcounts;

/* dash_counts.c: the counts of each queue and the /metrics text, read at
 * most once per DASH_COUNTS_TTL_US for all requests (thread-safe). */
/** How long a read of the counts or of /metrics serves later requests, us. */
#define DASH_COUNTS_TTL_US 1000000
/** A new, empty cache; NULL when out of memory (the pages then read each
 *  time). Free with dash_counts_free (NULL: nothing). */
dash_counts *dash_counts_new(void);
void dash_counts_free(dash_counts *k);
/** The counts by status of queue name, each up to c->count_cap, and
 *  whether it is paused: from a read younger than DASH_COUNTS_TTL_US, else
 *  read now (and kept). A status at the cap shows the background's exact
 *  count when it has one (not below the cap), else the cap (a lower
 *  bound); the background is asked for one. Errors: those of
 *  sitq_queue_open, sitq_get_stats_bounded, sitq_queue_paused. */
sitq_code dash_counts_queue(const dash_ctx *c, const char *name, dash_qcounts *out,
                            sitq_error *err);
/** The store's metrics text, malloc'd into *text (*text must be NULL on
 *  entry; free it), from a read younger than DASH_COUNTS_TTL_US or read
 *  now: sitq_metrics_text_from with each queue's counts as
 *  dash_counts_queue gives them, and its counters read now below the cap,
 *  else the background's (left out until it has them). Errors: those of
 *  sitq_metrics_text_from and dash_counts_queue. */
sitq_code dash_counts_metrics(const dash_ctx *c, char **text, size_t *len, sitq_error *err);
/** Forget every read (after an action, so that the next page shows it). */
void dash_counts_forget(dash_counts *k);
/** Copy the samples of queue into *out (zeroed first; r NULL or a queue
 *  not sampled yet: none). Returns 1 when the queue is sampled. Thread-safe. */
int dash_rate_get(dash_rate *r, const char *queue, dash_series *out);

/* dash_chart.c: a series drawn as inline SVG. */
/** Sums over the series' intervals: succeeded, failed (failed and retried
 *  attempts), and the most of either in one interval. */
void dash_series_sums(const dash_series *s, int64_t *ok, int64_t *bad, int64_t *peak);
/** Append the chart of queue's series: an <svg> with a <title> and
 *  aria-label giving the figures, or a note when it has fewer than two
 *  samples. */
void dash_chart(dash_buf *b, const char *queue, const dash_series *s);

/** The server's state, read (never written) by every request thread. */
typedef struct dash_ctx {
    sitq_backend *backend;
    dash_rate *rate;                /**< the throughput history (thread-safe), NULL: none */
    dash_counts *counts;            /**< counts shared for a second (thread-safe), NULL: none */
    dash_exact *exact;              /**< background exact counts (thread-safe), NULL: none */
    struct dash_pace *pace;         /**< request pacing (thread-safe), NULL: none */
    int64_t count_cap;              /**< most tasks of a status a read counts (--count-cap) */
    char token[DASH_TOKEN_MAX + 1]; /**< "" when read-only */
    size_t token_len;
    sitq_task_id scan_ids; /**< ids a list page examines at most (dash_list.c) */
} dash_ctx;

/* dash_pace.c: request pacing (--max-rate). */
/** Default of --max-rate: requests a second the dashboard answers on
 *  average (a burst of a second's worth at once). */
#define DASH_MAX_RATE_DEFAULT 25.0
/** A request whose slot is further away than this is refused (503). */
#define DASH_PACE_WAIT_MAX_US 5000000LL
typedef struct dash_pace dash_pace;
/** A pacer of rate requests a second; NULL when rate <= 0 (no pacing) or
 *  out of memory. Free with dash_pace_free. */
dash_pace *dash_pace_new(double rate);
/** Free p (NULL: no-op); no thread may be in dash_pace_take. */
void dash_pace_free(dash_pace *p);
/** Wait (sleeping) until the calling request's slot: 0 when it may run,
 *  -1 when its slot is more than DASH_PACE_WAIT_MAX_US away (refuse it; no
 *  slot is taken). p NULL: 0 at once. Thread-safe. */
int dash_pace_take(dash_pace *p);
/** The schedule, pure: a request arriving at now_us, with *tat_us the
 *  schedule's state (0 at first), interval_us between slots and burst_us
 *  of allowance ahead of the schedule: the microseconds it must wait
 *  (advancing *tat_us), or -1 when that is more than wait_max_us (*tat_us
 *  unchanged). */
int64_t dash_pace_slot(int64_t *tat_us, int64_t now_us, int64_t interval_us, int64_t burst_us,
                       int64_t wait_max_us);

/** A request's reply: the status, its type and body, and for a redirect
 *  (303) its Location. */
typedef struct dash_reply {
    unsigned status;
    const char *type;
    dash_buf body;
    char location[128];
    int is_api;      /**< errors as JSON rather than HTML */
    int retry_after; /**< seconds for a Retry-After header (503 when paced out), 0: none */
} dash_reply;

/** One query parameter the pages know, as the request gave it (NULL: absent). */
typedef struct dash_query {
    const char *queue, *status, *function, *before, *limit;
    const char *unknown;  /**< the first parameter no page knows */
    const char *repeated; /**< the first known parameter given twice */
    unsigned seen;        /**< bit i: the i-th known parameter was given */
} dash_query;

/* dash_layout.c: the page frame and the built-in style sheet. */
extern const char dash_css[];
void dash_page_begin(dash_buf *b, const char *title);
void dash_page_end(dash_buf *b);
/** Make r an error page (HTML, or JSON for the API) with the message. */
void dash_error(dash_reply *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** The HTTP status for a failed library call (400, 404, 409, 503, 500). */
unsigned dash_status_for(sitq_code code);
/** r as an error for a failed library call, with what failed. */
void dash_api_error(dash_reply *r, const char *what, sitq_code code, const sitq_error *err);

/* dash_read.c: reads shared by pages, API and actions; each replies its
 * own error into r. */
/** The store's queue names into *names (free with sitq_queue_names_free).
 *  Returns 0, or -1 after an error reply. */
int dash_queue_names(const dash_ctx *c, dash_reply *r, char ***names, size_t *n);
/** 1 when name is one of the store's queues, 0 when not, -1 after an
 *  error reply. */
int dash_queue_known(const dash_ctx *c, const char *name, dash_reply *r);
/** The task whose id is id_text: its queue (*q, close with
 *  sitq_queue_close) and the task (*t, free with sitq_result_free) with at
 *  most value_max bytes of its result read (sitq_get_result_prefix), whose
 *  full size goes to *value_size.
 *  Returns 0, or -1 after a 404 (not an id) or an error reply (both NULL). */
int dash_task_read(const dash_ctx *c, const char *id_text, size_t value_max, dash_reply *r,
                   sitq_queue **q, sitq_result **t, size_t *value_size);

/* dash_parse.c: strict parsing of the request's parts. */
/** A task id: 1..19 decimal digits, > 0. Returns 0 or -1. */
int dash_parse_id(const char *text, sitq_task_id *out);
/** The port of --listen when none is written ("[::1]", "::1"). */
#define DASH_PORT_DEFAULT 8080
/** --listen: http_addr_parse with DASH_PORT_DEFAULT ("127.0.0.1:8080",
 *  "[::1]:8080", "[::]", "::1", a bare PORT meaning 127.0.0.1:PORT; port
 *  0..65535 in digits only; 0 picks one) into *out. Returns 0, or -1 with a
 *  message in msg. */
int dash_parse_listen(const char *text, http_addr *out, char *msg, size_t n);
/** 1 when a POST of Content-Type content_type (NULL: none given) carries
 *  an application/x-www-form-urlencoded form (any case, parameters such as
 *  "; charset=UTF-8" allowed), the only encoding dash_form_field reads; 0
 *  otherwise (multipart/form-data, JSON, ...). Pure. */
int dash_form_encoding_ok(const char *content_type);
/** Find field `name` in an application/x-www-form-urlencoded body and
 *  percent-decode it into out (size n). Returns 0, -1 when absent, -2 when
 *  malformed or too long, -3 when the body gives the field more than once. */
int dash_form_field(const char *body, size_t len, const char *name, char *out, size_t n);

/** Decode hex (as dash_hexenc writes, either case) into out (size n).
 *  Returns 0, or -1 when empty, of odd length, not hex, holding a NUL
 *  byte or longer than n - 1 bytes once decoded. */
int dash_hex_decode(const char *hex, char *out, size_t n);

/* dash_pages.c and dash_tasks.c: the pages (GET). */
/** A POST form to /actions/ACTION with the hidden field=value and a token
 *  field; hex set: value is written hex-encoded (dash_hexenc), for a value
 *  of any bytes. */
void dash_action_form(dash_buf *b, const char *action, const char *field, const char *value,
                      int hex);
void dash_page_queues(const dash_ctx *c, dash_reply *r);
void dash_page_workers(const dash_ctx *c, dash_reply *r);
void dash_page_tasks(const dash_ctx *c, const dash_query *q, dash_reply *r);
void dash_page_task(const dash_ctx *c, const char *id_text, dash_reply *r);
void dash_page_metrics(const dash_ctx *c, dash_reply *r);
/** Parse the task list's parameters (queue, status, function, before,
 *  limit) into f; 0, or -1 after a 400 reply, a 404 for a queue the store
 *  does not have, or the error of the read of the queue names. */
int dash_list_filter(const dash_ctx *c, const dash_query *q, sitq_list_filter *f, dash_reply *r);

/* dash_list.c: one page of the task list, shared by /tasks and /api/tasks. */
typedef struct dash_list {
    sitq_list_filter f;  /**< the filter asked for; f.limit is the page size */
    sitq_result **items; /**< the tasks read (n_shown of them are shown) */
    size_t n, n_shown;
    sitq_task_id next_before; /**< `before` of the next page; 0: none */
    int cut;                  /**< 1: the page ended at the scan bound, not full */
    sitq_task_id scan_top;    /**< when not served by an index: the highest id examined */
    sitq_task_id scan_floor;  /**< ... and the lowest, when older ids remain (else 0) */
} dash_list;
/** Read the page that q asks for into l (free it with dash_list_free). A
 *  status without a queue is read queue by queue on its index, merged. A
 *  filter that no index serves (a function; succeeded; a queue without a
 *  status) examines at most c->scan_ids ids below the page's start; when they end before the page is full, the page is
 *  `cut` and next_before continues below them. Returns 0, or -1 after an
 *  error reply (as dash_list_filter, or the list's failure). */
int dash_list_read(const dash_ctx *c, const dash_query *q, dash_list *l, dash_reply *r);
void dash_list_free(dash_list *l);

/* dash_api.c: the JSON twins of the pages (GET /api/...). */
void dash_api_queues(const dash_ctx *c, dash_reply *r);
void dash_api_tasks(const dash_ctx *c, const dash_query *q, dash_reply *r);
void dash_api_task(const dash_ctx *c, const char *id_text, dash_reply *r);
void dash_api_workers(const dash_ctx *c, dash_reply *r);
/** Reply with the JSON of j (taken; NULL: a 500, out of memory). */
void dash_reply_json(dash_reply *r, json_t *j);

/* dash_graph.c: the pipeline around a task (dash_graph.h). */
/** The "Pipeline" section of task id's page: its graph as inline SVG, or
 *  nothing when the task has no dependency and no dependent. */
void dash_graph_section(const dash_ctx *c, sitq_task_id id, dash_buf *b);
/** GET /api/tasks/ID/graph: {"nodes", "edges", "cut", "nodes_max"}. */
void dash_api_graph(const dash_ctx *c, const char *id_text, dash_reply *r);

/* dash_actions.c: POST /actions/NAME with the form body. origin and
 * referer are the request's headers (NULL when absent), host its Host. */
void dash_action(const dash_ctx *c, const char *name, const char *body, size_t len,
                 const char *host, const char *origin, const char *referer, dash_reply *r);
/** 1 when a and b (lengths na, nb) are equal, in time that depends only on
 *  their lengths. */
int dash_token_equal(const char *a, size_t na, const char *b, size_t nb);

/* dash_server.c: the HTTP server. */
typedef struct dash_server dash_server;
/** Listen on addr and serve ctx (which must outlive the server), a thread
 *  per connection. Returns NULL with a message in msg when it cannot listen. */
dash_server *dash_server_start(const http_addr *addr, const dash_ctx *ctx, char *msg, size_t n);
/** The port it listens on (the one chosen when 0 was asked). */
unsigned dash_server_port(const dash_server *s);
/** Stop listening, wait for the requests in progress, free s (NULL: no-op). */
void dash_server_stop(dash_server *s);

#endif
