/*
 * size_arg.h - parsing of byte sizes on the command line ("65536", "64k",
 * "16M", "1G"): binary units, so that "64k" is the 65536 a user sees in
 * `value_len`. Kept apart from args.c: sizes have their own grammar.
 */
#ifndef SITQ_CLI_SIZE_ARG_H
#define SITQ_CLI_SIZE_ARG_H

#include <stdint.h>

/**
 * Parse `text` as a byte size: decimal digits, optionally followed by one
 * unit letter k/K (1024), m/M (1024^2) or g/G (1024^3). Signs, fractions,
 * white space, other suffixes and values that overflow are refused.
 * Stores the size in *out when it is in [min, max]; max UINT64_MAX or
 * SIZE_MAX means no bound of its own (one the caller checks later), and
 * the message of a size under min names min alone.
 * `name` names the option in the message (e.g. "--max-result").
 * Returns 0, or -1 after printing an error for subcommand `cmd` (the caller
 * then exits with CLI_EXIT_USAGE). Thread-safe (no state).
 */
int arg_parse_size(const char *cmd, const char *name, const char *text, uint64_t min, uint64_t max,
                   uint64_t *out);

#endif /* SITQ_CLI_SIZE_ARG_H */
