/*
 * engine.c — what the engines and the round loop share beyond engine.h's declarations: a failure
 * kept on the handle, for pfr_sim_last_error.
 */
#include <stdarg.h>
#include <stdio.h>

#include "engine.h"

pfr_status pfr_sim_fail(pfr_sim *sim, pfr_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sim->errmsg, sizeof sim->errmsg, fmt, ap);
    va_end(ap);
    return status;
}
