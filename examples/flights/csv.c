/*
 * csv.c - CSV reading through zlib and RFC 4180 field splitting.
 */
#include "csv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct csv_reader {
    gzFile gz;
    char *buf;
    size_t cap;
    long long records;
    char error[512];
};

csv_reader *csv_open(const char *path, char *err, size_t errlen) {
    csv_reader *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    errno = 0;
    r->gz = gzopen(path, "rb");
    if (!r->gz) {
        snprintf(err, errlen, "cannot open '%s': %s", path,
                 errno ? strerror(errno) : "zlib could not open it");
        free(r);
        return NULL;
    }
    gzbuffer(r->gz, 256 * 1024);
    r->cap = 64 * 1024;
    r->buf = malloc(r->cap);
    if (!r->buf) {
        gzclose(r->gz);
        free(r);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return r;
}

/* Append one physical line (including its '\n', if any) at r->buf + *pos.
 * Returns 1 when something was read, 0 at end of file, -1 on error. */
static int read_physical_line(csv_reader *r, size_t *pos) {
    size_t start = *pos;
    for (;;) {
        if (r->cap - *pos < 2) {
            size_t ncap = r->cap * 2;
            char *nb = realloc(r->buf, ncap);
            if (!nb) {
                snprintf(r->error, sizeof r->error, "out of memory reading a record");
                return -1;
            }
            r->buf = nb;
            r->cap = ncap;
        }
        size_t room = r->cap - *pos;
        if (room > 1 << 30) room = 1 << 30;
        if (!gzgets(r->gz, r->buf + *pos, (int)room)) {
            int errnum = Z_OK;
            const char *msg = gzerror(r->gz, &errnum);
            if (errnum != Z_OK) {
                snprintf(r->error, sizeof r->error, "read error after record %lld: %s", r->records,
                         errnum == Z_ERRNO ? strerror(errno) : msg);
                return -1;
            }
            return *pos > start ? 1 : 0;
        }
        size_t got = strlen(r->buf + *pos);
        *pos += got;
        if (got > 0 && r->buf[*pos - 1] == '\n') return 1;
        /* No newline: the line is longer than the room, or end of file. */
        if (gzeof(r->gz)) return 1;
    }
}

int csv_next(csv_reader *r, const char **rec, size_t *len) {
    for (;;) {
        size_t pos = 0;
        int rc = read_physical_line(r, &pos);
        if (rc <= 0) return rc;
        /* A record continues while a quoted field is open. */
        for (;;) {
            int open_quote = 0;
            csv_scan_record(r->buf, pos, &open_quote);
            if (!open_quote) break;
            rc = read_physical_line(r, &pos);
            if (rc < 0) return rc;
            if (rc == 0) break; /* unterminated quote at EOF: csv_split reports it */
        }
        if (pos > 0 && r->buf[pos - 1] == '\n') pos--;
        if (pos > 0 && r->buf[pos - 1] == '\r') pos--;
        r->buf[pos] = '\0';
        if (pos == 0) continue; /* blank line: not a record */
        r->records++;
        *rec = r->buf;
        *len = pos;
        return 1;
    }
}

size_t csv_scan_record(const char *s, size_t len, int *open_quote) {
    enum { FIELD_START, UNQUOTED, QUOTED, QUOTE_IN_QUOTED } st = FIELD_START;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        switch (st) {
        case FIELD_START:
        case QUOTE_IN_QUOTED:
            if (c == '"') st = QUOTED; /* opening quote, or the second of "" */
            else if (c == ',') st = FIELD_START;
            else if (c == '\n') goto end_of_record;
            else st = UNQUOTED;
            break;
        case UNQUOTED:
            if (c == ',') st = FIELD_START;
            else if (c == '\n') goto end_of_record;
            break;
        case QUOTED:
            if (c == '"') st = QUOTE_IN_QUOTED;
            break;
        }
        continue;
    end_of_record:
        if (open_quote) *open_quote = 0;
        return i;
    }
    if (open_quote) *open_quote = st == QUOTED;
    return len;
}

long long csv_record_count(const csv_reader *r) { return r->records; }

const char *csv_reader_error(const csv_reader *r) { return r->error; }

void csv_close(csv_reader *r) {
    if (!r) return;
    if (r->gz) gzclose(r->gz);
    free(r->buf);
    free(r);
}

static int fields_reserve(csv_fields *f, size_t need_buf, size_t need_fields) {
    if (need_buf > f->buf_cap) {
        size_t ncap = f->buf_cap ? f->buf_cap : 256;
        while (ncap < need_buf) ncap *= 2;
        char *nb = realloc(f->buf, ncap);
        if (!nb) return -1;
        f->buf = nb;
        f->buf_cap = ncap;
    }
    if (need_fields > f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 16;
        while (ncap < need_fields) ncap *= 2;
        char **nf = realloc(f->field, ncap * sizeof *nf);
        if (!nf) return -1;
        f->field = nf;
        size_t *nl = realloc(f->flen, ncap * sizeof *nl);
        if (!nl) return -1;
        f->flen = nl;
        f->cap = ncap;
    }
    return 0;
}

long csv_split(const char *rec, size_t len, csv_fields *f) {
    /* Unquoted text is never longer than the record; each field adds a NUL. */
    size_t max_fields = 1;
    for (size_t i = 0; i < len; i++) max_fields += rec[i] == ',';
    if (fields_reserve(f, len + max_fields + 1, max_fields) != 0) return -1;

    size_t n = 0, out = 0, i = 0;
    for (;;) {
        size_t start = out;
        if (i < len && rec[i] == '"') {
            i++;
            for (;;) {
                if (i >= len) return -1; /* unterminated quoted field */
                if (rec[i] == '"') {
                    if (i + 1 < len && rec[i + 1] == '"') {
                        f->buf[out++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                f->buf[out++] = rec[i++];
            }
            if (i < len && rec[i] != ',') return -1; /* text after the closing quote */
        } else {
            /* A quote inside an unquoted field is taken literally (lenient,
             * like most readers). */
            while (i < len && rec[i] != ',') f->buf[out++] = rec[i++];
        }
        f->buf[out++] = '\0';
        f->flen[n] = out - 1 - start;
        f->field[n++] = f->buf + start; /* buf was sized above: it does not move */
        if (i >= len) break;
        i++; /* the comma */
    }
    f->n = n;
    return (long)n;
}

void csv_fields_free(csv_fields *f) {
    free(f->buf);
    free(f->field);
    free(f->flen);
    memset(f, 0, sizeof *f);
}

void csv_write_field(FILE *out, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"') fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}
