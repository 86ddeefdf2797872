/*
 * tz.c - loading IANA time zones: names, fixed offsets and TZif files
 * (RFC 8536, versions 1 to 4).
 *
 * A name is checked before any file is opened (letters, digits, "_+-." and
 * "/" between non-empty components that do not start with a dot), so it
 * cannot leave the zone directory. Version 2+ files are read from their
 * 64-bit section and footer; version 1 files from their 32-bit section.
 * Leap-second records ("right/" zones) are skipped: times here are Unix
 * times, which have no leap seconds. The zone is kept as its transition
 * times, the offset after each, and the footer's POSIX rule for times after
 * the last transition.
 */
#include "tz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Largest TZif file read; the biggest real ones are a few kilobytes. */
#define TZ_FILE_MAX (1 << 20)
#define TZ_NAME_MAX 255

struct sitq__tz {
    size_t ntimes;
    int64_t *times; /* transition instants, ascending */
    uint8_t *idx;   /* type in effect from times[i] */
    size_t ntypes;  /* >= 1 */
    int32_t *offs;  /* UTC offset of each type; type 0 before the first transition */
    int has_rule;   /* rule applies from the last transition on */
    sitq__tz_rule rule;
};

void sitq__tz_free(sitq__tz *z) {
    if (!z) return;
    free(z->times);
    free(z->idx);
    free(z->offs);
    free(z);
}

static sitq__tz *tz_fixed(int32_t off) {
    sitq__tz *z = calloc(1, sizeof *z);
    if (!z) return NULL;
    z->offs = malloc(sizeof *z->offs);
    if (!z->offs) {
        free(z);
        return NULL;
    }
    z->ntypes = 1;
    z->offs[0] = off;
    return z;
}

/* "+HH:MM" / "-HH:MM" (HH 00..23); 0 and *off on success, -1 otherwise. */
static int parse_fixed(const char *s, int32_t *off) {
    if ((s[0] != '+' && s[0] != '-') || strlen(s) != 6 || s[3] != ':') return -1;
    const char *d = s + 1;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (d[i] < '0' || d[i] > '9')) return -1;
    int h = (d[0] - '0') * 10 + (d[1] - '0'), m = (d[3] - '0') * 10 + (d[4] - '0');
    if (h > 23 || m > 59) return -1;
    *off = (s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
    return 0;
}

/* Up to 64 bytes of a refused name for a message, printable ASCII only (so
 * that a message stays valid UTF-8 whatever the caller passed). */
static const char *printable(const char *s, char *buf, size_t cap) {
    size_t n = 0;
    for (; s[n] && n < 64 && n + 1 < cap; n++) buf[n] = (s[n] >= 0x20 && s[n] <= 0x7e) ? s[n] : '?';
    buf[n] = '\0';
    return buf;
}

/* 0 when name may be looked up under the zone directory. */
static int name_ok(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > TZ_NAME_MAX) return -1;
    const char *comp = name;
    for (const char *p = name;; p++) {
        if (*p == '/' || *p == '\0') {
            if (p == comp || comp[0] == '.') return -1; /* empty, ".", "..", hidden */
            if (*p == '\0') return 0;
            comp = p + 1;
            continue;
        }
        char c = *p;
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-' || c == '+' || c == '.';
        if (!ok) return -1;
    }
}

