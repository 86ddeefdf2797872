/*
 * test_dash_parse.c - the parts of `sitq dashboard` that read a request:
 * task ids, the listen address, form fields (percent-decoding, malformed
 * and oversized values), the Host header (exact loopback names), the
 * token's comparison, and the escaping of every
 * stored value written into a page (HTML entities, control bytes, links,
 * summaries cut on a UTF-8 boundary).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "dashboard/dash.h"
#include "http_host.h"

/* The Host header is parsed whole: a loopback name, an optional port, and
 * nothing after. */
static void test_host(void **state) {
    (void)state;
    const char *good[] = {"127.0.0.1",       "127.0.0.1:8080", "127.1.2.3:1", "localhost",
                          "LocalHost:65535", "[::1]",          "[::1]:9100",  NULL};
    for (int i = 0; good[i]; i++) assert_int_equal(http_host_is_local(good[i]), 1);
    const char *bad[] = {"[::1]evil.com",
                         "[::1]:80evil",
                         "[::1]:",
                         "127.0.0.1.evil.com",
                         "127.0.0.1:",
                         "127.0.0.1:65536",
                         "127.0.0.1:123456",
                         "127.0.0.1:+80",
                         "127.0.0.1:80:80",
                         "localhost.",
                         "localhost.evil.com",
                         "127.1",
                         "128.0.0.1",
                         "10.0.0.1:80",
                         "evil.example:80",
                         "",
                         ":80",
                         "[::2]",
                         "127.0.0.1 ",
                         NULL};
    for (int i = 0; bad[i]; i++) {
        if (http_host_is_local(bad[i]) != 0) fail_msg("'%s' taken for a loopback Host", bad[i]);
    }
    assert_int_equal(http_host_is_local(NULL), 0);
    http_addr a;
    memset(&a, 0, sizeof a);
    a.in.sin_family = AF_INET;
    a.in.sin_addr.s_addr = htonl(0x7f000005);
    assert_int_equal(http_addr_is_loopback(&a), 1);
    a.in.sin_addr.s_addr = htonl(0x0a000001);
    assert_int_equal(http_addr_is_loopback(&a), 0);
    char msg[128];
    const char *v6[][2] = {{"[::1]:1", "1"}, {"::1", "1"},     {"[::ffff:127.0.0.9]:1", "1"},
                           {"[::]:1", "0"},  {"[::2]:1", "0"}, {"[fe80::1]:1", "0"}};
    for (size_t i = 0; i < sizeof v6 / sizeof v6[0]; i++) {
        assert_int_equal(dash_parse_listen(v6[i][0], &a, msg, sizeof msg), 0);
        if (http_addr_is_loopback(&a) != (v6[i][1][0] == '1'))
            fail_msg("'%s': loopback should be %s", v6[i][0], v6[i][1]);
    }
}

/* A queue name of any bytes goes through the pause form's hex field. */
static void test_hex(void **state) {
    (void)state;
    const char *name = "q\x01\nname\xc3\xa9";
    dash_buf b = {0};
    dash_hexenc(&b, name);
    assert_string_equal(b.s, "71010a6e616d65c3a9");
    char out[16];
    assert_int_equal(dash_hex_decode(b.s, out, sizeof out), 0);
    assert_string_equal(out, name);
    assert_int_equal(dash_hex_decode("4A4b", out, sizeof out), 0);
    assert_string_equal(out, "JK");
    const char *bad[] = {"", "4", "4g", "0041", "zz", "41 ", NULL};
    for (int i = 0; bad[i]; i++) {
        if (dash_hex_decode(bad[i], out, sizeof out) != -1) fail_msg("'%s' was decoded", bad[i]);
    }
    assert_int_equal(dash_hex_decode("41414141", out, 4), -1); /* 4 bytes + NUL do not fit */
    assert_int_equal(dash_hex_decode("414141", out, 4), 0);
    dash_buf_free(&b);
}

