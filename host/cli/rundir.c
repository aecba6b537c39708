/*
 * rundir.c — the life of a run's output directory (output.h):
 *   prepare   before set-up: the directory made (and every missing parent, remembered), proved
 *             writable, and locked (flock on the directory itself, so no lock file is left behind
 *             and the lock dies with the process): a second run or resume there is refused, naming
 *             the holder's PID; a bad --out costs nothing;
 *   start     after set-up: the results there set aside (an earlier run's, or for a resume the run's
 *             own so far), the live metrics files opened (a resumed run: rewritten from the
 *             checkpoint's history); so until finish everything in the folder's result names is
 *             this run's;
 *   row       after every evaluation: its rows appended and flushed (a reader sees whole rows);
 *   finish    the final files written under temporary names, then renamed into place together; if
 *             a rename fails, the ones done are taken back and the earlier results restored;
 *   abandon   a failed run: everything it created removed (its periodic checkpoint too), the
 *             earlier results restored, the directories it made removed: the folder as it was.
 * A folder's checkpoint, metrics and summary always describe one run at one round: a run finished
 * without a checkpoint leaves none of an earlier round (a later resume would go back to it), and a
 * run killed before it finished (its results still set aside) is undone by the next start there,
 * which puts them back and says so (pfr_rundir_recovered).
 */
#include "output.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_CAP 4200
/* What a run leaves in its directory: set aside when a new run starts there. */
static const char *const RESULT_FILES[] = {"metrics.csv", "metrics_by_type.csv", "summary.json", "phi.npy",
                                           "theta.npy",   "config.yaml",         "checkpoint.pfr", NULL};

/* ---- the directory ------------------------------------------------------------------------------ */
struct pfr_rundir {
    char dir[PATH_CAP];
    char aside[PATH_CAP]; /* where an earlier run's results wait ("" if none were there) */
    int aside_made;
    FILE *live, *live_type;
    int lock_fd;          /* the directory, open and flock'ed for the run's life (-1: none) */
    int started;          /* start ran: the result names in dir are this run's (the others set aside) */
    char recovered[256];  /* the set-aside folder of a killed run that prepare put back ("" none) */
    int fresh;
    size_t rows;          /* evaluations written to the live files */
};

/* Directories created by prepare, deepest last, for a clean-up from a signal handler. */
#define MADE_MAX 16
static char made[MADE_MAX][PATH_CAP];
static volatile int nmade;

/* out = dir/name, cut to PATH_CAP (prepare keeps dir 64 bytes short of it, so nothing is cut) */
static void join(char *out, const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    a = a < PATH_CAP - 2 ? a : PATH_CAP - 2;
    b = a + 1 + b < PATH_CAP ? b : PATH_CAP - 2 - a;
    memcpy(out, dir, a);
    out[a] = '/';
    memcpy(out + a + 1, name, b);
    out[a + 1 + b] = '\0';
}

/* The PID that holds a lock on the file with inode ino, from /proc/locks ("1: FLOCK ADVISORY WRITE
 * 1234 08:01:5678 0 EOF"); 0 when unknown (no /proc, or the holder just left). */
static long lock_holder(ino_t ino)
{
    FILE *f = fopen("/proc/locks", "r");
    if (!f)
        return 0;
    char line[256];
    long pid = 0;
    while (!pid && fgets(line, sizeof line, f)) {
        char kind[32], mode[32], rw[32], dev[64];
        long p;
        if (sscanf(line, "%*[^:]: %31s %31s %31s %ld %63s", kind, mode, rw, &p, dev) != 5 || strcmp(kind, "FLOCK") != 0)
            continue;
        const char *last = strrchr(dev, ':');
        if (last && strtoull(last + 1, NULL, 10) == (unsigned long long)ino)
            pid = p;
    }
    fclose(f);
    return pid;
}

/* One run at a time in a directory: an exclusive flock on the directory, held until the process ends
 * (or pfr_rundir_free). 0, or -1 with the holder named in err. */
