/*
 * stages.c - task handlers of the flights pipeline (see stages.h).
 *
 * Every handler is idempotent, as sitq's at-least-once delivery requires:
 * it reads only its payload, its input files and its dependencies' results,
 * and writes each output file under a temporary name that it renames into
 * place when complete, so a repeated attempt overwrites rather than appends.
 */
#include "stages.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "csv.h"
#include "flight.h"

/* ---- small helpers ---------------------------------------------------- */

/* Set the attempt's error message (printf-style). */
__attribute__((format(printf, 2, 3))) static void set_error(sitq_task_ctx *ctx, const char *fmt,
                                                            ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sitq_ctx_set_error(ctx, msg, NULL);
}

/* Set the attempt's error and evaluate to 1, the handlers' failure. (A
 * macro, so that the value is seen where it is used: static analysis does
 * not follow variadic calls.) */
#define fail(ctx, ...) (set_error((ctx), __VA_ARGS__), 1)

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Payload header: "FCH1", index u32, first_row u64, n_rows u32, nfields u8,
 * the five column indexes u8; little-endian. */
void chunk_header_write(unsigned char hdr[CHUNK_HEADER_LEN], uint32_t index, uint64_t first_row,
                        uint32_t n_rows, const flight_cols *cols) {
    memcpy(hdr, "FCH1", 4);
    put_u32(hdr + 4, index);
    put_u64(hdr + 8, first_row);
    put_u32(hdr + 16, n_rows);
    hdr[20] = cols->nfields;
    memcpy(hdr + 21, cols->idx, COL_COUNT);
}

int kv_get(const char *text, size_t len, const char *key, char *out, size_t outlen) {
    size_t klen = strlen(key);
    size_t pos = 0;
    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t llen = nl ? (size_t)(nl - line) : len - pos;
        if (llen > klen && line[klen] == '=' && memcmp(line, key, klen) == 0) {
            size_t vlen = llen - klen - 1;
            if (vlen + 1 > outlen) return -1;
            memcpy(out, line + klen + 1, vlen);
            out[vlen] = '\0';
            return 0;
        }
        pos += llen + 1;
    }
    return -1;
}

long long kv_get_ll(const char *text, size_t len, const char *key, long long dflt) {
    char buf[64];
    if (kv_get(text, len, key, buf, sizeof buf) != 0) return dflt;
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || end == buf || *end) return dflt;
    return v;
}

/* Output file written under "<path>.tmp-<task id>-<attempt>", renamed when
 * complete. */
typedef struct outfile {
    FILE *f;
    char path[4096];
    char tmp[4200];
} outfile;

static int out_open(outfile *o, const char *path, sitq_task_ctx *ctx) {
    if (snprintf(o->path, sizeof o->path, "%s", path) >= (int)sizeof o->path)
        return fail(ctx, "output path too long: %s", path);
    /* Unique per attempt: a stale attempt whose lease was lost may still be
     * writing while its successor runs. */
    snprintf(o->tmp, sizeof o->tmp, "%s.tmp-%lld-%d", path, (long long)sitq_ctx_task_id(ctx),
             (int)sitq_ctx_attempt(ctx));
    o->f = fopen(o->tmp, "wb");
    if (!o->f) return fail(ctx, "cannot create '%s': %s", o->tmp, strerror(errno));
    return 0;
}

static int out_commit(outfile *o, sitq_task_ctx *ctx) {
    int bad = ferror(o->f);
    if (fclose(o->f) != 0) bad = 1;
    o->f = NULL;
    if (bad) {
        remove(o->tmp);
        return fail(ctx, "error writing '%s' (disk full?)", o->tmp);
    }
    if (rename(o->tmp, o->path) != 0) {
        int e = errno;
        remove(o->tmp);
        return fail(ctx, "cannot rename '%s' to '%s': %s", o->tmp, o->path, strerror(e));
    }
    return 0;
}

static void out_abort(outfile *o) {
    if (o->f) {
        fclose(o->f);
        o->f = NULL;
        remove(o->tmp);
    }
}

static int result_text(sitq_task_ctx *ctx, const char *text) {
    return sitq_ctx_set_result(ctx, text, strlen(text)) == SITQ_OK
               ? 0
               : fail(ctx, "out of memory setting the result");
}

