/* output.h — the command's files (output.c), staging them (stage.c) and the life of a run's output
 * directory (rundir.c). */
#ifndef PFR_CLI_OUTPUT_H
#define PFR_CLI_OUTPUT_H

#include <stdio.h>

#include "pfedrl/pfedrl.h"

/* How many of the types' singular values summary.json lists. */
#define PFR_CLI_SINGULAR_VALUES 16
/* P and R are exported dense only up to this many bytes together (1 GiB). */
#define PFR_CLI_DENSE_EXPORT_BYTES (1024.0 * 1024.0 * 1024.0)
/* theta.npy is written up to this size unless asked (--theta / --no-theta). */
#define PFR_CLI_THETA_AUTO_BYTES (1024.0 * 1024.0 * 1024.0)

/* A message into err (if any); returns -1. */
int pfr_cli_fail(pfr_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- formats (output.c) --------------------------------------------------------------------- */
/* metrics.csv: one row per evaluation; metrics_by_type.csv: one row per evaluation and type. */
/* A JSON string: quotes, backslashes and control characters escaped, bytes that are not UTF-8 as U+FFFD. */
void pfr_cli_json_string(FILE *f, const char *s);
void pfr_cli_metrics_header(FILE *f);
void pfr_cli_metrics_row(FILE *f, const pfr_sim *sim, size_t i);
void pfr_cli_by_type_header(FILE *f);
void pfr_cli_by_type_rows(FILE *f, const pfr_sim *sim, size_t i);
/* An integer key's value (the config is opaque to the command; 0 for a key that is not an integer). */
int64_t pfr_cli_config_int(const pfr_config *cfg, const char *key);
/* config.yaml: the resolved config, which `pfedrl run` reads back to the same config. */
void pfr_cli_config_yaml(FILE *f, const pfr_config *cfg);

/* A set of files written under temporary names and renamed into place together: all or none
 * (a failed rename takes back the ones done). */
#define PFR_STAGE_MAX 12
typedef struct pfr_stage {
    char tmp[PFR_STAGE_MAX][4200], final[PFR_STAGE_MAX][4200];
    int n;
} pfr_stage;
const char *pfr_stage_path(pfr_stage *sg, const char *dir, const char *name);
FILE *pfr_stage_open(pfr_stage *sg, const char *dir, const char *name, pfr_error *err);
int pfr_stage_close(pfr_stage *sg, FILE *f, pfr_error *err);
/* Rename everything into place when ok; 0, or -1 with nothing of the set left in place. */
int pfr_stage_finish(pfr_stage *sg, int ok, pfr_error *err);

/* What ends a run besides the metrics files. */
typedef struct pfr_final {
    const char *status;    /* summary.json's "status": "completed", "interrupted" or "failed" */
    int64_t rounds_target; /* the rounds the run was asked for */
    int theta;             /* write theta.npy [N, d] */
    int checkpoint;        /* write checkpoint.pfr (pfedrl resume continues from it) */
    const char *error;     /* a failed run: why (summary.json's "error"), and no phi.npy; else NULL */
} pfr_final;
/* summary.json, config.yaml, phi.npy (not for a failed run), theta.npy, checkpoint.pfr staged in dir. */
int pfr_cli_stage_results(pfr_stage *sg, const char *dir, pfr_sim *sim, const pfr_final *what, pfr_error *err);
/* The environment: V.npy, mu.npy [M, S], singular_values.npy [min(S, M)], the chains as sparse
 * rows (P_indptr.npy int64 [M, S+1], offsets into P_indices.npy int32, P_data.npy and R_data.npy
 * [nnz]) and, when they fit in PFR_CLI_DENSE_EXPORT_BYTES (*dense = 1), P.npy, R.npy [M, S, S];
 * float64 unless said; all or none. */
int pfr_cli_write_env_npy(const char *dir, const pfr_sim *sim, int *dense, pfr_error *err);

/* ---- the run directory (rundir.c) ------------------------------------------------------------ */
typedef struct pfr_rundir pfr_rundir;
/* Before set-up: dir and its missing parents made, dir proved writable. NULL on failure (err). */
pfr_rundir *pfr_rundir_prepare(const char *dir, pfr_error *err);
/* The result files of an earlier run in the directory (after prepare's recovery), their names
 * listed into names ("summary.json, metrics.csv"); 0 where there are none. */
int pfr_rundir_earlier_results(const pfr_rundir *r, char *names, size_t cap);
/* The set-aside folder of a run killed before it finished that prepare put back, or NULL. */
const char *pfr_rundir_recovered(const pfr_rundir *r);
/* After set-up: an earlier run's results set aside (unless resume), the live metrics files opened
 * with the history so far. */
int pfr_rundir_start(pfr_rundir *r, const pfr_sim *sim, int resume, pfr_error *err);
/* After an evaluation: the new rows appended and flushed. */
int pfr_rundir_row(pfr_rundir *r, const pfr_sim *sim, pfr_error *err);
/* The end: the live files closed, the final files staged and renamed into place together, the
 * earlier results dropped. -1: nothing of it in place (then pfr_rundir_abandon). */
int pfr_rundir_finish(pfr_rundir *r, pfr_sim *sim, const pfr_final *what, pfr_error *err);
/* A failed run: what it created removed, earlier results restored, the directories it made removed. */
void pfr_rundir_abandon(pfr_rundir *r);
void pfr_rundir_free(pfr_rundir *r);
const char *pfr_rundir_path(const pfr_rundir *r);
/* From a signal handler during set-up: the (still empty) directories prepare made, removed. */
void pfr_rundir_signal_cleanup(void);

#endif
