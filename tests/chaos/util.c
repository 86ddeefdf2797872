/* util.c - clocks, seeded random numbers, files and the WAL sampler of the
 * chaos harness. */
#define _XOPEN_SOURCE 700
#include "chaos.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t chaos_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void chaos_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

void chaos_rng_seed(chaos_rng *r, uint64_t seed) { r->s = seed; }

uint64_t chaos_rng_next(chaos_rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t chaos_rng_below(chaos_rng *r, uint64_t n) { return chaos_rng_next(r) % n; }

double chaos_rng_unit(chaos_rng *r) {
    return (double)(chaos_rng_next(r) >> 11) / 9007199254740992.0;
}

void chaos_log(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("chaos: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void chaos_die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("chaos: setup failed: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

int chaos_keep_tmp;
static char tmp_dirs[8][1024];
static int n_tmp_dirs;

/* At exit (also after chaos_die): stop every process, then remove the
 * temporary directories, unless --keep. */
static void remove_tmp_dirs(void) {
    chaos_kill_all();
    for (int i = 0; i < n_tmp_dirs; i++) {
        if (chaos_keep_tmp) fprintf(stderr, "chaos: kept %s\n", tmp_dirs[i]);
        else chaos_rm_rf(tmp_dirs[i]);
    }
    n_tmp_dirs = 0;
}

void chaos_mkdtemp(char *buf, size_t n, const char *tag) {
    const char *base = getenv("TMPDIR");
    snprintf(buf, n, "%s/sitq-chaos-%s.XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(buf)) chaos_die("mkdtemp %s: %s", buf, strerror(errno));
    if (n_tmp_dirs == 0) atexit(remove_tmp_dirs);
    if (n_tmp_dirs < 8) snprintf(tmp_dirs[n_tmp_dirs++], sizeof tmp_dirs[0], "%s", buf);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void chaos_rm_rf(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

int64_t chaos_file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

char *chaos_read_file(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (n < cap) break;
        char *nb = realloc(buf, cap * 2 + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    fclose(fp);
    if (buf) {
        buf[n] = '\0';
        if (len) *len = n;
    }
    return buf;
}

int chaos_write_file(const char *path, const void *data, size_t len) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    int rc = (len && fwrite(data, 1, len, fp) != len) ? -1 : 0;
    if (fclose(fp) != 0) rc = -1;
    return rc;
}

int chaos_copy_file(const char *from, const char *to) {
    size_t len = 0;
    char *data = chaos_read_file(from, &len);
    if (!data) return -1;
    int rc = chaos_write_file(to, data, len);
    free(data);
    return rc;
}

void chaos_wal_init(chaos_wal *w, const char *db_path) {
    snprintf(w->path, sizeof w->path, "%s-wal", db_path);
    w->peak = 0;
}

int64_t chaos_wal_sample(chaos_wal *w) {
    int64_t s = chaos_file_size(w->path);
    if (s > w->peak) w->peak = s;
    return s;
}

void chaos_figures_init(chaos_figures *f) {
    memset(f, 0, sizeof *f);
    f->wal_peak = -1;
}

void chaos_extra(chaos_figures *f, const char *fmt, ...) {
    size_t used = strlen(f->extra);
    if (used >= sizeof f->extra - 1) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->extra + used, sizeof f->extra - used, fmt, ap);
    va_end(ap);
}

void chaos_print_figures(const char *name, const chaos_opts *o, const chaos_figures *f,
                         double seconds, int ok) {
    char wal[32];
    if (f->wal_peak < 0) snprintf(wal, sizeof wal, "-");
    else snprintf(wal, sizeof wal, "%.1fMiB", (double)f->wal_peak / 1048576.0);
    printf("chaos %-8s tasks=%" PRId64 " kills=%" PRId64 " lost=%" PRId64 " run_twice=%" PRId64
           " (unexplained %" PRId64 ") stuck=%" PRId64 " failed_unstarted=%" PRId64 " bad=%" PRId64
           " wal_peak=%s%s%s seed=%" PRIu64 " time=%.1fs %s\n",
           name, f->tasks, f->kills, f->lost, f->run_twice, f->twice_unexplained, f->stuck,
           f->failed_unstarted, f->bad, wal, f->extra[0] ? " " : "", f->extra, o->seed, seconds,
           ok ? "PASS" : "FAIL");
    fflush(stdout);
}