#define CANCEL_CHECK_ROWS 4096

/* 1 when rows is a multiple of CANCEL_CHECK_ROWS and the task was cancelled. */
static int cancel_due(sitq_task_ctx *ctx, long long rows) {
    return rows % CANCEL_CHECK_ROWS == 0 && sitq_ctx_cancelled(ctx);
}

/* fail(ctx, "<stage>: cancelled") when cancel_due, else 0. */
static int check_cancel(sitq_task_ctx *ctx, const char *stage, long long rows) {
    return cancel_due(ctx, rows) ? fail(ctx, "%s: cancelled", stage) : 0;
}

/*
 * End a stage's row loop: report a read error of r (got < 0), commit o (when
 * not NULL) if all went well, then release o, f and r. Returns the final rc.
 */
static int rows_done(sitq_task_ctx *ctx, const char *stage, int rc, int got, const char *in,
                     csv_reader *r, csv_fields *f, outfile *o) {
    if (rc == 0 && got < 0) rc = fail(ctx, "%s: %s: %s", stage, in, csv_reader_error(r));
    if (o) {
        if (rc == 0) rc = out_commit(o, ctx);
        out_abort(o);
    }
    csv_fields_free(f);
    csv_close(r);
    return rc;
}

/* Size of the input/output path buffers of the chain stages. */
#define STAGE_PATH 4096

/* Read input= and output= of a chain payload (STAGE_PATH bytes each) or fail. */
static int stage_paths(sitq_task_ctx *ctx, const char *stage, const void *payload, size_t len,
                       char *in, char *outp) {
    if (kv_get(payload, len, "input", in, STAGE_PATH) != 0 ||
        kv_get(payload, len, "output", outp, STAGE_PATH) != 0)
        return fail(ctx, "%s: payload needs input= and output=", stage);
    return 0;
}

/* Open the CSV file in into *r, or fail with "<stage>: <reason>". */
static int stage_open(sitq_task_ctx *ctx, const char *stage, const char *in, csv_reader **r) {
    char msg[600];
    *r = csv_open(in, msg, sizeof msg);
    if (!*r) return fail(ctx, "%s: %s", stage, msg);
    return 0;
}

/* result_text of a printf-formatted "key=value\n..." text (under 256 bytes). */
__attribute__((format(printf, 2, 3))) static int result_printf(sitq_task_ctx *ctx, const char *fmt,
                                                               ...) {
    char res[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res, sizeof res, fmt, ap);
    va_end(ap);
    return result_text(ctx, res);
}

/* ---- ETL: transform_chunk --------------------------------------------- */

static int h_transform_chunk(sitq_task_ctx *ctx, const void *payload, size_t len, void *ud) {
    const pipeline_ctx *pc = ud;
    const unsigned char *p = payload;
    if (len < CHUNK_HEADER_LEN || memcmp(p, "FCH1", 4) != 0)
        return fail(ctx, "transform_chunk: malformed payload (%zu bytes)", len);
    uint32_t index = get_u32(p + 4);
    uint64_t first_row = get_u64(p + 8);
    uint32_t n_rows = get_u32(p + 16);
    flight_cols cols;
    cols.nfields = p[20];
    memcpy(cols.idx, p + 21, COL_COUNT);
    for (int c = 0; c < COL_COUNT; c++)
        if (cols.idx[c] >= cols.nfields)
            return fail(ctx, "transform_chunk %u: bad column layout in payload", index);

    if (pc->fail_chunk >= 0 && (long)index == pc->fail_chunk)
        return fail(ctx, "chunk %u (rows %llu..%llu): injected failure (--fail-chunk)", index,
                    (unsigned long long)first_row, (unsigned long long)(first_row + n_rows - 1));
    if (pc->flaky_chunk >= 0 && (long)index == pc->flaky_chunk && sitq_ctx_attempt(ctx) == 1)
        return fail(ctx, "chunk %u: injected transient failure on attempt 1 (--flaky-chunk)",
                    index);

    const char *text = (const char *)p + CHUNK_HEADER_LEN;
    size_t tlen = len - CHUNK_HEADER_LEN;
    flight_agg a;
    flight_agg_init(&a);
    csv_fields f = {0};
    size_t pos = 0;
    uint32_t seen = 0;
    int rc = 0;
    while (pos < tlen) {
        size_t start = pos;
        size_t rlen = csv_scan_record(text + start, tlen - start, NULL);
        pos = start + rlen + 1; /* past the '\n' */
        seen++;
        a.rows++;
        flight_row row;
        if (flight_parse(text + start, rlen, &cols, &f, &row) != 0) {
            a.bad++;
            continue;
        }
        agg_stat *so = agg_map_get(&a.by_origin, row.origin, strlen(row.origin));
        agg_stat *sd = agg_map_get(&a.by_day, row.day, 10);
        if (!so || !sd) {
            rc = fail(ctx, "chunk %u: out of memory", index);
            break;
        }
        agg_stat_add(so, row.delay);
        agg_stat_add(sd, row.delay);
        if (cancel_due(ctx, seen)) {
            rc = fail(ctx, "chunk %u: cancelled (timeout, cancel or lost lease)", index);
            break;
        }
    }
    csv_fields_free(&f);
    if (rc == 0 && seen != n_rows)
        rc = fail(ctx, "chunk %u: header says %u rows but the payload holds %u", index, n_rows,
                  seen);
    if (rc == 0) {
        unsigned char *bytes;
        size_t nbytes;
        if (flight_agg_encode(&a, &bytes, &nbytes) != 0)
            rc = fail(ctx, "chunk %u: out of memory encoding the result", index);
        else sitq_ctx_take_result(ctx, bytes, nbytes);
    }
    flight_agg_free(&a);
    return rc;
}

