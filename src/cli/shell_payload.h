/*
 * shell_payload.h - the payload encoding of "shell" tasks.
 *
 * A shell task's payload is its argv: each argument's bytes followed by one
 * '\0', concatenated (argc >= 1, so the payload is non-empty and ends in '\0').
 * Example: {"echo", "hi"} is the 8 bytes "echo\0hi\0".
 */
#ifndef SITQ_CLI_SHELL_PAYLOAD_H
#define SITQ_CLI_SHELL_PAYLOAD_H

#include <stddef.h>

/** Function name of shell-command tasks. */
#define SHELL_FUNCTION "shell"

/**
 * Encode argv[0..argc) into a new malloc'd buffer *out of *out_len bytes.
 * Returns 0, or -1 when argc < 1 or memory runs out.
 */
int shell_payload_encode(char *const *argv, int argc, char **out, size_t *out_len);

/**
 * Decode a payload into a NULL-terminated argv. *out_argv is one malloc'd
 * block (free it with free()); *out_argc receives the count.
 * Returns 0, -1 when the payload is malformed (empty, or not ending in
 * '\0'), -2 when memory runs out.
 */
int shell_payload_decode(const void *payload, size_t len, char ***out_argv, int *out_argc);

/**
 * Format argv as one shell-quoted command line (arguments made of safe
 * characters verbatim, others in single quotes). Returns a malloc'd string
 * or NULL when memory runs out.
 */
char *shell_format_command(char *const *argv, int argc);

#endif /* SITQ_CLI_SHELL_PAYLOAD_H */
