/*
 * args.h - checked parsing of numeric command line arguments and reporting
 * of getopt_long errors. Every parser prints a message naming the argument
 * on failure and returns -1; the caller then exits with CLI_EXIT_USAGE.
 */
#ifndef SITQ_CLI_ARGS_H
#define SITQ_CLI_ARGS_H

#include <stdint.h>

#include "sitq.h"

/**
 * 1 when text follows the number grammar of every numeric option: an
 * optional sign, decimal digits and, when allow_fraction is 1, an optional
 * fraction and exponent ("2", "-3", "0.5", ".5", "1e3"). Hex, octal
 * prefixes, "inf", "nan", white space and trailing characters are refused,
 * so that "0x10" means the same (an error) to every option.
 */
int arg_number_syntax_ok(const char *text, int allow_fraction);

/**
 * Parse `text` as a decimal integer (arg_number_syntax_ok without fraction)
 * in [min, max] into *out.
 * `name` names the argument in the message (e.g. "--priority").
 * Returns 0, or -1 after printing an error for subcommand `cmd`.
 */
int arg_parse_i64(const char *cmd, const char *name, const char *text, int64_t min, int64_t max,
                  int64_t *out);

/** As arg_parse_i64 for an int. */
int arg_parse_int(const char *cmd, const char *name, const char *text, int min, int max, int *out);

/**
 * Parse `text` as a decimal number (arg_number_syntax_ok) in [min, max]
 * into *out.
 * Returns 0, or -1 after printing an error.
 */
int arg_parse_double(const char *cmd, const char *name, const char *text, double min, double max,
                     double *out);

/**
 * Parse `text` as a duration of option `name` into *out_s (seconds): a
 * number as arg_parse_double reads it, optionally followed by a unit, "ms",
 * "s", "m" (minutes), "h" or "d" (days): "30s", "10m", "1h", "7d",
 * "250ms", "1.5h". A bare number is seconds, as before units existed. The
 * value in seconds must lie in [min_s, max_s]. The one parser of every
 * option that takes a duration. Returns 0, or -1 after printing an error
 * naming the option and the text.
 */
int arg_parse_duration(const char *cmd, const char *name, const char *text, double min_s,
                       double max_s, double *out_s);

/**
 * Parse a retention of option `name` into *out_s: "forever" gives
 * SITQ_KEEP_FOREVER, anything else a duration (arg_parse_duration) of
 * 0.001 s .. SITQ_SECONDS_MAX. The one parser of every option that takes a
 * retention (enqueue --keep, retention --succeeded / --failed), so that all
 * of them accept the same words. Returns 0, or -1 after printing an error
 * naming the option and the text (*out_s untouched).
 */
int arg_parse_keep(const char *cmd, const char *name, const char *text, double *out_s);

/**
 * Parse a point in time of option `name` into *out_us (UTC microseconds):
 * either a duration (arg_parse_duration: "1h", "30m", "7d", a bare number
 * of seconds) meaning that long before now_us, or an ISO-8601 date and time
 * in UTC: "2026-12-03", "2026-12-03T07:00", "2026-12-03T07:00:00",
 * optionally with a fraction of a second and a final "Z" (a space may
 * replace the "T"). Returns 0, or -1 after printing an error naming the
 * option and the text.
 */
int arg_parse_time(const char *cmd, const char *name, const char *text, sitq_time_us now_us,
                   sitq_time_us *out_us);

/**
 * Check a --queue value (1..SITQ_NAME_MAX bytes) and store it in *out.
 * Returns 0, or -1 after printing an error.
 */
int arg_parse_queue(const char *cmd, const char *text, const char **out);

/**
 * Check a name-like value of option `name` (1..SITQ_NAME_MAX bytes) and store
 * it in *out. Returns 0, or -1 after printing an error.
 */
int arg_parse_name(const char *cmd, const char *name, const char *text, const char **out);

/**
 * Parse a task id (a positive decimal integer) of argument `name`.
 * Returns 0, or -1 after printing an error.
 */
int arg_parse_id(const char *cmd, const char *name, const char *text, sitq_task_id *out);

/**
 * Print the error for a getopt_long return value `c` of '?' (unknown option)
 * or ':' (missing value) after parsing argv.
 */
void arg_report_getopt(const char *cmd, int c, char **argv);

/**
 * Check the number of positional arguments left after option parsing
 * (argc - optind) against [min, max]; print an error and return -1 when out
 * of range. `what` describes them for the message, e.g. "DB ID".
 */
int arg_check_positionals(const char *cmd, int argc, char **argv, int min, int max,
                          const char *what);

#endif /* SITQ_CLI_ARGS_H */