/* Load the task's own record (for its dependency list). */
static int load_self(sitq_task_ctx *ctx, const pipeline_ctx *pc, sitq_result **self) {
    sitq_error e;
    if (sitq_get_result(pc->queue, sitq_ctx_task_id(ctx), self, &e) != SITQ_OK)
        return fail(ctx, "%s: cannot read own task %lld: %s", sitq_ctx_function(ctx),
                    (long long)sitq_ctx_task_id(ctx), e.message);
    return 0;
}

/* Decode the result of dependency dep into a; merge it into total. */
static int merge_dependency(sitq_task_ctx *ctx, const pipeline_ctx *pc, sitq_task_id dep,
                            flight_agg *total) {
    sitq_result *r = NULL;
    sitq_error e;
    if (sitq_get_result(pc->queue, dep, &r, &e) != SITQ_OK)
        return fail(ctx, "cannot read the result of task %lld: %s", (long long)dep, e.message);
    int rc = 0;
    flight_agg part;
    if (r->status != SITQ_SUCCEEDED)
        rc = fail(ctx, "dependency %lld (%s) is %s, not succeeded", (long long)dep,
                  r->function ? r->function : "?", sitq_status_name(r->status));
    else if (flight_agg_decode(r->value, r->value_len, &part) != 0)
        rc = fail(ctx, "task %lld (%s): result of %zu bytes is not a partial aggregate",
                  (long long)dep, r->function ? r->function : "?", r->value_len);
    else {
        if (flight_agg_merge(total, &part) != 0)
            rc = fail(ctx, "out of memory merging task %lld", (long long)dep);
        flight_agg_free(&part);
    }
    sitq_result_free(r);
    return rc;
}

/* ---- ETL: aggregate_chunks -------------------------------------------- */

static int h_aggregate_chunks(sitq_task_ctx *ctx, const void *payload, size_t len, void *ud) {
    (void)payload;
    (void)len;
    const pipeline_ctx *pc = ud;
    sitq_result *self = NULL;
    if (load_self(ctx, pc, &self) != 0) return 1;
    int rc = 0;
    flight_agg total;
    flight_agg_init(&total);
    if (self->n_depends_on == 0)
        rc = fail(ctx, "aggregate_chunks: the task has no dependencies to merge");
    for (size_t i = 0; rc == 0 && i < self->n_depends_on; i++)
        rc = merge_dependency(ctx, pc, self->depends_on[i], &total);
    if (rc == 0) {
        unsigned char *bytes;
        size_t nbytes;
        if (flight_agg_encode(&total, &bytes, &nbytes) != 0)
            rc = fail(ctx, "out of memory encoding the merged aggregate");
        else sitq_ctx_take_result(ctx, bytes, nbytes);
    }
    flight_agg_free(&total);
    sitq_result_free(self);
    return rc;
}

