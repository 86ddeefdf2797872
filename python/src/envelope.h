/* envelope.h - checks of a stored Python task's payload that need no
 * interpreter, so that they can be tested and fuzzed in plain C.
 *
 * Payload formats 1 and 2 (see task.c) are pickles of protocol 2..5: they
 * start with the PROTO opcode (0x80) and the protocol number and end with
 * STOP ('.').
 * A payload that does not is refused with a clear message before it reaches
 * pickle.loads. (The pickle itself can only be decoded by an interpreter,
 * and loading it runs code by design: whoever can write the database is
 * trusted.) The memory token in the tuple is "PID-NONCE-N". */
#ifndef SITQPY_ENVELOPE_H
#define SITQPY_ENVELOPE_H

#include <stddef.h>

/* Pickle protocols a payload may use (pickle.HIGHEST_PROTOCOL is 5). */
#define SITQPY_PICKLE_PROTO_MIN 2
#define SITQPY_PICKLE_PROTO_MAX 5

/* Check the framing of a payload of len bytes (payload may be NULL when len
 * is 0). Returns 0 when it may be a payload of this binding, or -1 with a
 * reason written to why (why_len bytes, always NUL-terminated when
 * why_len > 0). Pure function; thread-safe. */
int sitqpy_envelope_check(const void *payload, size_t len, char *why, size_t why_len);

/* The process id named by a memory token "PID-NONCE-N" (PID decimal
 * 1..2^31-1, NONCE 1..16 hex digits, N 1..20 decimal digits), or -1 when
 * the token is not of that form. token may be NULL (-1). Thread-safe. */
long sitqpy_token_pid(const char *token);

#endif
