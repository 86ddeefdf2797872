/*
 * fuzz_dash_request.c - libFuzzer target: what a request gives
 * `sitq dashboard`. The input is read as a form body (its fields token, id
 * and queue decoded into buffers of several sizes), as a task id and a
 * listen address, and its bytes are escaped for a page and for a link.
 *
 * Checks: a decoded field holds no NUL and fits its buffer, and encoding it
 * for a URL then decoding gives it back; a field is refused as given twice
 * exactly when "NAME=" starts two of the body's '&'-separated fields; escaped text holds no markup
 * character (< > " ') and no control byte but tab and newline, and every
 * '&' starts an entity; an accepted id is positive; an accepted listen
 * address (IPv4 or IPv6), written as the dashboard prints it, parses back
 * to the same address.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard/dash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort unless s (escaped by dash_escn) is inert in HTML. */
static void check_escaped(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '<' || c == '>' || c == '"' || c == '\'' || c == 0x7f) abort();
        if (c < 0x20 && c != '\t' && c != '\n') abort();
        if (c == '&' && strncmp(s + i, "&amp;", 5) != 0 && strncmp(s + i, "&lt;", 4) != 0 &&
            strncmp(s + i, "&gt;", 4) != 0 && strncmp(s + i, "&quot;", 6) != 0 &&
            strncmp(s + i, "&#39;", 5) != 0)
            abort();
    }
}

/* How many times "name=" starts a field of the body (at its start or right
 * after a '&'), at most 2. */
static int field_starts(const char *body, size_t size, const char *name) {
    size_t nlen = strlen(name);
    int count = 0;
    for (size_t i = 0; i + nlen < size && count < 2; i++)
        if ((i == 0 || body[i - 1] == '&') && memcmp(body + i, name, nlen) == 0 &&
            body[i + nlen] == '=')
            count++;
    return count;
}

/* Decode field name with a buffer of n bytes and check it. */
static void check_field(const char *body, size_t size, const char *name, size_t n) {
    char *out = malloc(n);
    if (out == NULL) return;
    int rc = dash_form_field(body, size, name, out, n);
    if (rc != 0 && rc != -1 && rc != -2 && rc != -3) abort();
    if ((rc == -3) != (field_starts(body, size, name) == 2)) abort();
    if (rc == 0) {
        size_t len = strlen(out);
        if (len >= n) abort();
        dash_buf enc = {0};
        dash_put(&enc, "v=");
        dash_urlenc(&enc, out);
        char *back = malloc(n);
        if (!enc.failed && back != NULL) {
            if (dash_form_field(enc.s, enc.len, "v", back, n) != 0 || strcmp(back, out) != 0)
                abort();
        }
        free(back);
        dash_buf_free(&enc);
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *body = (const char *)data;
    check_field(body, size, "token", DASH_TOKEN_MAX + 1);
    check_field(body, size, "id", 32);
    check_field(body, size, "queue", 8);
    dash_buf b = {0};
    dash_escn(&b, body, size);
    if (!b.failed && b.s != NULL) check_escaped(b.s, b.len);
    dash_buf_free(&b);
    char *text = malloc(size + 1);
    if (text == NULL) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    sitq_task_id id = 0;
    if (dash_parse_id(text, &id) == 0 && id < 1) abort();
    http_addr addr;
    char msg[128];
    if (dash_parse_listen(text, &addr, msg, sizeof msg) == 0) {
        /* An accepted address, written as the URL shows it, reads back the same. */
        char shown[HTTP_ADDR_TEXT_MAX];
        http_addr back;
        http_addr_format(&addr, http_addr_port(&addr), shown, sizeof shown);
        if (dash_parse_listen(shown, &back, msg, sizeof msg) != 0 ||
            memcmp(&back, &addr, http_addr_len(&addr)) != 0)
            abort();
    }
    free(text);
    return 0;
}
