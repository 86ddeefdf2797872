/*
 * error.c - status codes, their names and messages, and filling sitq_error.
 * Names and messages come from SITQ_ERRNO_MAP (sitq.h), the one table of
 * codes, so that a new code cannot lack either.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

const char *sitq_code_name(sitq_code code) {
    switch (code) {
    case SITQ_OK: return "SITQ_OK";
#define SITQ__CODE_NAME(name, value, message)                                                      \
    case SITQ_##name: return "SITQ_" #name;
        SITQ_ERRNO_MAP(SITQ__CODE_NAME)
#undef SITQ__CODE_NAME
    }
    return "SITQ_UNKNOWN";
}

const char *sitq_strerror(sitq_code code) {
    switch (code) {
    case SITQ_OK: return "success";
#define SITQ__CODE_MESSAGE(name, value, message)                                                   \
    case SITQ_##name: return message;
        SITQ_ERRNO_MAP(SITQ__CODE_MESSAGE)
#undef SITQ__CODE_MESSAGE
    }
    return "unknown error";
}

void sitq__set_error(sitq_error *err, sitq_code code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
}

sitq_code sitq__ok(sitq_error *err) {
    if (err) {
        err->code = SITQ_OK;
        err->message[0] = '\0';
    }
    return SITQ_OK;
}
