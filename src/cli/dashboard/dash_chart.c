/*
 * dash_chart.c - a queue's throughput chart, drawn on the server as inline
 * SVG (the dashboard runs no script): succeeded and failed attempts per
 * sampling interval (dash_rate.c), as two lines over the history held, with
 * a text twin (the <title> and aria-label give the figures) for screen
 * readers and text browsers. Only attributes: the Content-Security-Policy
 * allows no inline style. The queue's name is the only stored text, and
 * goes through dash_esc.
 */
#include <inttypes.h>
#include <stdio.h>

#include "dash.h"

#define CHART_W 240
#define CHART_H 48

/* The attempts that succeeded and failed (failed or retried) in interval i
 * (between samples i and i + 1); never negative. */
static void interval(const dash_series *s, size_t i, int64_t *ok, int64_t *bad) {
    const dash_sample *a = &s->s[i], *b = &s->s[i + 1];
    *ok = b->succeeded - a->succeeded;
    *bad = (b->failed - a->failed) + (b->retried - a->retried);
    if (*ok < 0) *ok = 0;
    if (*bad < 0) *bad = 0;
}

/* "90 s" or "12 min" */
static void span_text(char *out, size_t n, double s) {
    if (s < 120) snprintf(out, n, "%.3g s", s);
    else snprintf(out, n, "%.0f min", s / 60);
}

void dash_series_sums(const dash_series *s, int64_t *ok, int64_t *bad, int64_t *peak) {
    *ok = *bad = *peak = 0;
    for (size_t i = 0; i + 1 < s->n; i++) {
        int64_t o, f;
        interval(s, i, &o, &f);
        *ok += o;
        *bad += f;
        if (o > *peak) *peak = o;
        if (f > *peak) *peak = f;
    }
}

/* The figures as one sentence (escaped), for the title and aria-label. */
static void twin_text(dash_buf *b, const char *queue, const dash_series *s) {
    int64_t ok, bad, peak;
    dash_series_sums(s, &ok, &bad, &peak);
    char span[32], step[32];
    double covered = (double)(s->s[s->n - 1].t_us - s->s[0].t_us) / 1e6;
    span_text(span, sizeof span, covered);
    span_text(step, sizeof step, s->interval_s);
    dash_esc(b, queue);
    dash_printf(b, ": %" PRId64 " succeeded, %" PRId64 " failed ", ok, bad);
    if (s->n < DASH_RATE_POINTS) dash_printf(b, "since the dashboard started (%s ago)", span);
    else dash_printf(b, "in the last %s", span);
    dash_printf(b, "; at most %" PRId64 " per %s", peak, step);
}

static void polyline(dash_buf *b, const dash_series *s, int64_t peak, int failed,
                     const char *color) {
    size_t k = s->n - 1;
    dash_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", color);
    for (size_t i = 0; i < k; i++) {
        int64_t o, f;
        interval(s, i, &o, &f);
        double x = k > 1 ? (double)i * (CHART_W - 2) / (double)(k - 1) + 1 : CHART_W / 2.0;
        double y = CHART_H - 2 - (double)(failed ? f : o) * (CHART_H - 4) / (double)peak;
        dash_printf(b, "%s%.1f,%.1f", i ? " " : "", x, y);
    }
    dash_put(b, "\"/>");
}

void dash_chart(dash_buf *b, const char *queue, const dash_series *s) {
    if (s->n < 2) {
        dash_put(b, "<span class=\"muted\">no rate yet: the first after two samples</span>");
        return;
    }
    int64_t ok, bad, peak;
    dash_series_sums(s, &ok, &bad, &peak);
    if (peak < 1) peak = 1;
    dash_printf(b,
                "<svg class=\"rate\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                "role=\"img\" aria-label=\"",
                CHART_W, CHART_H, CHART_W, CHART_H);
    twin_text(b, queue, s);
    dash_put(b, "\"><title>");
    twin_text(b, queue, s);
    dash_printf(b,
                "</title><rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\" "
                "stroke=\"#ddd\"/>",
                CHART_W, CHART_H);
    polyline(b, s, peak, 0, "#1b7f3b");
    polyline(b, s, peak, 1, "#b00020");
    dash_put(b, "</svg>");
}
