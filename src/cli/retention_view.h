/* retention_view.h - a queue's retention as text and JSON (cmd_retention.c),
 * for `sitq retention` and `sitq stats --queue`. */
#ifndef SITQ_CLI_RETENTION_VIEW_H
#define SITQ_CLI_RETENTION_VIEW_H

#include <jansson.h>

#include "sitq.h"

/** Print r (and, when kept is not NULL, what it holds back) as a
 * "retention:" section. */
void print_retention_text(const sitq_retention *r, const sitq_retained *kept);

/** The JSON object of r (durations in seconds or "forever") and, when kept is
 * not NULL, what it holds back; a new reference, or NULL when out of memory. */
json_t *retention_to_json(const sitq_retention *r, const sitq_retained *kept);

#endif