/* ---- ETL: load_reports ------------------------------------------------ */

/* out_open "<dir>/<name>" and write the CSV header line there. */
static int out_open_report(outfile *o, const char *dir, const char *name, const char *header,
                           sitq_task_ctx *ctx) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = out_open(o, path, ctx);
    if (rc == 0) fputs(header, o->f);
    return rc;
}

static double mean(const agg_stat *s) { return s->count ? (double)s->sum / (double)s->count : 0.0; }

static int h_load_reports(sitq_task_ctx *ctx, const void *payload, size_t len, void *ud) {
    const pipeline_ctx *pc = ud;
    char dir[4096];
    if (kv_get(payload, len, "out_dir", dir, sizeof dir) != 0)
        return fail(ctx, "load_reports: payload lacks out_dir");
    sitq_result *self = NULL;
    if (load_self(ctx, pc, &self) != 0) return 1;
    int rc = 0;
    flight_agg total;
    flight_agg_init(&total);
    if (self->n_depends_on != 1)
        rc = fail(ctx, "load_reports: expected 1 dependency, found %zu", self->n_depends_on);
    else rc = merge_dependency(ctx, pc, self->depends_on[0], &total);
    sitq_result_free(self);

    agg_entry **origins = NULL, **days = NULL;
    if (rc == 0) {
        origins = agg_map_sorted(&total.by_origin);
        days = agg_map_sorted(&total.by_day);
        if (!origins || !days) rc = fail(ctx, "out of memory sorting the aggregates");
    }
    outfile o = {0};
    if (rc == 0)
        rc = out_open_report(&o, dir, "by_origin.csv",
                             "origin,flights,mean_delay,min_delay,max_delay\n", ctx);
    if (rc == 0) {
        for (size_t i = 0; i < total.by_origin.size; i++) {
            const agg_entry *e = origins[i];
            csv_write_field(o.f, e->key);
            fprintf(o.f, ",%lld,%.6f,%d,%d\n", (long long)e->stat.count, mean(&e->stat),
                    e->stat.min, e->stat.max);
        }
        rc = out_commit(&o, ctx);
    }
    if (rc == 0) rc = out_open_report(&o, dir, "by_day.csv", "day,flights,mean_delay\n", ctx);
    if (rc == 0) {
        for (size_t i = 0; i < total.by_day.size; i++) {
            const agg_entry *e = days[i];
            fprintf(o.f, "%s,%lld,%.6f\n", e->key, (long long)e->stat.count, mean(&e->stat));
        }
        rc = out_commit(&o, ctx);
    }
    if (rc == 0)
        rc = result_printf(ctx, "rows=%lld\nbad=%lld\norigins=%zu\ndays=%zu\n",
                           (long long)total.rows, (long long)total.bad, total.by_origin.size,
                           total.by_day.size);
    out_abort(&o);
    free(origins);
    free(days);
    flight_agg_free(&total);
    return rc;
}

/* ---- chain: validate -------------------------------------------------- */

static int h_validate(sitq_task_ctx *ctx, const void *payload, size_t len, void *ud) {
    (void)ud;
    char in[STAGE_PATH], outp[STAGE_PATH], msg[600];
    csv_reader *r = NULL;
    if (stage_paths(ctx, "validate", payload, len, in, outp) != 0 ||
        stage_open(ctx, "validate", in, &r) != 0)
        return 1;
    const char *rec;
    size_t rlen;
    flight_cols cols;
    int rc = 0;
    int got = csv_next(r, &rec, &rlen);
    if (got < 0) rc = fail(ctx, "validate: %s: %s", in, csv_reader_error(r));
    else if (got == 0) rc = fail(ctx, "validate: %s is empty (no header)", in);
    else if (flight_header(rec, rlen, &cols, msg, sizeof msg) != 0)
        rc = fail(ctx, "validate: %s: %s", in, msg);
    outfile o = {0};
    if (rc == 0) rc = out_open(&o, outp, ctx);
    long long rows = 0, bad = 0, first_bad = 0;
    csv_fields f = {0};
    if (rc == 0) {
        fputs("date,delay,distance,origin,destination\n", o.f);
        while ((got = csv_next(r, &rec, &rlen)) == 1) {
            rows++;
            flight_row row;
            if (flight_parse(rec, rlen, &cols, &f, &row) != 0) {
                if (!bad) first_bad = csv_record_count(r);
                bad++;
                continue;
            }
            fprintf(o.f, "%s,%d,%d,%s,%s\n", row.date, row.delay, row.distance, row.origin,
                    row.dest);
            if ((rc = check_cancel(ctx, "validate", rows)) != 0) break;
        }
    }
    rc = rows_done(ctx, "validate", rc, got, in, r, &f, &o);
    if (rc == 0)
        rc = result_printf(ctx, "rows=%lld\nbad=%lld\nvalid=%lld\nfirst_bad_record=%lld\n", rows,
                           bad, rows - bad, first_bad);
    return rc;
}

