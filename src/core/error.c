/* error.c - status codes, their names, and filling sitq_error. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

const char *sitq_code_name(sitq_code code) {
    switch (code) {
    case SITQ_OK: return "SITQ_OK";
    case SITQ_EINVAL: return "SITQ_EINVAL";
    case SITQ_ENOMEM: return "SITQ_ENOMEM";
    case SITQ_ENOTFOUND: return "SITQ_ENOTFOUND";
    case SITQ_ESTATE: return "SITQ_ESTATE";
    case SITQ_ETIMEDOUT: return "SITQ_ETIMEDOUT";
    case SITQ_EDEPENDENCY: return "SITQ_EDEPENDENCY";
    case SITQ_ENOTREADY: return "SITQ_ENOTREADY";
    case SITQ_ELEASE: return "SITQ_ELEASE";
    case SITQ_ESTORAGE: return "SITQ_ESTORAGE";
    case SITQ_ESCHEMA: return "SITQ_ESCHEMA";
    case SITQ_ENOHANDLER: return "SITQ_ENOHANDLER";
    case SITQ_ESYSTEM: return "SITQ_ESYSTEM";
    case SITQ_EBUSY: return "SITQ_EBUSY";
    }
    return "SITQ_UNKNOWN";
}

sitq_code sitq__fail(sitq_error *err, sitq_code code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

sitq_code sitq__ok(sitq_error *err) {
    if (err) {
        err->code = SITQ_OK;
        err->message[0] = '\0';
    }
    return SITQ_OK;
}