/* Read the whole of a regular file of at most TZ_FILE_MAX bytes. */
static sitq_code read_file(const char *path, const char *name, unsigned char **buf, size_t *len,
                           sitq_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sitq__fail(err, SITQ_EINVAL, "unknown time zone \"%s\" (%s: %s)", name, path,
                          strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > TZ_FILE_MAX) {
        close(fd);
        return sitq__fail(err, SITQ_EINVAL, "unknown time zone \"%s\" (%s is not a zone file)",
                          name, path);
    }
    unsigned char *b = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
    if (!b) {
        close(fd);
        return sitq__fail(err, SITQ_ENOMEM, "out of memory reading time zone \"%s\"", name);
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, b + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    *buf = b;
    *len = got;
    return SITQ_OK;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static int64_t be64(const unsigned char *p) {
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* The counts of a TZif header: isutcnt isstdcnt leapcnt timecnt typecnt charcnt. */
typedef struct tzif_counts {
    uint32_t isut, isstd, leap, time, type, chars;
} tzif_counts;

#define TZIF_HEADER 44

static int read_header(const unsigned char *b, size_t len, tzif_counts *c, int *version) {
    if (len < TZIF_HEADER || memcmp(b, "TZif", 4) != 0) return -1;
    *version = b[4] == 0 ? 1 : b[4] - '0';
    *c = (tzif_counts){be32(b + 20), be32(b + 24), be32(b + 28),
                       be32(b + 32), be32(b + 36), be32(b + 40)};
    if (c->type == 0 || c->type > 256 || c->time > 100000 || c->leap > 100000 ||
        c->chars > 100000 || (c->isut != 0 && c->isut != c->type) ||
        (c->isstd != 0 && c->isstd != c->type))
        return -1;
    return 0;
}

/* Size of a data block with times of tsize bytes. */
static size_t block_size(const tzif_counts *c, size_t tsize) {
    return (size_t)c->time * (tsize + 1) + (size_t)c->type * 6 + c->chars +
           (size_t)c->leap * (tsize + 4) + c->isstd + c->isut;
}

/* Fill z from the data block at b with times of tsize (4 or 8) bytes. */
static int read_block(sitq__tz *z, const unsigned char *b, const tzif_counts *c, size_t tsize) {
    z->ntimes = c->time;
    z->ntypes = c->type;
    z->times = malloc((c->time ? c->time : 1) * sizeof *z->times);
    z->idx = malloc(c->time ? c->time : 1);
    z->offs = malloc(c->type * sizeof *z->offs);
    if (!z->times || !z->idx || !z->offs) return -2;
    for (size_t i = 0; i < c->time; i++) {
        const unsigned char *p = b + i * tsize;
        z->times[i] = tsize == 8 ? be64(p) : (int64_t)(int32_t)be32(p);
        if (i > 0 && z->times[i] <= z->times[i - 1]) return -1;
    }
    const unsigned char *ix = b + (size_t)c->time * tsize;
    for (size_t i = 0; i < c->time; i++) {
        if (ix[i] >= c->type) return -1;
        z->idx[i] = ix[i];
    }
    const unsigned char *ty = ix + c->time;
    for (size_t i = 0; i < c->type; i++) {
        int32_t off = (int32_t)be32(ty + i * 6);
        if (off < -89999 || off > 93599 || ty[i * 6 + 4] > 1) return -1; /* RFC 8536 limits */
        z->offs[i] = off;
    }
    return 0;
}

/* The footer "\nTZ\n" at b (length len); an empty TZ means none. */
static int read_footer(sitq__tz *z, const unsigned char *b, size_t len) {
    if (len < 2 || b[0] != '\n') return -1;
    const unsigned char *nl = memchr(b + 1, '\n', len - 1);
    if (!nl || nl - b > 256) return -1;
    char tz[256];
    size_t n = (size_t)(nl - b - 1);
    memcpy(tz, b + 1, n);
    tz[n] = '\0';
    if (n == 0) return 0;
    if (sitq__tz_rule_parse(tz, &z->rule) < 0) return -1;
    z->has_rule = 1;
    return 0;
}

/* Parse a TZif file into z: 0, -1 (malformed) or -2 (out of memory). */
static int parse_tzif(sitq__tz *z, const unsigned char *b, size_t len) {
    tzif_counts c;
    int version;
    if (read_header(b, len, &c, &version) < 0) return -1;
    size_t v1 = block_size(&c, 4);
    if (len - TZIF_HEADER < v1) return -1;
    if (version < 2) return read_block(z, b + TZIF_HEADER, &c, 4);
    b += TZIF_HEADER + v1;
    len -= TZIF_HEADER + v1;
    int v;
    if (read_header(b, len, &c, &v) < 0) return -1;
    size_t v2 = block_size(&c, 8);
    if (len - TZIF_HEADER < v2) return -1;
    int rc = read_block(z, b + TZIF_HEADER, &c, 8);
    if (rc < 0) return rc;
    return read_footer(z, b + TZIF_HEADER + v2, len - TZIF_HEADER - v2);
}

int sitq__tz_parse(const unsigned char *data, size_t len, sitq__tz **out) {
    *out = NULL;
    sitq__tz *z = calloc(1, sizeof *z);
    int rc = z ? parse_tzif(z, data, len) : -2;
    if (rc != 0) {
        sitq__tz_free(z);
        return rc;
    }
    *out = z;
    return 0;
}

static sitq_code load_file(const char *name, sitq__tz **out, sitq_error *err) {
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir) dir = SITQ__TZ_DEFAULT_DIR;
    char path[4096 + TZ_NAME_MAX + 2];
    if (strlen(dir) > 4096)
        return sitq__fail(err, SITQ_EINVAL, "time zone directory (TZDIR) is too long");
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unsigned char *buf = NULL;
    size_t len = 0;
    sitq_code rc = read_file(path, name, &buf, &len, err);
    if (rc != SITQ_OK) return rc;
    int prc = sitq__tz_parse(buf, len, out);
    free(buf);
    if (prc == -2)
        return sitq__fail(err, SITQ_ENOMEM, "out of memory reading time zone \"%s\"", name);
    if (prc != 0)
        return sitq__fail(err, SITQ_EINVAL, "time zone \"%s\": %s is not a valid TZif file", name,
                          path);
    return SITQ_OK;
}

sitq_code sitq__tz_load(const char *name, sitq__tz **out, sitq_error *err) {
    if (!out) return sitq__fail(err, SITQ_EINVAL, "time zone: out must not be NULL");
    *out = NULL;
    int32_t off = 0;
    int fixed = !name || !*name || strcmp(name, "UTC") == 0 || strcmp(name, "GMT") == 0 ||
                strcmp(name, "Z") == 0;
    char shown[65];
    if (!fixed && (name[0] == '+' || name[0] == '-')) {
        if (parse_fixed(name, &off) < 0)
            return sitq__fail(err, SITQ_EINVAL,
                              "time zone \"%s\": a fixed offset is written +HH:MM or -HH:MM "
                              "(HH 00..23)",
                              printable(name, shown, sizeof shown));
        fixed = 1;
    }
    if (fixed) {
        *out = tz_fixed(off);
        return *out ? sitq__ok(err) : sitq__fail(err, SITQ_ENOMEM, "out of memory (time zone)");
    }
    if (name_ok(name) < 0)
        return sitq__fail(err, SITQ_EINVAL,
                          "time zone name \"%s\" is not an IANA name (such as Europe/Paris; "
                          "letters, digits, _+-. and / between components, no . or .. "
                          "components, at most %d bytes)",
                          printable(name, shown, sizeof shown), TZ_NAME_MAX);
    sitq_code rc = load_file(name, out, err);
    return rc == SITQ_OK ? sitq__ok(err) : rc;
}

void sitq__tz_lookup(const sitq__tz *z, int64_t t, int32_t *off, int64_t *until) {
    if (z->ntimes == 0 || t >= z->times[z->ntimes - 1]) {
        if (z->has_rule) {
            sitq__tz_rule_lookup(&z->rule, t, off, until);
            return;
        }
        *off = z->ntimes ? z->offs[z->idx[z->ntimes - 1]] : z->offs[0];
        *until = INT64_MAX;
        return;
    }
    if (t < z->times[0]) {
        *off = z->offs[0];
        *until = z->times[0];
        return;
    }
    size_t lo = 0, hi = z->ntimes - 1; /* times[lo] <= t < times[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->times[mid] <= t) lo = mid;
        else hi = mid;
    }
    *off = z->offs[z->idx[lo]];
    *until = z->times[hi];
}
