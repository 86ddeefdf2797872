/*
 * flight.h - the flights table: column layout and row validation.
 *
 * Columns (by header name, any order): date, delay, distance, origin,
 * destination. date is "YYYY-MM-DD HH:MM[:SS]" (also accepted with '/'),
 * delay a signed integer in minutes, distance a non-negative integer in
 * miles, origin/destination airport codes of 2..7 upper-case letters or
 * digits.
 */
#ifndef FLIGHTS_FLIGHT_H
#define FLIGHTS_FLIGHT_H

#include <stddef.h>
#include <stdint.h>

#include "csv.h"

enum { COL_DATE, COL_DELAY, COL_DISTANCE, COL_ORIGIN, COL_DEST, COL_COUNT };

/** Where each column is in a record, and how many fields a record has. */
typedef struct flight_cols {
    uint8_t idx[COL_COUNT];
    uint8_t nfields;
} flight_cols;

/** A validated row. Strings point into the csv_fields it was parsed from. */
typedef struct flight_row {
    const char *date; /* as in the file */
    char day[11];     /* "YYYY-MM-DD" */
    int32_t delay;
    int32_t distance;
    const char *origin;
    const char *dest;
} flight_row;

/**
 * Find the columns in a header record. Returns 0, or -1 with a message in
 * err naming the missing column.
 */
int flight_header(const char *rec, size_t len, flight_cols *cols, char *err, size_t errlen);

/**
 * Split and validate one data record. Returns 0 for a valid row (row filled,
 * its strings valid until the next use of f), -1 for a bad row.
 */
int flight_parse(const char *rec, size_t len, const flight_cols *cols, csv_fields *f,
                 flight_row *row);

#endif
