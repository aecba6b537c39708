/* status.c — status strings (from the one X-macro list) and the error-message helpers of pfr_error
 * (a failure on a simulation handle: pfr_sim_fail, engine.c). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

const char *pfr_status_string(pfr_status s)
{
    switch (s) {
#define PFR_X_CASE(name, text)                                                                        \
    case name:                                                                                        \
        return text;
        PFR_STATUS_LIST(PFR_X_CASE)
#undef PFR_X_CASE
    default:
        return "unknown status";
    }
}

const char *pfr_version(void)
{
    return PFR_VERSION_STRING;
}

pfr_status pfr_fail(pfr_error *err, pfr_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}

void pfr_error_prefix(pfr_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char head[512];
    va_list ap;
    va_start(ap, fmt);
    int hn = vsnprintf(head, sizeof head - 2, fmt, ap);
    va_end(ap);
    if (hn < 0)
        return;
    size_t h = strlen(head);
    head[h++] = ':';
    head[h++] = ' ';
    const size_t cap = sizeof err->msg - 1;
    size_t old = strnlen(err->msg, cap);
    if (h + old > cap)
        old = cap - h; /* keep the head, cut the tail of the old message */
    memmove(err->msg + h, err->msg, old);
    memcpy(err->msg, head, h);
    err->msg[h + old] = '\0';
}