/* ---- chain: clean ----------------------------------------------------- */

/*
 * Exact-duplicate detection over a file of canonical rows without keeping
 * the rows in memory: a hash set of (64-bit hash, offset<<16 | length);
 * when hashes match, the earlier row is read back from the file and
 * compared byte for byte.
 */
typedef struct dedup_slot {
    uint64_t hash;
    uint64_t off_len; /* 0: empty (data rows never start at offset 0) */
} dedup_slot;

typedef struct dedup_set {
    dedup_slot *slots;
    size_t cap, size;
    FILE *file; /* second handle on the input, for comparisons */
    char *cmp;
    size_t cmp_cap;
} dedup_set;

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

static int dedup_grow(dedup_set *d) {
    size_t ncap = d->cap ? d->cap * 2 : 1 << 16;
    dedup_slot *ns = calloc(ncap, sizeof *ns);
    if (!ns) return -1;
    for (size_t i = 0; i < d->cap; i++) {
        if (!d->slots[i].off_len) continue;
        size_t j = d->slots[i].hash & (ncap - 1);
        while (ns[j].off_len) j = (j + 1) & (ncap - 1);
        ns[j] = d->slots[i];
    }
    free(d->slots);
    d->slots = ns;
    d->cap = ncap;
    return 0;
}

/* 1: rec seen before; 0: new (inserted); -1: error. */
static int dedup_check(dedup_set *d, const char *rec, size_t len, uint64_t off) {
    if (len >= 1 << 16 || off >= (1ULL << 47)) return -1;
    if ((d->size + 1) * 4 > d->cap * 3 && dedup_grow(d) != 0) return -1;
    uint64_t h = hash_bytes(rec, len);
    size_t j = h & (d->cap - 1);
    while (d->slots[j].off_len) {
        dedup_slot *s = &d->slots[j];
        if (s->hash == h && (s->off_len & 0xffff) == len) {
            if (len > d->cmp_cap) {
                char *nc = realloc(d->cmp, len);
                if (!nc) return -1;
                d->cmp = nc;
                d->cmp_cap = len;
            }
            if (fseeko(d->file, (off_t)(s->off_len >> 16), SEEK_SET) != 0 ||
                fread(d->cmp, 1, len, d->file) != len)
                return -1;
            if (memcmp(d->cmp, rec, len) == 0) return 1;
        }
        j = (j + 1) & (d->cap - 1);
    }
    d->slots[j].hash = h;
    d->slots[j].off_len = (off << 16) | len;
    d->size++;
    return 0;
}

