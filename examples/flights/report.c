/*
 * report.c - the findings and the timeline printed at the end of a run
 * (see report.h). The findings are read back from the output files rather
 * than from the tasks' results, so the summary shows what was delivered.
 */
#include "report.h"

#include "csv.h"

#include <stdlib.h>
#include <string.h>

#define TOP_N   5
#define BAR_MAX 30

typedef struct row {
    char key[16];   /* origin code, or day (YYYY-MM-DD) */
    long long n;    /* flights */
    double mean;    /* mean departure delay, minutes */
    char name[160]; /* "name, city ST" (airports only) */
} row;

typedef struct rows {
    row *v;
    size_t n, cap;
} rows;

/* Read KEY,flights,mean_delay,... rows of a CSV with a header into *rs.
 * 0, or -1 after printing why. */
static int load_rows(const char *path, rows *rs) {
    char err[512];
    csv_reader *r = csv_open(path, err, sizeof err);
    if (!r) {
        fprintf(stderr, "flights_pipeline: %s\n", err);
        return -1;
    }
    csv_fields f = {0};
    const char *rec;
    size_t len;
    int rc = 0, got;
    while ((got = csv_next(r, &rec, &len)) == 1) {
        if (csv_record_count(r) == 1) continue; /* the header */
        if (csv_split(rec, len, &f) < 3 || f.flen[0] >= sizeof rs->v[0].key) {
            fprintf(stderr, "flights_pipeline: %s: malformed record %lld\n", path,
                    csv_record_count(r));
            rc = -1;
            break;
        }
        if (rs->n == rs->cap) {
            size_t cap = rs->cap ? rs->cap * 2 : 256;
            row *v = realloc(rs->v, cap * sizeof *v);
            if (!v) {
                rc = -1;
                break;
            }
            rs->v = v;
            rs->cap = cap;
        }
        row *o = &rs->v[rs->n++];
        memset(o, 0, sizeof *o);
        memcpy(o->key, f.field[0], f.flen[0] + 1);
        o->n = strtoll(f.field[1], NULL, 10);
        o->mean = strtod(f.field[2], NULL);
    }
    if (got < 0) {
        fprintf(stderr, "flights_pipeline: %s: %s\n", path, csv_reader_error(r));
        rc = -1;
    }
    csv_fields_free(&f);
    csv_close(r);
    return rc;
}

static int by_mean_desc(const void *a, const void *b) {
    const row *x = a, *y = b;
    return (x->mean < y->mean) - (x->mean > y->mean);
}

static int by_count(const void *a, const void *b) {
    const row *x = a, *y = b;
    return (x->n > y->n) - (x->n < y->n);
}

/* Name the top airports from the airports CSV (iata,name,city,state,...);
 * an airport it lacks keeps an empty name. */
static void name_airports(const char *airports, row *top, size_t n) {
    char err[512];
    csv_reader *r = csv_open(airports, err, sizeof err);
    if (!r) return;
    csv_fields f = {0};
    const char *rec;
    size_t len;
    while (csv_next(r, &rec, &len) == 1) {
        if (csv_split(rec, len, &f) < 4) continue;
        for (size_t i = 0; i < n; i++)
            if (strcmp(top[i].key, f.field[0]) == 0)
                snprintf(top[i].name, sizeof top[i].name, "%s, %s %s", f.field[1], f.field[2],
                         f.field[3]);
    }
    csv_fields_free(&f);
    csv_close(r);
}

static void print_worst_airports(FILE *out, rows *orig, const char *airports) {
    size_t k = 0;
    for (size_t i = 0; i < orig->n; i++) /* keep the airports with enough flights */
        if (orig->v[i].n >= REPORT_MIN_FLIGHTS) orig->v[k++] = orig->v[i];
    if (k) qsort(orig->v, k, sizeof *orig->v, by_mean_desc);
    size_t top = k < TOP_N ? k : TOP_N;
    name_airports(airports, orig->v, top);
    fprintf(out, "  worst mean departure delay (of %zu airports with >= %d flights):\n", k,
            REPORT_MIN_FLIGHTS);
    for (size_t i = 0; i < top; i++) {
        const row *a = &orig->v[i];
        fprintf(out, "    %zu. %-4s %6.1f min  %6lld flights  %s\n", i + 1, a->key, a->mean, a->n,
                a->name);
    }
}