/* A cut never splits a UTF-8 character. */
static void test_utf8_cut(void **state) {
    (void)state;
    const char *s = "ab\xc3\xa9\xe2\x82\xac"; /* a b e-acute euro */
    assert_int_equal(dash_utf8_cut(s, 7, 7), 7);
    assert_int_equal(dash_utf8_cut(s, 7, 100), 7);
    assert_int_equal(dash_utf8_cut(s, 7, 3), 2); /* inside e-acute */
    assert_int_equal(dash_utf8_cut(s, 7, 4), 4);
    assert_int_equal(dash_utf8_cut(s, 7, 5), 4); /* inside the euro sign */
    assert_int_equal(dash_utf8_cut(s, 7, 6), 4);
    assert_int_equal(dash_utf8_cut(s, 7, 0), 0);
}

/* Well-formed UTF-8 characters and the bytes that start none. */
static void test_utf8_seq(void **state) {
    (void)state;
    assert_int_equal(dash_utf8_seq("a"), 1);
    assert_int_equal(dash_utf8_seq("\xc3\xa9"), 2);
    assert_int_equal(dash_utf8_seq("\xe2\x82\xac"), 3);
    assert_int_equal(dash_utf8_seq("\xf0\x9f\x98\x80"), 4);
    const char *bad[] = {"\xff",
                         "\xfe",
                         "\x80",
                         "\xc3",
                         "\xc0\x80",
                         "\xe0\x80\x80",
                         "\xed\xa0\x80",
                         "\xf4\x90\x80\x80",
                         "\xe2\x82",
                         "\xf5\x80\x80\x80",
                         NULL};
    for (int i = 0; bad[i]; i++) assert_int_equal(dash_utf8_seq(bad[i]), 0);
}

static void test_ids(void **state) {
    (void)state;
    sitq_task_id id = 0;
    assert_int_equal(dash_parse_id("1", &id), 0);
    assert_int_equal(id, 1);
    assert_int_equal(dash_parse_id("9223372036854775807", &id), 0);
    assert_true(id == INT64_MAX);
    id = 7;
    const char *bad[] = {"",
                         "0",
                         "-1",
                         "+1",
                         "1a",
                         " 1",
                         "1 ",
                         "0x10",
                         "1.5",
                         "9223372036854775808",
                         "12345678901234567890",
                         NULL};
    for (int i = 0; bad[i]; i++) assert_int_equal(dash_parse_id(bad[i], &id), -1);
    assert_int_equal(dash_parse_id(NULL, &id), -1);
    assert_int_equal(id, 7);
}

