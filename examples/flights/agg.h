/*
 * agg.h - partial aggregates of flight delays, their merge, and the compact
 * byte format in which they travel as sitq task results.
 */
#ifndef FLIGHTS_AGG_H
#define FLIGHTS_AGG_H

#include <stddef.h>
#include <stdint.h>

/** Running statistics of one group: count, exact sum, min and max delay. */
typedef struct agg_stat {
    int64_t count;
    int64_t sum;
    int32_t min;
    int32_t max;
} agg_stat;

/** One group of a map: a short key (airport code, day, state) and its stat. */
typedef struct agg_entry {
    char *key;
    size_t key_len;
    agg_stat stat;
} agg_entry;

/** A hash map from key to agg_stat (open addressing). */
typedef struct agg_map {
    agg_entry *slots; /* key == NULL: empty */
    size_t cap;       /* power of two */
    size_t size;
} agg_map;

void agg_map_init(agg_map *m);
void agg_map_free(agg_map *m);
/** The stat of key, created empty when absent. NULL when out of memory. */
agg_stat *agg_map_get(agg_map *m, const char *key, size_t key_len);
/** Entries sorted by key (malloc'd array of pointers into m; free() it). */
agg_entry **agg_map_sorted(const agg_map *m);

void agg_stat_add(agg_stat *s, int32_t value);
void agg_stat_merge(agg_stat *dst, const agg_stat *src);

/** The partial aggregate of a chunk of flights (and of all chunks merged). */
typedef struct flight_agg {
    int64_t rows; /* data records seen */
    int64_t bad;  /* records that failed validation */
    agg_map by_origin;
    agg_map by_day;
} flight_agg;

void flight_agg_init(flight_agg *a);
void flight_agg_free(flight_agg *a);
/** Merge src into dst. Returns 0, -1 when out of memory. */
int flight_agg_merge(flight_agg *dst, const flight_agg *src);

/**
 * Serialise an aggregate (see agg.c for the format). *out is malloc'd.
 * Returns 0, -1 when out of memory.
 */
int flight_agg_encode(const flight_agg *a, unsigned char **out, size_t *out_len);

/**
 * Parse bytes made by flight_agg_encode into a (initialised by the call).
 * Returns 0, or -1 (a freed and empty) when the bytes are malformed.
 */
int flight_agg_decode(const void *data, size_t len, flight_agg *a);

#endif
