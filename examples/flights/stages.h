/*
 * stages.h - the task handlers of the flights pipeline.
 *
 * ETL fan-out / fan-in (one sitq_enqueue_batch):
 *   transform_chunk  x N   payload: chunk header + the chunk's CSV records;
 *                          result: partial aggregate (agg.c wire format)
 *   aggregate_chunks       depends on every transform_chunk; reads their
 *                          results with sitq_get_result and merges them;
 *                          result: the merged aggregate
 *   load_reports           depends on aggregate_chunks; writes by_origin.csv
 *                          and by_day.csv; result: "key=value" lines
 *
 * Dependent chain (each task depends on the previous one):
 *   validate -> clean -> enrich -> aggregate_states
 *   payloads and results are "key=value\n" text; the stages hand data to
 *   each other as CSV files in the output directory (paths in the payload).
 */
#ifndef FLIGHTS_STAGES_H
#define FLIGHTS_STAGES_H

#include <stddef.h>
#include <stdint.h>

#include "flight.h"
#include "sitq.h"

/** Shared by all handlers (user_data); read-only while workers run. */
typedef struct pipeline_ctx {
    sitq_queue *queue; /* to read dependencies' results */
    long fail_chunk;   /* chunk index failing every attempt; -1 none */
    long flaky_chunk;  /* chunk index failing its first attempt; -1 none */
} pipeline_ctx;

/** Register every handler of the pipeline on a worker. */
sitq_code stages_register(sitq_worker *w, pipeline_ctx *ctx, sitq_error *err);

/* ---- transform_chunk payload -------------------------------------------- */

/** Bytes of the binary header in front of a chunk's CSV text. */
#define CHUNK_HEADER_LEN 26

/** Write the header of a chunk payload into hdr. */
void chunk_header_write(unsigned char hdr[CHUNK_HEADER_LEN], uint32_t index, uint64_t first_row,
                        uint32_t n_rows, const flight_cols *cols);

/* ---- key=value text (payloads and results of the chain) --------------- */

/**
 * The value of key in "key=value\n..." text of len bytes, copied into out
 * (outlen bytes). Returns 0, -1 when the key is absent or too long.
 */
int kv_get(const char *text, size_t len, const char *key, char *out, size_t outlen);

/** The integer value of key, or dflt when absent or not a number. */
long long kv_get_ll(const char *text, size_t len, const char *key, long long dflt);

#endif
