/*
 * term_escape.h - make stored text safe to print on a terminal.
 *
 * Task data (commands, results, errors, tracebacks, names) is written by
 * whoever can write the database; printed raw, its escape sequences would
 * retitle, clear or reprogram the reader's terminal. Every human-readable
 * line the sitq program prints passes through term_escape.
 */
#ifndef SITQ_CLI_TERM_ESCAPE_H
#define SITQ_CLI_TERM_ESCAPE_H

#include <stddef.h>

/** term_escape flag: keep '\n' and '\t' (multi-line blocks such as tracebacks). */
#define TERM_KEEP_LAYOUT 1u

/**
 * Return a copy of the len bytes at s in which valid UTF-8 printable text is
 * kept as is and everything a terminal could act on is spelled out:
 *   - C0 controls (0x00-0x1f, except '\n' and '\t' with TERM_KEEP_LAYOUT)
 *     and DEL (0x7f) as "\xNN";
 *   - C1 controls (U+0080-U+009F) as "\u00NN";
 *   - bytes that are not valid UTF-8 (stray continuation bytes, truncated,
 *     overlong or surrogate sequences, code points above U+10FFFF) as "\xNN".
 * A backslash is kept as is (the output is for reading, not for parsing).
 * s may be NULL when len is 0. Returns a malloc'd NUL-terminated string the
 * caller frees, or NULL when memory runs out. Thread-safe (no shared state).
 */
char *term_escape(const char *s, size_t len, unsigned flags);

/** term_escape of a NUL-terminated string; NULL gives NULL. */
char *term_escape_str(const char *s, unsigned flags);

/**
 * Length in bytes of the longest prefix of an escaped string s (valid
 * UTF-8) that has at most max_chars code points: cut there to shorten a
 * line without splitting a character.
 */
size_t term_prefix_len(const char *s, size_t max_chars);

/** Number of code points of an escaped string s (valid UTF-8). */
size_t term_char_count(const char *s);

#endif /* SITQ_CLI_TERM_ESCAPE_H */
