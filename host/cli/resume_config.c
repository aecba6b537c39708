/*
 * resume_config.c — before a resume: is DIR/config.yaml still what the run wrote? A resume follows
 * its checkpoint's config (that is what makes it continue bit for bit), and rewrites config.yaml
 * when it ends; an edit made to config.yaml in between would be ignored and then overwritten. So an
 * edit is refused before the set-up, naming every key that differs, both values, and how to make
 * that change for real: --set for the keys a resume may change, a new run for the others.
 *
 * Relative paths in this config.yaml are taken as pfr_config_set takes them (the current
 * directory), as the checkpoint's own config is: a folder written before paths were made absolute
 * then compares equal to itself.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "run.h"

#define SHOWN 80 /* a value is shown cut to this many characters */

/* 1 if `key` is given among the resume's overrides ("key=value"). */
static int overridden(const char *key, const char *const *overrides, size_t n)
{
    const size_t kl = strlen(key);
    for (size_t i = 0; i < n; ++i)
        if (strncmp(overrides[i], key, kl) == 0 && overrides[i][kl] == '=')
            return 1;
    return 0;
}

/* Each differing key, one line each to f (NULL: none); "--set key=value" for the ones a resume may
 * change appended to sets. The number of differing keys, and in *fixed how many of them a resume
 * cannot change. */
static int differences(const pfr_config *file, const pfr_config *saved, const pfr_run_request *q, FILE *f,
                       char *sets, size_t sn, int *fixed)
{
    int n = 0;
    *fixed = 0;
    for (size_t i = 0; i < pfr_config_key_count(); ++i) {
        const char *key = pfr_config_key_name(i);
        char a[PFR_PATH_MAX + 64], b[PFR_PATH_MAX + 64];
        pfr_config_key_value(file, i, a, sizeof a);
        pfr_config_key_value(saved, i, b, sizeof b);
        if (strcmp(a, b) == 0 || overridden(key, q->overrides, q->noverrides))
            continue;
        if (f)
            fprintf(f, "  %s: '%s' in config.yaml, '%s' in the checkpoint\n", key, a, b);
        const size_t sl = strlen(sets);
        if (pfr_checkpoint_runtime_key(key))
            snprintf(sets + sl, sn - sl, " --set %s=%s", key, a);
        else
            ++*fixed;
        ++n;
    }
    return n;
}

int pfr_cli_check_resume_config(const pfr_run_request *q, int speak)
{
    char path[PFR_PATH_MAX + 32], ckpt[PFR_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/config.yaml", q->out_dir);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.pfr", q->out_dir);
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return 0; /* none to compare (the resume writes it) */
    pfr_config *file = NULL, *saved = NULL;
    pfr_error err = {{0}};
    int rc = 0;
    FILE *f = speak ? stderr : NULL;
    if (pfr_config_create(&file, &err) != PFR_OK || pfr_config_create(&saved, &err) != PFR_OK) {
        if (f)
            fprintf(f, "pfedrl: %s\n", err.msg);
        rc = PFR_EXIT_RUN_FAILED;
    } else if (pfr_checkpoint_config(ckpt, saved, &err) != PFR_OK) {
        rc = 0; /* the resume's own loading says what is wrong with the checkpoint */
    } else if (pfr_config_load_yaml_paths(file, path, 0, &err) != PFR_OK) {
        if (f)
            fprintf(f, "pfedrl resume: %s no longer reads as the run's config (%s); a resume follows the checkpoint, "
                       "not config.yaml; allowed: config.yaml as the run wrote it, or none (the resume writes it "
                       "again)\n", path, err.msg);
        rc = PFR_EXIT_BAD_INPUT;
    } else {
        char sets[2 * PFR_PATH_MAX] = "";
        int fixed = 0;
        const int n = differences(file, saved, q, NULL, sets, sizeof sets, &fixed); /* count, then say */
        if (n > 0 && f) {
            fprintf(f, "pfedrl resume: %s was changed since the run wrote it, and a resume follows the checkpoint, "
                       "not config.yaml:\n", path);
            sets[0] = '\0';
            differences(file, saved, q, f, sets, sizeof sets, &fixed);
            fprintf(f, "allowed: ");
            if (fixed < n)
                fprintf(f, "%s given to the resume (pfedrl resume %s%s)%s",
                        fixed ? "the changes a resume may make" : "the changes", q->out_dir, sets, fixed ? "; " : "");
            if (fixed)
                fprintf(f, "%s in a new run (pfedrl run %s -o NEWDIR)", fixed < n ? "the others" : "the changes", path);
            fprintf(f, "; or config.yaml put back as it was\n");
        }
        rc = n > 0 ? PFR_EXIT_BAD_INPUT : 0;
    }
    pfr_config_destroy(file);
    pfr_config_destroy(saved);
    return rc;
}
