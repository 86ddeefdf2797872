/* sqlite_names.c - the handler names a claim filters on, as the JSON arrays
 * its SQL reads (json_each). A worker hands its names across the seam as
 * arrays; the text is built here, once per change of the lists: the last
 * lists and their text are kept (under the writer lock), and a claim with
 * the same lists compares a few strings instead of rebuilding the text. */
#include "sq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Append s as a JSON string to buf (escaping quotes, backslashes and
 * control bytes). buf has room: each byte takes at most 6. */
static size_t json_string(char *buf, const char *s) {
    size_t o = 0;
    buf[o++] = '"';
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)ch;
        } else if (ch < 0x20) {
            o += (size_t)sprintf(buf + o, "\\u%04x", ch);
        } else {
            buf[o++] = (char)ch;
        }
    }
    buf[o++] = '"';
    return o;
}

/* The JSON array text of n names (malloc'd), or NULL. */
static char *json_names(const char *const *names, size_t n) {
    size_t cap = 3;
    for (size_t i = 0; i < n; i++) cap += strlen(names[i]) * 6 + 3;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    size_t o = 0;
    buf[o++] = '[';
    for (size_t i = 0; i < n; i++) {
        if (i) buf[o++] = ',';
        o += json_string(buf + o, names[i]);
    }
    buf[o++] = ']';
    buf[o] = '\0';
    return buf;
}

/* Whether the cached lists are c's. */
static int cache_matches(const sq_backend *b, const sitq__cycle *c) {
    if (!b->names_json.functions || b->n_fn_cached != c->n_functions ||
        b->n_px_cached != c->n_prefixes)
        return 0;
    for (size_t i = 0; i < c->n_functions; i++)
        if (strcmp(b->names_cached[i], c->functions[i]) != 0) return 0;
    for (size_t i = 0; i < c->n_prefixes; i++)
        if (strcmp(b->names_cached[c->n_functions + i], c->prefixes[i]) != 0) return 0;
    return 1;
}

void sq_names_free(sq_backend *b) {
    for (size_t i = 0; i < b->n_fn_cached + b->n_px_cached; i++) free(b->names_cached[i]);
    free(b->names_cached);
    free(b->names_json.functions);
    free(b->names_json.prefixes);
    b->names_cached = NULL;
    b->n_fn_cached = b->n_px_cached = 0;
    b->names_json.functions = b->names_json.prefixes = NULL;
}

const sq_names_json *sq_names_for(sq_backend *b, const sitq__cycle *c, sitq_error *err) {
    if (cache_matches(b, c)) return &b->names_json;
    sq_names_free(b);
    size_t n = c->n_functions + c->n_prefixes;
    b->names_cached = calloc(n ? n : 1, sizeof *b->names_cached);
    b->names_json.functions = json_names(c->functions, c->n_functions);
    b->names_json.prefixes = json_names(c->prefixes, c->n_prefixes);
    int ok = b->names_cached && b->names_json.functions && b->names_json.prefixes;
    for (size_t i = 0; ok && i < n; i++) {
        const char *s = i < c->n_functions ? c->functions[i] : c->prefixes[i - c->n_functions];
        if (!(b->names_cached[i] = strdup(s))) ok = 0;
    }
    if (ok) {
        b->n_fn_cached = c->n_functions;
        b->n_px_cached = c->n_prefixes;
        return &b->names_json;
    }
    /* Free what was made (names_cached entries are NULL past a failure). */
    if (b->names_cached)
        for (size_t i = 0; i < n; i++) free(b->names_cached[i]);
    free(b->names_cached);
    b->names_cached = NULL;
    sq_names_free(b);
    sitq__fail(err, SITQ_ENOMEM, "out of memory building the handler list of a claim");
    return NULL;
}
