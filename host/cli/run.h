/* run.h — a run of the command from start to end (run.c), new or resumed. */
#ifndef PFR_CLI_RUN_H
#define PFR_CLI_RUN_H

#include <stddef.h>

#include "pfedrl/pfedrl.h"

#define PFR_EXIT_RUN_FAILED 1
#define PFR_EXIT_BAD_INPUT 2

typedef struct pfr_run_request {
    const char *out_dir;
    const pfr_config *cfg;          /* a new run */
    int resume;                     /* go on from out_dir/checkpoint.pfr instead */
    const char *const *overrides;   /* resume: "key=value" changes (rounds, threads, ...) */
    size_t noverrides;
    int quiet;
    int theta;                      /* theta.npy: 1 always, 0 never, -1 up to PFR_CLI_THETA_AUTO_BYTES */
    int checkpoint;                 /* leave checkpoint.pfr at the end (always when interrupted) */
    int force;                      /* a new run may replace an earlier run's results in out_dir */
} pfr_run_request;

/* A resume: 0 if out_dir/config.yaml is absent or says what the checkpoint says (the overridden
 * keys aside); else the exit code, each differing key printed when `speak` (resume_config.c). */
int pfr_cli_check_resume_config(const pfr_run_request *q, int speak);

/* The exit code: 0, 1 (the run failed), 2 (bad input), 128 + signal (interrupted). */
int pfr_cli_run(const pfr_run_request *q);

#endif