static int lock_dir(pfr_rundir *r, const struct stat *st, pfr_error *err)
{
    r->lock_fd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (r->lock_fd < 0)
        return pfr_cli_fail(err, "--out %s: cannot open it to lock it: %s", r->dir, strerror(errno));
    if (flock(r->lock_fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    const int e = errno;
    close(r->lock_fd);
    r->lock_fd = -1;
    if (e != EWOULDBLOCK)
        return pfr_cli_fail(err, "--out %s: cannot lock it: %s", r->dir, strerror(e));
    const long pid = lock_holder(st->st_ino);
    char who[64] = "";
    if (pid > 0)
        snprintf(who, sizeof who, " (pid %ld)", pid);
    return pfr_cli_fail(err, "%s is in use by another pfedrl run or resume%s; allowed: one at a time in a directory "
                        "(wait for it to end, or choose another --out)", r->dir, who);
}

static int starts_with(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* Whether a name is one of this command's temporary files: a staged file (.NAME.tmp.PID), a
 * checkpoint being written (checkpoint.pfr.tmp.PID) or the writability probe. */
static int temporary_name(const char *n)
{
    const char *t = strstr(n, ".tmp.");
    return starts_with(n, ".pfedrl-probe.") || (t && strspn(t + 5, "0123456789") == strlen(t + 5) && t[5] &&
                                                (n[0] == '.' || starts_with(n, "checkpoint.pfr")));
}

/* Under the lock, before anything else: what a run killed before it finished left. Its earlier
 * results, set aside in .pfedrl-previous.PID, are the folder's last whole state: put back (over the
 * killed run's partial files, whose names with no earlier file are removed), and its temporary
 * files removed. No other run can be writing here (the lock). */
static void recover(pfr_rundir *r)
{
    DIR *d = opendir(r->dir);
    if (!d)
        return;
    char a[PATH_CAP], b[PATH_CAP];
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (temporary_name(e->d_name)) {
            join(a, r->dir, e->d_name);
            remove(a);
            continue;
        }
        if (!starts_with(e->d_name, ".pfedrl-previous."))
            continue;
        char aside[PATH_CAP];
        join(aside, r->dir, e->d_name);
        for (int i = 0; RESULT_FILES[i]; ++i) {
            join(a, r->dir, RESULT_FILES[i]);
            join(b, aside, RESULT_FILES[i]);
            if (access(b, F_OK) == 0)
                rename(b, a);
            else
                remove(a);
        }
        if (rmdir(aside) == 0)
            snprintf(r->recovered, sizeof r->recovered, "%s", e->d_name);
    }
    closedir(d);
}

const char *pfr_rundir_recovered(const pfr_rundir *r) { return r && r->recovered[0] ? r->recovered : NULL; }

pfr_rundir *pfr_rundir_prepare(const char *dir, pfr_error *err)
{
    pfr_rundir *r = calloc(1, sizeof *r);
    if (!r) {
        pfr_cli_fail(err, "out of memory");
        return NULL;
    }
    r->lock_fd = -1;
    if (snprintf(r->dir, sizeof r->dir, "%s", dir) >= (int)sizeof r->dir - 64) {
        pfr_cli_fail(err, "--out %s: path too long", dir);
        free(r);
        return NULL;
    }
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s", dir);
    nmade = 0;
    for (char *p = path + 1;; ++p) { /* every missing parent, then dir */
        const char c = *p;
        if (c == '/' || c == '\0') {
            *p = '\0';
            if (mkdir(path, 0777) == 0) {
                if (nmade < MADE_MAX)
                    snprintf(made[nmade++], PATH_CAP, "%s", path);
            } else if (errno != EEXIST) {
                pfr_cli_fail(err, "--out %s: cannot create %s: %s", dir, path, strerror(errno));
                pfr_rundir_abandon(r);
                free(r);
                return NULL;
            }
            *p = c;
        }
        if (c == '\0')
            break;
    }
    struct stat st;
    char probe[PATH_CAP];
    snprintf(probe, sizeof probe, "%s/.pfedrl-probe.%ld", dir, (long)getpid());
    FILE *f = NULL;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        pfr_cli_fail(err, "--out %s: not a directory", dir);
    } else if (!(f = fopen(probe, "w"))) {
        pfr_cli_fail(err, "--out %s: cannot write there: %s", dir, strerror(errno));
    } else {
        fclose(f);
        remove(probe);
        if (lock_dir(r, &st, err) == 0) {
            recover(r);
            return r;
        }
    }
    pfr_rundir_abandon(r);
    free(r);
    return NULL;
}

int pfr_rundir_earlier_results(const pfr_rundir *r, char *names, size_t cap)
{
    int n = 0;
    size_t used = 0;
    names[0] = '\0';
    for (const char *const *f = RESULT_FILES; *f && r; ++f) {
        char path[PATH_CAP];
        join(path, r->dir, *f);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (used + strlen(*f) + 3 < cap)
            used += (size_t)snprintf(names + used, cap - used, "%s%s", n ? ", " : "", *f);
        ++n;
    }
    return n;
}

void pfr_rundir_signal_cleanup(void)
{
    for (int i = nmade - 1; i >= 0; --i)
        rmdir(made[i]); /* async-signal-safe; only empty ones go */
}

/* Move the result files of an earlier run into dir/.pfedrl-previous.PID (to = 1), or back (0). */
static void set_aside(pfr_rundir *r, int to)
{
    char a[PATH_CAP], b[PATH_CAP];
    for (int i = 0; RESULT_FILES[i]; ++i) {
        join(a, r->dir, RESULT_FILES[i]);
        join(b, r->aside, RESULT_FILES[i]);
        if (to) {
            if (access(a, F_OK) != 0)
                continue;
            if (!r->aside_made)
                r->aside_made = mkdir(r->aside, 0777) == 0;
            if (r->aside_made)
                rename(a, b);
        } else if (r->aside_made && access(b, F_OK) == 0) {
            rename(b, a);
        }
    }
    if (!to && r->aside_made && rmdir(r->aside) == 0)
        r->aside_made = 0;
}

static void drop_aside(pfr_rundir *r)
{
    if (!r->aside_made)
        return;
    char b[PATH_CAP];
    for (int i = 0; RESULT_FILES[i]; ++i) {
        join(b, r->aside, RESULT_FILES[i]);
        remove(b);
    }
    rmdir(r->aside);
    r->aside_made = 0;
}

static int open_live(pfr_rundir *r, const pfr_sim *sim, pfr_error *err)
{
    char a[PATH_CAP], b[PATH_CAP];
    join(a, r->dir, "metrics.csv");
    join(b, r->dir, "metrics_by_type.csv");
    r->live = fopen(a, "w");
    r->live_type = r->live ? fopen(b, "w") : NULL;
    if (!r->live || !r->live_type)
        return pfr_cli_fail(err, "cannot create %s: %s", r->live ? b : a, strerror(errno));
    pfr_cli_metrics_header(r->live);
    pfr_cli_by_type_header(r->live_type);
    r->rows = 0;
    return pfr_rundir_row(r, sim, err); /* a resumed run's history so far */
}

int pfr_rundir_start(pfr_rundir *r, const pfr_sim *sim, int resume, pfr_error *err)
{
    r->fresh = !resume;
    char name[48];
    snprintf(name, sizeof name, ".pfedrl-previous.%ld", (long)getpid());
    join(r->aside, r->dir, name);
    set_aside(r, 1); /* a resume too: a failed one puts the run's results back as they were */
    r->started = 1;
    return open_live(r, sim, err);
}

int pfr_rundir_row(pfr_rundir *r, const pfr_sim *sim, pfr_error *err)
{
    const char *hook = getenv("PFEDRL_TEST_FAIL_WRITE_AT_ROUND"); /* tests: a disk that fills up */
    if (hook && pfr_sim_round(sim) >= atoll(hook))
        return pfr_cli_fail(err, "%s/metrics.csv: write failed: No space left on device (PFEDRL_TEST_FAIL_WRITE_AT_ROUND, "
                            "made by a test)", r->dir);
    const size_t n = pfr_sim_metrics_count(sim);
    for (; r->rows < n; ++r->rows) {
        pfr_cli_metrics_row(r->live, sim, r->rows);
        pfr_cli_by_type_rows(r->live_type, sim, r->rows);
    }
    if (fflush(r->live) != 0 || ferror(r->live))
        return pfr_cli_fail(err, "%s/metrics.csv: write failed: %s", r->dir, strerror(errno));
    if (fflush(r->live_type) != 0 || ferror(r->live_type))
        return pfr_cli_fail(err, "%s/metrics_by_type.csv: write failed: %s", r->dir, strerror(errno));
    return 0;
}

int pfr_rundir_finish(pfr_rundir *r, pfr_sim *sim, const pfr_final *what, pfr_error *err)
{
    int ok = pfr_rundir_row(r, sim, err) == 0;
    const int c1 = fclose(r->live), e1 = errno, c2 = fclose(r->live_type), e2 = errno;
    r->live = r->live_type = NULL;
    if (ok && (c1 != 0 || c2 != 0))
        ok = pfr_cli_fail(err, "%s/%s: write failed: %s", r->dir, c1 ? "metrics.csv" : "metrics_by_type.csv",
                          strerror(c1 ? e1 : e2)) == 0;
    pfr_stage sg = {.n = 0};
    if (ok)
        ok = pfr_cli_stage_results(&sg, r->dir, sim, what, err) == 0;
    if (pfr_stage_finish(&sg, ok, err) != 0)
        return -1; /* the caller abandons: earlier results come back */
    if (!what->checkpoint) { /* a periodic one of an earlier round would not match the results */
        char a[PATH_CAP];
        join(a, r->dir, "checkpoint.pfr");
        remove(a);
    }
    drop_aside(r);
    r->started = 0; /* done: the folder is the run's */
    return 0;
}

static void close_live(pfr_rundir *r)
{
    if (r->live)
        fclose(r->live);
    if (r->live_type)
        fclose(r->live_type);
    r->live = r->live_type = NULL;
}

void pfr_rundir_abandon(pfr_rundir *r)
{
    if (!r)
        return;
    close_live(r);
    if (r->started) { /* every result name in the folder is this run's: its live files, its checkpoints */
        char a[PATH_CAP];
        for (int i = 0; RESULT_FILES[i]; ++i) {
            join(a, r->dir, RESULT_FILES[i]);
            remove(a);
        }
        r->started = 0;
    }
    if (r->aside[0])
        set_aside(r, 0);
    pfr_rundir_signal_cleanup();
    nmade = 0;
}

void pfr_rundir_free(pfr_rundir *r)
{
    if (!r)
        return;
    close_live(r);
    if (r->lock_fd >= 0)
        close(r->lock_fd); /* the lock goes with it */
    free(r);
}

const char *pfr_rundir_path(const pfr_rundir *r) { return r->dir; }