static void test_listen(void **state) {
    (void)state;
    http_addr a;
    char msg[256], text[HTTP_ADDR_TEXT_MAX];
    assert_int_equal(dash_parse_listen("127.0.0.1:8080", &a, msg, sizeof msg), 0);
    assert_int_equal(a.sa.sa_family, AF_INET);
    assert_int_equal(ntohs(a.in.sin_port), 8080);
    assert_int_equal(ntohl(a.in.sin_addr.s_addr), 0x7f000001);
    assert_int_equal(dash_parse_listen("0.0.0.0:0", &a, msg, sizeof msg), 0);
    assert_int_equal(ntohs(a.in.sin_port), 0);
    assert_int_equal(dash_parse_listen("8080", &a, msg, sizeof msg), 0); /* a bare port */
    assert_int_equal(ntohs(a.in.sin_port), 8080);
    assert_int_equal(ntohl(a.in.sin_addr.s_addr), 0x7f000001);
    /* IPv6: in brackets before a port; without a port, 8080; a bare
     * address is all address ("2001:db8::1:80" is one). */
    const char *v6[][2] = {{"[::1]:8081", "[::1]:8081"},
                           {"[::]:0", "[::]:0"},
                           {"[::1]", "[::1]:8080"},
                           {"::1", "[::1]:8080"},
                           {"::", "[::]:8080"},
                           {"2001:db8::1:80", "[2001:db8::1:80]:8080"},
                           {"[2001:db8::7]:65535", "[2001:db8::7]:65535"},
                           {"[::ffff:127.0.0.1]:1", "[::ffff:127.0.0.1]:1"}};
    for (size_t i = 0; i < sizeof v6 / sizeof v6[0]; i++) {
        if (dash_parse_listen(v6[i][0], &a, msg, sizeof msg) != 0)
            fail_msg("'%s' refused: %s", v6[i][0], msg);
        assert_int_equal(a.sa.sa_family, AF_INET6);
        assert_int_equal(http_addr_len(&a), sizeof(struct sockaddr_in6));
        http_addr_format(&a, http_addr_port(&a), text, sizeof text);
        assert_string_equal(text, v6[i][1]);
    }
    const char *bad[] = {":8080",
                         "127.0.0.1:",
                         "127.0.0.1:65536",
                         "127.0.0.1:-1",
                         "127.0.0.1:80x",
                         "localhost:80",
                         "1.2.3:80",
                         "127.0.0.1:000080",
                         "[::1]:",
                         "[::1]:65536",
                         "[::1]:+80",
                         "[::1]80",
                         "[::1",
                         "[]:80",
                         "[127.0.0.1]:80",
                         "[::1%lo]:80",
                         "[::g]:80",
                         "[::1]:80:",
                         "[[::1]]:80",
                         ":::80",
                         "::1::",
                         "1::2::3",
                         "[::1] :80",
                         " ::1",
                         "[0000000000000000000000000000000000000000000000000000::1]:80",
                         NULL};
    for (int i = 0; bad[i]; i++) {
        msg[0] = '\0';
        if (dash_parse_listen(bad[i], &a, msg, sizeof msg) != -1) fail_msg("'%s' taken", bad[i]);
        assert_non_null(strstr(msg, bad[i])); /* the message quotes the text */
    }
    assert_int_equal(dash_parse_listen("", &a, msg, sizeof msg), -1);
    /* --metrics-address: a port is needed */
    assert_int_equal(http_addr_parse("[::1]", -1, &a, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "[::1]"));
    assert_int_equal(http_addr_parse("::1", -1, &a, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "brackets"));
    assert_int_equal(http_addr_parse("[::1]:9100", -1, &a, msg, sizeof msg), 0);
    assert_int_equal(http_addr_port(&a), 9100);
}