static void print_days(FILE *out, const rows *days) {
    if (days->n == 0) return;
    row *sorted = malloc(days->n * sizeof *sorted);
    long long median = days->v[0].n;
    if (sorted) {
        memcpy(sorted, days->v, days->n * sizeof *sorted);
        qsort(sorted, days->n, sizeof *sorted, by_count);
        median = sorted[days->n / 2].n;
        free(sorted);
    }
    /* A day with under half the median day's flights is partial (the data
     * ends in it): it is marked, and left out of the worst and best. */
    double top = 0;
    size_t worst = days->n, best = days->n;
    for (size_t i = 0; i < days->n; i++) {
        const row *d = &days->v[i];
        if (d->mean > top) top = d->mean;
        if (2 * d->n < median) continue;
        if (worst == days->n || d->mean > days->v[worst].mean) worst = i;
        if (best == days->n || d->mean < days->v[best].mean) best = i;
    }
    fprintf(out, "  per day (mean departure delay):\n");
    for (size_t i = 0; i < days->n; i++) {
        const row *d = &days->v[i];
        int bar = top > 0 && d->mean > 0 ? (int)(d->mean / top * BAR_MAX + 0.5) : 0;
        char line[160];
        int len = snprintf(line, sizeof line, "    %-10s %6lld flights %6.1f min %-8s %.*s", d->key,
                           d->n, d->mean, 2 * d->n < median ? "partial" : "", bar,
                           "##############################");
        while (len > 0 && line[len - 1] == ' ') line[--len] = '\0';
        fprintf(out, "%s\n", line);
    }
    if (worst < days->n)
        fprintf(out, "  worst day %s (%.1f min), best day %s (%.1f min)\n", days->v[worst].key,
                days->v[worst].mean, days->v[best].key, days->v[best].mean);
}

int report_findings(FILE *out, const char *out_dir, const char *airports) {
    char path[4300];
    rows orig = {0}, days = {0};
    int rc = -1;
    snprintf(path, sizeof path, "%s/by_origin.csv", out_dir);
    if (load_rows(path, &orig) == 0) {
        snprintf(path, sizeof path, "%s/by_day.csv", out_dir);
        if (load_rows(path, &days) == 0) {
            fprintf(out, "\nwhat the data says\n");
            print_worst_airports(out, &orig, airports);
            print_days(out, &days);
            rc = 0;
        }
    }
    free(orig.v);
    free(days.v);
    return rc;
}

/* ---- timeline ------------------------------------------------------------ */

#define MAX_LANES 64

typedef struct lane {
    char id[128];
    char cells[256];
    int tasks;
} lane;

typedef struct span {
    sitq_time_us start, end;
    char worker[128];
} span;

static lane *find_lane(lane *lanes, int *n, const char *id, int width) {
    for (int i = 0; i < *n; i++)
        if (strcmp(lanes[i].id, id) == 0) return &lanes[i];
    if (*n == MAX_LANES) return NULL;
    lane *l = &lanes[(*n)++];
    snprintf(l->id, sizeof l->id, "%s", id);
    memset(l->cells, ' ', (size_t)width);
    l->cells[width] = '\0';
    l->tasks = 0;
    return l;
}

static int lane_cmp(const void *a, const void *b) {
    return strcmp(((const lane *)a)->id, ((const lane *)b)->id);
}

/* The chunks' recorded spans; t0 and t1 get the first start and last end. */
static size_t read_spans(sitq_queue *q, const sitq_task_id *ids, size_t n, span *out,
                         sitq_time_us *t0, sitq_time_us *t1) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        sitq_result *r = NULL;
        if (sitq_get_result(q, ids[i], &r, NULL) != SITQ_OK) continue;
        if (r->started_at_us && r->finished_at_us >= r->started_at_us && r->worker_id) {
            out[k].start = r->started_at_us;
            out[k].end = r->finished_at_us;
            snprintf(out[k].worker, sizeof out[k].worker, "%s", r->worker_id);
            if (!k || out[k].start < *t0) *t0 = out[k].start;
            if (!k || out[k].end > *t1) *t1 = out[k].end;
            k++;
        }
        sitq_result_free(r);
    }
    return k;
}

void report_timeline(FILE *out, sitq_queue *q, const sitq_task_id *ids, size_t n, int width) {
    if (width < 10) width = 10;
    if (width > 255) width = 255;
    span *spans = n ? malloc(n * sizeof *spans) : NULL;
    lane *lanes = calloc(MAX_LANES, sizeof *lanes);
    sitq_time_us t0 = 0, t1 = 0;
    size_t k = spans && lanes ? read_spans(q, ids, n, spans, &t0, &t1) : 0;
    if (k) {
        double total = (double)(t1 > t0 ? t1 - t0 : 1);
        int nl = 0;
        for (size_t i = 0; i < k; i++) {
            lane *l = find_lane(lanes, &nl, spans[i].worker, width);
            if (!l) continue;
            int a = (int)((double)(spans[i].start - t0) / total * width);
            int b = (int)((double)(spans[i].end - t0) / total * width);
            if (a >= width) a = width - 1;
            if (b <= a) b = a + 1;
            if (b > width) b = width;
            for (int c = a; c < b; c++) l->cells[c] = '#';
            l->tasks++;
        }
        qsort(lanes, (size_t)nl, sizeof *lanes, lane_cmp);
        fprintf(out,
                "\nchunk tasks per worker (# = running), %.3f s from the first start to the "
                "last end\n",
                total / 1e6);
        for (int i = 0; i < nl; i++)
            fprintf(out, "  %-12s |%s| %d chunks\n", lanes[i].id, lanes[i].cells, lanes[i].tasks);
    }
    free(spans);
    free(lanes);
}
