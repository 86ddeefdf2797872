/*
 * shell_payload.h - the payload encoding of "shell" tasks.
 *
 * A shell task's payload is its argv: each argument's bytes followed by one
 * '\0', concatenated (argc >= 1, so the payload is non-empty and ends in '\0').
 * Example: {"echo", "hi"} is the 8 bytes "echo\0hi\0".
 *
 * Options of the task come first, when it has any: an empty string, the
 * names of the options set (in the order of the SHELL_OPT_ bits, each once),
 * and an empty string. {"sort"} with SHELL_OPT_STDIN_DEPS is
 * "\0stdin=deps\0\0sort\0". A command never starts with an empty argument,
 * so the two forms cannot be confused; an older worker fails such a task
 * ("cannot run ''") instead of running it without its options.
 */
#ifndef SITQ_CLI_SHELL_PAYLOAD_H
#define SITQ_CLI_SHELL_PAYLOAD_H

#include <stddef.h>

/** Function name of shell-command tasks. */
#define SHELL_FUNCTION "shell"

/** Option bit: the command's stdin is its dependencies' results, concatenated. */
#define SHELL_OPT_STDIN_DEPS 1u

/**
 * Encode argv[0..argc) and the SHELL_OPT_ bits `opts` into a new malloc'd
 * buffer *out of *out_len bytes. Returns 0, or -1 when argc < 1, argv[0] is
 * empty, opts holds an unknown bit, or memory runs out.
 */
int shell_payload_encode(char *const *argv, int argc, unsigned opts, char **out, size_t *out_len);

/**
 * Decode a payload into a NULL-terminated argv and its options. *out_argv
 * is one malloc'd block (free it with free()); *out_argc receives the count,
 * *out_opts (when not NULL) the SHELL_OPT_ bits. Returns 0, -1 when the
 * payload is malformed (empty, not ending in '\0', an option list that is
 * unknown, repeated, out of order, empty or followed by no command), -2 when
 * memory runs out.
 */
int shell_payload_decode(const void *payload, size_t len, char ***out_argv, int *out_argc,
                         unsigned *out_opts);

/**
 * Format argv as one shell-quoted command line (arguments made of safe
 * characters verbatim, others in single quotes). Returns a malloc'd string
 * or NULL when memory runs out.
 */
char *shell_format_command(char *const *argv, int argc);

#endif /* SITQ_CLI_SHELL_PAYLOAD_H */