static void test_form(void **state) {
    (void)state;
    char out[16];
    const char *body = "id=12&token=a%2Bb+c%3D&queue=&tokenx=no";
    size_t len = strlen(body);
    assert_int_equal(dash_form_field(body, len, "id", out, sizeof out), 0);
    assert_string_equal(out, "12");
    assert_int_equal(dash_form_field(body, len, "token", out, sizeof out), 0);
    assert_string_equal(out, "a+b c=");
    assert_int_equal(dash_form_field(body, len, "queue", out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(dash_form_field(body, len, "missing", out, sizeof out), -1);
    assert_int_equal(dash_form_field(body, len, "toke", out, sizeof out), -1);
    /* Only len bytes are read: a field past it is absent. */
    assert_int_equal(dash_form_field(body, 5, "token", out, sizeof out), -1);
    const char *malformed[] = {"v=%zz", "v=%4", "v=%", "v=%00", "v=a%0", NULL};
    for (int i = 0; malformed[i]; i++)
        assert_int_equal(dash_form_field(malformed[i], strlen(malformed[i]), "v", out, sizeof out),
                         -2);
    const char *longer = "v=0123456789abcdef"; /* 16 bytes do not fit with the NUL */
    assert_int_equal(dash_form_field(longer, strlen(longer), "v", out, sizeof out), -2);
    assert_int_equal(dash_form_field("", 0, "v", out, sizeof out), -1);
    /* A field given twice is refused, whatever the values. */
    const char *twice[] = {"v=1&v=2", "v=1&w=0&v=1", "v=&v=", "v=%zz&v=1", NULL};
    for (int i = 0; twice[i]; i++)
        assert_int_equal(dash_form_field(twice[i], strlen(twice[i]), "v", out, sizeof out), -3);
    assert_int_equal(dash_form_field("vv=1&v=2&xv=3", 13, "v", out, sizeof out), 0);
    assert_string_equal(out, "2");
    /* The only encoding read: a multipart form is refused, not searched. */
    assert_true(dash_form_encoding_ok(NULL));
    assert_true(dash_form_encoding_ok("application/x-www-form-urlencoded"));
    assert_true(dash_form_encoding_ok("Application/X-WWW-Form-Urlencoded ; charset=UTF-8"));
    assert_false(dash_form_encoding_ok("multipart/form-data; boundary=x"));
    assert_false(dash_form_encoding_ok("application/x-www-form-urlencodedx"));
    assert_false(dash_form_encoding_ok("application/json"));
    assert_false(dash_form_encoding_ok(""));
}

static void test_token(void **state) {
    (void)state;
    assert_true(dash_token_equal("secret-token", 12, "secret-token", 12));
    assert_false(dash_token_equal("secret-tokeN", 12, "secret-token", 12));
    assert_false(dash_token_equal("Secret-token", 12, "secret-token", 12));
    assert_false(dash_token_equal("secret-toke", 11, "secret-token", 12));
    assert_false(dash_token_equal("secret-tokenn", 13, "secret-token", 12));
    assert_false(dash_token_equal("", 0, "secret-token", 12));
    assert_false(dash_token_equal("", 0, "", 0)); /* no token never matches */
}

/* The escaped form of s[0..n). */
static char *escaped(const char *s, size_t n) {
    dash_buf b = {0};
    dash_escn(&b, s, n);
    assert_false(b.failed);
    return b.s ? b.s : strdup("");
}

static void test_escape(void **state) {
    (void)state;
    const char in[] = "<script>alert(\"x\" & 'y')</script>";
    char *s = escaped(in, sizeof in - 1);
    assert_string_equal(s, "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;");
    free(s);
    s = escaped("a\x01"
                "b\0c\x7f\td\n",
                9);
    assert_string_equal(s, "a\\x01b\\x00c\\x7f\\x09d\\x0a");
    free(s);
    dash_buf lines = {0}; /* values shown as lines keep tab and newline */
    dash_esc_lines(&lines, "a\x01\tb\n<", 6);
    assert_string_equal(lines.s, "a\\x01\tb\n&lt;");
    dash_buf_free(&lines);
    dash_buf b = {0};
    dash_esc(&b, NULL);
    dash_urlenc(&b, "<q>&a b/é");
    assert_string_equal(b.s, "-%3Cq%3E%26a%20b%2F%C3%A9");
    dash_buf_free(&b);
}

static void test_summary(void **state) {
    (void)state;
    size_t n = DASH_VALUE_SHOWN + 100;
    char *v = malloc(n);
    assert_non_null(v);
    memset(v, 'a', n);
    /* A two-byte character across the cut: it is left out whole. */
    v[DASH_VALUE_SHOWN - 1] = (char)0xC3;
    v[DASH_VALUE_SHOWN] = (char)0xA9;
    dash_buf b = {0};
    dash_esc_summary(&b, v, n);
    assert_false(b.failed);
    char note[96];
    snprintf(note, sizeof note, "\n... (%zu bytes in all, %d shown)", n, DASH_VALUE_SHOWN - 1);
    assert_int_equal(b.len, DASH_VALUE_SHOWN - 1 + strlen(note));
    assert_string_equal(b.s + DASH_VALUE_SHOWN - 1, note);
    dash_buf_free(&b);
    dash_esc_summary(&b, "short", 5);
    assert_string_equal(b.s, "short");
    dash_buf_free(&b);
    free(v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host),     cmocka_unit_test(test_hex),
        cmocka_unit_test(test_utf8_cut), cmocka_unit_test(test_utf8_seq),
        cmocka_unit_test(test_ids),      cmocka_unit_test(test_listen),
        cmocka_unit_test(test_form),     cmocka_unit_test(test_token),
        cmocka_unit_test(test_escape),   cmocka_unit_test(test_summary),
    };
    return cmocka_run_group_tests_name("dash_parse", tests, NULL, NULL);
}
