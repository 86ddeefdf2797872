/*
 * flight.c - the flights table: column layout and row validation.
 */
#include "flight.h"

#include <stdio.h>
#include <string.h>

static const char *const col_names[COL_COUNT] = {"date", "delay", "distance", "origin",
                                                 "destination"};

int flight_header(const char *rec, size_t len, flight_cols *cols, char *err, size_t errlen) {
    csv_fields f = {0};
    long n = csv_split(rec, len, &f);
    int rc = 0;
    if (n < 0) {
        snprintf(err, errlen, "malformed CSV header");
        rc = -1;
    } else if (n > 255) {
        snprintf(err, errlen, "header has %ld columns (at most 255 supported)", n);
        rc = -1;
    } else {
        for (int c = 0; c < COL_COUNT && rc == 0; c++) {
            long found = -1;
            for (long k = 0; k < n; k++) {
                const char *name = f.field[k];
                if (k == 0 && (unsigned char)name[0] == 0xEF && (unsigned char)name[1] == 0xBB &&
                    (unsigned char)name[2] == 0xBF)
                    name += 3; /* UTF-8 byte order mark */
                if (strcmp(name, col_names[c]) == 0) {
                    found = k;
                    break;
                }
            }
            if (found < 0) {
                snprintf(err, errlen,
                         "header lacks column '%s' (need date,delay,distance,origin,destination)",
                         col_names[c]);
                rc = -1;
            } else {
                cols->idx[c] = (uint8_t)found;
            }
        }
        cols->nfields = (uint8_t)n;
    }
    csv_fields_free(&f);
    return rc;
}

/* Signed decimal integer fitting in int32, whole field. */
static int parse_int32(const char *s, size_t len, int32_t *out) {
    size_t i = 0;
    int neg = 0;
    if (i < len && (s[i] == '-' || s[i] == '+')) {
        neg = s[i] == '-';
        i++;
    }
    if (i == len) return -1;
    int64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
        if (v > INT32_MAX) return -1;
    }
    *out = (int32_t)(neg ? -v : v);
    return 0;
}

static int digits(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* "YYYY-MM-DD HH:MM" optionally ":SS"; '-' or '/' between date parts. */
static int parse_date(const char *s, size_t len, char day[11]) {
    int y, mo, d, h, mi, sec = 0;
    if (len != 16 && len != 19) return -1;
    char sep = s[4];
    if ((sep != '-' && sep != '/') || s[7] != sep || s[10] != ' ' || s[13] != ':') return -1;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi))
        return -1;
    if (len == 19 && (s[16] != ':' || digits(s + 17, 2, &sec))) return -1;
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
        sec > 59)
        return -1;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return -1;
    memcpy(day, s, 4);
    day[4] = '-';
    memcpy(day + 5, s + 5, 2);
    day[7] = '-';
    memcpy(day + 8, s + 8, 2);
    day[10] = '\0';
    return 0;
}

static int valid_code(const char *s, size_t len) {
    if (len < 2 || len > 7) return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9'))) return 0;
    return 1;
}

int flight_parse(const char *rec, size_t len, const flight_cols *cols, csv_fields *f,
                 flight_row *row) {
    long n = csv_split(rec, len, f);
    if (n != cols->nfields) return -1;
    const uint8_t *ix = cols->idx;
    if (parse_date(f->field[ix[COL_DATE]], f->flen[ix[COL_DATE]], row->day) != 0) return -1;
    if (parse_int32(f->field[ix[COL_DELAY]], f->flen[ix[COL_DELAY]], &row->delay) != 0) return -1;
    if (parse_int32(f->field[ix[COL_DISTANCE]], f->flen[ix[COL_DISTANCE]], &row->distance) != 0 ||
        row->distance < 0)
        return -1;
    if (!valid_code(f->field[ix[COL_ORIGIN]], f->flen[ix[COL_ORIGIN]]) ||
        !valid_code(f->field[ix[COL_DEST]], f->flen[ix[COL_DEST]]))
        return -1;
    row->date = f->field[ix[COL_DATE]];
    row->origin = f->field[ix[COL_ORIGIN]];
    row->dest = f->field[ix[COL_DEST]];
    return 0;
}
