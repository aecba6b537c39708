/*
 * stage.c — a set of files written under temporary names and renamed into place together (output.h:
 * pfr_stage), and the command's error helper. Used by the formats (output.c) and by the output
 * directory's life (rundir.c); it uses neither, so the two do not lean on each other.
 */
#include "output.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((format(printf, 2, 3))) int pfr_cli_fail(pfr_error *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

const char *pfr_stage_path(pfr_stage *sg, const char *dir, const char *name)
{
    snprintf(sg->final[sg->n], sizeof sg->final[0], "%s/%s", dir, name);
    snprintf(sg->tmp[sg->n], sizeof sg->tmp[0], "%s/.%s.tmp.%ld", dir, name, (long)getpid());
    return sg->tmp[sg->n++];
}

FILE *pfr_stage_open(pfr_stage *sg, const char *dir, const char *name, pfr_error *err)
{
    const char *path = pfr_stage_path(sg, dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        pfr_cli_fail(err, "cannot create %s: %s", path, strerror(errno));
    return f;
}

int pfr_stage_close(pfr_stage *sg, FILE *f, pfr_error *err)
{
    /* a failed fprintf leaves its errno (later ones on the same stream fail the same way) */
    int e = ferror(f) ? (errno ? errno : EIO) : 0;
    if (fflush(f) != 0 && !e)
        e = errno;
    if (fclose(f) != 0 && !e)
        e = errno;
    if (e)
        return pfr_cli_fail(err, "%s: write failed: %s", sg->tmp[sg->n - 1], strerror(e));
    return 0;
}

/* A message that names a temporary file names the file it stands for ("DIR/phi.npy"), which is
 * what the user knows (the temporary one is gone). */
static void name_final(const pfr_stage *sg, pfr_error *err)
{
    for (int i = 0; err && i < sg->n; ++i) {
        const char *at = strstr(err->msg, sg->tmp[i]);
        if (!at)
            continue;
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%.*s%s%s", (int)(at - err->msg), err->msg, sg->final[i], at + strlen(sg->tmp[i]));
        memcpy(err->msg, msg, sizeof msg);
        return;
    }
}

/* rename(), or a failure on purpose where the tests ask for one (PFEDRL_FAULT_RENAME=NAME: the
 * rename into a file called NAME fails), so the roll-back is tested. */
static int do_rename(const char *from, const char *to)
{
    const char *fault = getenv("PFEDRL_FAULT_RENAME"), *base = strrchr(to, '/');
    if (fault && *fault && strcmp(base ? base + 1 : to, fault) == 0) {
        errno = EIO;
        return -1;
    }
    return rename(from, to);
}

int pfr_stage_finish(pfr_stage *sg, int ok, pfr_error *err)
{
    int done = 0, rc = ok ? 0 : -1;
    if (!ok)
        name_final(sg, err);
    for (; rc == 0 && done < sg->n; ++done)
        if (do_rename(sg->tmp[done], sg->final[done]) != 0) {
            rc = pfr_cli_fail(err, "cannot rename into %s: %s", sg->final[done], strerror(errno));
            break;
        }
    if (rc != 0) /* all or nothing: take back the ones renamed (0 .. done-1) */
        for (int i = 0; i < done; ++i)
            remove(sg->final[i]);
    for (int i = 0; i < sg->n; ++i)
        remove(sg->tmp[i]); /* gone already where renamed */
    return rc;
}