static int h_clean(sitq_task_ctx *ctx, const void *payload, size_t len, void *ud) {
    (void)ud;
    char in[STAGE_PATH], outp[STAGE_PATH];
    if (stage_paths(ctx, "clean", payload, len, in, outp) != 0) return 1;
    long long limit = kv_get_ll(payload, len, "outlier_minutes", -1);
    if (limit < 0) return fail(ctx, "clean: payload needs outlier_minutes=N (N >= 0)");
    csv_reader *r = NULL;
    if (stage_open(ctx, "clean", in, &r) != 0) return 1;
    dedup_set d = {0};
    d.file = fopen(in, "rb");
    int rc = 0;
    if (!d.file) rc = fail(ctx, "clean: cannot open '%s': %s", in, strerror(errno));
    const char *rec;
    size_t rlen;
    uint64_t off = 0;
    int got = 0;
    if (rc == 0) {
        got = csv_next(r, &rec, &rlen); /* header written by validate */
        if (got != 1) rc = fail(ctx, "clean: %s has no header", in);
        off = rlen + 1;
    }
    outfile o = {0};
    if (rc == 0) rc = out_open(&o, outp, ctx);
    long long rows = 0, dups = 0, outliers = 0;
    flight_cols cols = {{0, 1, 2, 3, 4}, 5};
    csv_fields f = {0};
    if (rc == 0) {
        fputs("date,delay,distance,origin,destination,outlier\n", o.f);
        while ((got = csv_next(r, &rec, &rlen)) == 1) {
            rows++;
            uint64_t this_off = off;
            off += rlen + 1;
            int seen = dedup_check(&d, rec, rlen, this_off);
            if (seen < 0) {
                rc = fail(ctx, "clean: duplicate check failed at row %lld (memory or I/O)", rows);
                break;
            }
            if (seen) {
                dups++;
                continue;
            }
            flight_row row;
            if (flight_parse(rec, rlen, &cols, &f, &row) != 0) {
                rc = fail(ctx, "clean: row %lld of %s is not a validated row", rows, in);
                break;
            }
            int outlier = row.delay > limit || row.delay < -limit;
            outliers += outlier;
            fwrite(rec, 1, rlen, o.f);
            fputs(outlier ? ",1\n" : ",0\n", o.f);
            if ((rc = check_cancel(ctx, "clean", rows)) != 0) break;
        }
    }
    rc = rows_done(ctx, "clean", rc, got, in, r, &f, &o);
    if (d.file) fclose(d.file);
    free(d.slots);
    free(d.cmp);
    if (rc == 0)
        rc = result_printf(ctx,
                           "rows_in=%lld\nduplicates=%lld\noutliers=%lld\nrows_out=%lld\n"
                           "outlier_minutes=%lld\n",
                           rows, dups, outliers, rows - dups, limit);
    return rc;
}

/* ---- chain: enrich ---------------------------------------------------- */

typedef struct airport_table {
    agg_map index; /* code -> stat.count = 1 + position in city/state */
    char **city;
    char **state;
    size_t n, cap;
} airport_table;

static void airports_free(airport_table *t) {
    for (size_t i = 0; i < t->n; i++) {
        free(t->city[i]);
        free(t->state[i]);
    }
    free(t->city);
    free(t->state);
    agg_map_free(&t->index);
}

static long find_col(const csv_fields *f, const char *name) {
    for (size_t k = 0; k < f->n; k++)
        if (strcmp(f->field[k], name) == 0) return (long)k;
    return -1;
}

