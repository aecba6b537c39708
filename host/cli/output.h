/* output.h — the CLI's result files, each written whole or not at all (temp file + rename). */
#ifndef PFR_CLI_OUTPUT_H
#define PFR_CLI_OUTPUT_H

#include "pfedrl/pfedrl.h"

/* Create dir (and missing parents); 0 on success, else -1 with a message in err. */
int pfr_cli_make_dir(const char *dir, pfr_error *err);
/* metrics.csv, summary.json and phi.npy ([S, d] float64), all or none. */
int pfr_cli_write_results(const char *dir, const pfr_sim *sim, pfr_error *err);
/* P.npy, R.npy [M, S, S], V.npy, mu.npy [M, S] (float64). */
int pfr_cli_write_env_npy(const char *dir, const pfr_sim *sim, pfr_error *err);

#endif
