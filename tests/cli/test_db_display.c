/*
 * test_db_display.c - cli_db_display hides every password of a PostgreSQL
 * connection string (URI user information, "password=" query parameters,
 * keyword=value strings, quoted or not) and keeps the rest byte for byte;
 * sitq__dsn_scrub hides them inside a message that quotes the string.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/dsn_mask.h"
#include "db.h"

/** Assert that db is shown as want. */
static void check(const char *db, const char *want) {
    char buf[512];
    const char *got = cli_db_display(db, buf, sizeof buf);
    assert_non_null(got);
    assert_string_equal(got, want);
}

static void test_uri_user_password(void **state) {
    (void)state;
    check("postgresql://app:s3cret@db:5432/jobs", "postgresql://app:***@db:5432/jobs");
    check("postgresql://app@db/jobs", "postgresql://app@db/jobs");
    check("postgresql://db/jobs?user=a", "postgresql://db/jobs?user=a");
}

static void test_uri_query_password(void **state) {
    (void)state;
    check("postgresql://db/jobs?password=s3cret", "postgresql://db/jobs?password=***");
    check("postgresql://u:a@db/jobs?sslmode=require&password=b&sitq_schema=x",
          "postgresql://u:***@db/jobs?sslmode=require&password=***&sitq_schema=x");
    /* Only the key "password" itself, not a key ending in it. */
    check("postgresql://db/j?xpassword=keep", "postgresql://db/j?xpassword=keep");
    /* A key with percent-escapes is decoded, as libpq decodes it. */
    check("postgresql://db/j?%70assword=s3cret&x=1", "postgresql://db/j?%70assword=***&x=1");
    check("postgresql://db/j?pass%77ORD=keep&%70%61%73%73%77%6f%72%64=s",
          "postgresql://db/j?pass%77ORD=keep&%70%61%73%73%77%6f%72%64=***");
    check("postgresql://db/j?password%=keep&%7=keep", "postgresql://db/j?password%=keep&%7=keep");
}

static void test_keyword_strings(void **state) {
    (void)state;
    check("host=db password=s3cret dbname=jobs", "host=db password=*** dbname=jobs");
    check("host=db password = 's3 cr\\'et' dbname=jobs", "host=db password = *** dbname=jobs");
    check("password=a\\ b user=x", "password=*** user=x");
}

static void test_paths_unchanged(void **state) {
    (void)state;
    check("/var/lib/jobs/q.db", "/var/lib/jobs/q.db");
    check("sqlite:///tmp/q.db", "sqlite:///tmp/q.db");
    check("my jobs.db", "my jobs.db");
    char small[12];
    assert_string_equal(cli_db_display("postgresql://u:pw@h/d", small, sizeof small),
                        "postgresql:");
    assert_null(cli_db_display(NULL, small, sizeof small));
    assert_string_equal(cli_db_display("host=h password=x", small, 0), "***");
}

/** Assert that msg, scrubbed of dsn, reads want. */
static void check_scrub(const char *msg, const char *dsn, const char *want) {
    char *got = sitq__dsn_scrub(msg, dsn);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_scrub_messages(void **state) {
    (void)state;
    /* The whole string quoted, as libpq quotes a URI it cannot parse. */
    check_scrub("bad URI: \"postgresql://u:Secr3tPw@[zz/x\"", "postgresql://u:Secr3tPw@[zz/x",
                "bad URI: \"postgresql://u:***@[zz/x\"");
    /* A password of 4 bytes or more, wherever it appears. */
    check_scrub("near Secr3tPw and hunter2", "postgresql://u:Secr3tPw@h/d?password=hunter2",
                "near *** and ***");
    check_scrub("password 'lo ng' refused", "host=h password='lo ng'", "password *** refused");
    /* A shorter one only inside the quoted string: "ab" is too common. */
    check_scrub("tab ab postgresql://u:ab@h", "postgresql://u:ab@h", "tab ab postgresql://u:***@h");
    check_scrub("no secret here", "postgresql://h/d", "no secret here");
    check_scrub("", "", "");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uri_user_password), cmocka_unit_test(test_uri_query_password),
        cmocka_unit_test(test_keyword_strings),   cmocka_unit_test(test_paths_unchanged),
        cmocka_unit_test(test_scrub_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