static int airports_load(airport_table *t, const char *path, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    agg_map_init(&t->index);
    char msg[600];
    csv_reader *r = csv_open(path, msg, sizeof msg);
    if (!r) {
        snprintf(err, errlen, "%s", msg);
        return -1;
    }
    csv_fields f = {0};
    const char *rec;
    size_t rlen;
    int rc = 0, got = csv_next(r, &rec, &rlen);
    long ci = -1, cc = -1, cs = -1;
    long nf = got == 1 ? csv_split(rec, rlen, &f) : -1;
    if (nf > 0) {
        ci = find_col(&f, "iata");
        cc = find_col(&f, "city");
        cs = find_col(&f, "state");
    }
    if (ci < 0 || cc < 0 || cs < 0) {
        snprintf(err, errlen, "%s: header needs columns iata, city and state", path);
        rc = -1;
    }
    while (rc == 0 && (got = csv_next(r, &rec, &rlen)) == 1) {
        if (csv_split(rec, rlen, &f) != nf) {
            snprintf(err, errlen, "%s: record %lld is malformed or has %zu fields, not %ld", path,
                     csv_record_count(r), f.n, nf);
            rc = -1;
            break;
        }
        if (t->n == t->cap) {
            size_t ncap = t->cap ? t->cap * 2 : 1024;
            char **nc = realloc(t->city, ncap * sizeof *nc);
            char **ns = nc ? realloc(t->state, ncap * sizeof *ns) : NULL;
            if (nc) t->city = nc;
            if (!nc || !ns) {
                snprintf(err, errlen, "out of memory");
                rc = -1;
                break;
            }
            t->state = ns;
            t->cap = ncap;
        }
        agg_stat *s = agg_map_get(&t->index, f.field[ci], f.flen[ci]);
        char *city = strdup(f.field[cc]), *state = strdup(f.field[cs]);
        if (!s || !city || !state) {
            free(city);
            free(state);
            snprintf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
        if (s->count) { /* duplicate code: keep the first */
            free(city);
            free(state);
            continue;
        }
        t->city[t->n] = city;
        t->state[t->n] = state;
        s->count = (int64_t)++t->n;
    }
    if (rc == 0 && got < 0) {
        snprintf(err, errlen, "%s: %s", path, csv_reader_error(r));
        rc = -1;
    }
    csv_fields_free(&f);
    csv_close(r);
    if (rc != 0) airports_free(t);
    return rc;
}

/* Position of code in the table, or -1. */
static long airport_find(airport_table *t, const char *code) {
    agg_stat *s = agg_map_get(&t->index, code, strlen(code));
    if (!s || !s->count) return -1; /* an empty entry now marks the code unknown: fine */
    return (long)s->count - 1;
}

static int h_enrich(sitq_task_ctx *ctx, const void *payload, size_t len, void *ud) {
    (void)ud;
    char in[4096], outp[4096], ap[4096], msg[8400];
    if (kv_get(payload, len, "input", in, sizeof in) != 0 ||
        kv_get(payload, len, "output", outp, sizeof outp) != 0 ||
        kv_get(payload, len, "airports", ap, sizeof ap) != 0)
        return fail(ctx, "enrich: payload needs input=, airports= and output=");
    airport_table t;
    if (airports_load(&t, ap, msg, sizeof msg) != 0) return fail(ctx, "enrich: airports: %s", msg);
    size_t n_airports = t.n;
    csv_reader *r = csv_open(in, msg, sizeof msg);
    if (!r) {
        airports_free(&t);
        return fail(ctx, "enrich: %s", msg);
    }
    int rc = 0;
    const char *rec;
    size_t rlen;
    int got = csv_next(r, &rec, &rlen);
    if (got != 1) rc = fail(ctx, "enrich: %s has no header", in);
    outfile o = {0};
    if (rc == 0) rc = out_open(&o, outp, ctx);
    long long rows = 0, un_origin = 0, un_dest = 0;
    agg_map unknown;
    agg_map_init(&unknown);
    csv_fields f = {0};
    if (rc == 0) {
        fputs("date,delay,distance,origin,origin_city,origin_state,"
              "destination,dest_city,dest_state,outlier\n",
              o.f);
        while ((got = csv_next(r, &rec, &rlen)) == 1) {
            rows++;
            if (csv_split(rec, rlen, &f) != 6) {
                rc = fail(ctx, "enrich: row %lld of %s does not have 6 fields", rows, in);
                break;
            }
            long oi = airport_find(&t, f.field[3]);
            long di = airport_find(&t, f.field[4]);
            if (oi < 0) {
                un_origin++;
                agg_map_get(&unknown, f.field[3], f.flen[3]);
            }
            if (di < 0) {
                un_dest++;
                agg_map_get(&unknown, f.field[4], f.flen[4]);
            }
            fprintf(o.f, "%s,%s,%s,%s,", f.field[0], f.field[1], f.field[2], f.field[3]);
            csv_write_field(o.f, oi >= 0 ? t.city[oi] : "");
            fputc(',', o.f);
            csv_write_field(o.f, oi >= 0 ? t.state[oi] : "");
            fprintf(o.f, ",%s,", f.field[4]);
            csv_write_field(o.f, di >= 0 ? t.city[di] : "");
            fputc(',', o.f);
            csv_write_field(o.f, di >= 0 ? t.state[di] : "");
            fprintf(o.f, ",%s\n", f.field[5]);
            if ((rc = check_cancel(ctx, "enrich", rows)) != 0) break;
        }
    }
    rc = rows_done(ctx, "enrich", rc, got, in, r, &f, &o);
    if (rc == 0)
        rc = result_printf(ctx,
                           "rows=%lld\nairports=%zu\nunmatched_origin_rows=%lld\n"
                           "unmatched_dest_rows=%lld\nunmatched_codes=%zu\n",
                           rows, n_airports, un_origin, un_dest, unknown.size);
    agg_map_free(&unknown);
    airports_free(&t);
    return rc;
}

/* ---- chain: aggregate_states ------------------------------------------ */

#define UNMATCHED_STATE "(unmatched)"

static int h_aggregate_states(sitq_task_ctx *ctx, const void *payload, size_t len, void *ud) {
    (void)ud;
    char in[STAGE_PATH], outp[STAGE_PATH];
    csv_reader *r = NULL;
    if (stage_paths(ctx, "aggregate_states", payload, len, in, outp) != 0 ||
        stage_open(ctx, "aggregate_states", in, &r) != 0)
        return 1;
    int rc = 0;
    const char *rec;
    size_t rlen;
    int got = csv_next(r, &rec, &rlen);
    if (got != 1) rc = fail(ctx, "aggregate_states: %s has no header", in);
    agg_map states, outl;
    agg_map_init(&states);
    agg_map_init(&outl);
    csv_fields f = {0};
    long long rows = 0;
    while (rc == 0 && (got = csv_next(r, &rec, &rlen)) == 1) {
        rows++;
        int32_t delay;
        char *end;
        if (csv_split(rec, rlen, &f) != 10) {
            rc = fail(ctx, "aggregate_states: row %lld of %s does not have 10 fields", rows, in);
            break;
        }
        long v = strtol(f.field[1], &end, 10);
        if (*end || end == f.field[1] || v < INT32_MIN || v > INT32_MAX) {
            rc = fail(ctx, "aggregate_states: row %lld: bad delay '%s'", rows, f.field[1]);
            break;
        }
        delay = (int32_t)v;
        const char *st = f.flen[5] ? f.field[5] : UNMATCHED_STATE;
        agg_stat *s = agg_map_get(&states, st, strlen(st));
        agg_stat *so = agg_map_get(&outl, st, strlen(st));
        if (!s || !so) {
            rc = fail(ctx, "aggregate_states: out of memory");
            break;
        }
        agg_stat_add(s, delay);
        if (strcmp(f.field[9], "1") == 0) so->count++;
    }
    rc = rows_done(ctx, "aggregate_states", rc, got, in, r, &f, NULL);
    agg_entry **sorted = NULL;
    outfile o = {0};
    if (rc == 0 && !(sorted = agg_map_sorted(&states)))
        rc = fail(ctx, "aggregate_states: out of memory");
    if (rc == 0) rc = out_open(&o, outp, ctx);
    if (rc == 0) {
        fputs("state,flights,mean_delay,min_delay,max_delay,outliers\n", o.f);
        for (size_t i = 0; i < states.size; i++) {
            const agg_entry *e = sorted[i];
            agg_stat *so = agg_map_get(&outl, e->key, e->key_len);
            csv_write_field(o.f, e->key);
            fprintf(o.f, ",%lld,%.6f,%d,%d,%lld\n", (long long)e->stat.count, mean(&e->stat),
                    e->stat.min, e->stat.max, so ? (long long)so->count : 0LL);
        }
        rc = out_commit(&o, ctx);
    }
    out_abort(&o);
    if (rc == 0) rc = result_printf(ctx, "rows=%lld\nstates=%zu\n", rows, states.size);
    free(sorted);
    agg_map_free(&states);
    agg_map_free(&outl);
    return rc;
}

/* ---- registration ----------------------------------------------------- */

sitq_code stages_register(sitq_worker *w, pipeline_ctx *ctx, sitq_error *err) {
    static const struct {
        const char *name;
        sitq_handler_fn fn;
    } handlers[] = {
        {"transform_chunk", h_transform_chunk},
        {"aggregate_chunks", h_aggregate_chunks},
        {"load_reports", h_load_reports},
        {"validate", h_validate},
        {"clean", h_clean},
        {"enrich", h_enrich},
        {"aggregate_states", h_aggregate_states},
    };
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
        sitq_code c = sitq_worker_register(w, handlers[i].name, handlers[i].fn, ctx, err);
        if (c != SITQ_OK) return c;
    }
    return SITQ_OK;
}
