/*
 * csv.h - CSV reading (plain or gzip, through zlib) and RFC 4180 field
 * splitting for the flights pipeline example.
 */
#ifndef FLIGHTS_CSV_H
#define FLIGHTS_CSV_H

#include <stddef.h>
#include <stdio.h>

/* ---- record reader ---------------------------------------------------- */

typedef struct csv_reader csv_reader;

/**
 * Open a CSV file for reading. zlib reads gzip-compressed and plain files
 * alike (gzopen passes uncompressed input through). Returns NULL and writes
 * a message into err (errlen bytes) when the file cannot be opened.
 */
csv_reader *csv_open(const char *path, char *err, size_t errlen);

/**
 * Read the next record: one line, or several when a quoted field contains a
 * newline. The trailing "\n" / "\r\n" is removed. *rec points into the
 * reader's buffer (valid until the next call), NUL-terminated, *len bytes.
 * Returns 1 for a record, 0 at end of file, -1 on a read error (message via
 * csv_reader_error).
 */
int csv_next(csv_reader *r, const char **rec, size_t *len);

/**
 * Find the end of the record starting at s: the offset of the first '\n'
 * outside a quoted field, or len when there is none. *open_quote (may be
 * NULL) is set to 1 when s[0..len) ends inside a quoted field.
 */
size_t csv_scan_record(const char *s, size_t len, int *open_quote);

/** Number of records returned so far (the header counts as record 1). */
long long csv_record_count(const csv_reader *r);

/** Message of the last read error ("" when none). */
const char *csv_reader_error(const csv_reader *r);

/** Close the reader. NULL is a no-op. */
void csv_close(csv_reader *r);

/* ---- field splitting -------------------------------------------------- */

/** Growable scratch space for the fields of one record. */
typedef struct csv_fields {
    char *buf; /* unquoted field texts, each NUL-terminated */
    size_t buf_cap;
    char **field; /* pointers into buf */
    size_t *flen; /* length of each field */
    size_t n;     /* number of fields of the last split */
    size_t cap;
} csv_fields;

/**
 * Split one record into fields (RFC 4180: fields separated by commas, a
 * field may be enclosed in double quotes, inside which commas and newlines
 * are literal and "" stands for one quote; a quote inside an unquoted field
 * is kept as a literal character). Returns the number of fields,
 * or -1 when the record is malformed (unterminated quote, text after a
 * closing quote) or memory runs out.
 */
long csv_split(const char *rec, size_t len, csv_fields *f);

/** Free the scratch space (the struct itself is the caller's). */
void csv_fields_free(csv_fields *f);

/** Write one field to out, quoting it when it holds , " CR or LF. */
void csv_write_field(FILE *out, const char *s);

#endif
