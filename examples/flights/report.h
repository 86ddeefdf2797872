/*
 * report.h - what a finished flights pipeline tells its user: the data's
 * findings, read back from the CSV files the load task wrote (so that what
 * is printed is what was delivered), and a per-worker timeline of the chunk
 * tasks, drawn from the start and finish times the queue recorded.
 */
#ifndef FLIGHTS_REPORT_H
#define FLIGHTS_REPORT_H

#include "sitq.h"

#include <stddef.h>
#include <stdio.h>

/** Airports with fewer flights than this are left out of the worst-delay
 *  ranking: a mean over a handful of flights says little. */
#define REPORT_MIN_FLIGHTS 1000

/**
 * Print the findings: the five airports (REPORT_MIN_FLIGHTS flights or more)
 * with the worst mean departure delay, named from the airports CSV, and a
 * per-day table of flights and mean delay, with the worst and best day and
 * days with under half the median count of flights marked partial.
 * out_dir holds by_origin.csv and by_day.csv; airports is the airports CSV
 * (plain or gzip). Returns 0, or -1 after printing why to stderr (a file
 * missing or malformed); nothing is printed to out then.
 */
int report_findings(FILE *out, const char *out_dir, const char *airports);

/**
 * Print one line per worker: where on a common time axis (width columns,
 * from the first chunk's start to the last one's end) its chunk tasks ran,
 * and how many it ran. ids are the chunk tasks (n of them), read through q.
 * Tasks that never started are left out. Never fails: a task whose result
 * cannot be read is skipped.
 */
void report_timeline(FILE *out, sitq_queue *q, const sitq_task_id *ids, size_t n, int width);

#endif
