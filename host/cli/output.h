/* output.h — the CLI's result files, each written whole or not at all (temp file + rename). */
#ifndef PFR_CLI_OUTPUT_H
#define PFR_CLI_OUTPUT_H

#include "pfedrl/pfedrl.h"

/* Create dir (and missing parents); 0 on success, else -1 with a message in err. */
int pfr_cli_make_dir(const char *dir, pfr_error *err);
/* metrics.csv, summary.json and phi.npy ([S, d] float64), all or none. */
int pfr_cli_write_results(const char *dir, const pfr_sim *sim, pfr_error *err);
/* How many of the types' singular values summary.json lists. */
#define PFR_CLI_SINGULAR_VALUES 16
/* P and R are exported dense only up to this many bytes together (1 GiB). */
#define PFR_CLI_DENSE_EXPORT_BYTES (1024.0 * 1024.0 * 1024.0)
/* V.npy, mu.npy [M, S], singular_values.npy [min(S, M)], the chains as sparse rows
 * (P_indptr.npy int64 [M, S+1], offsets into P_indices.npy int32, P_data.npy and R_data.npy
 * [nnz]) and, when they fit in PFR_CLI_DENSE_EXPORT_BYTES (*dense = 1), P.npy, R.npy [M, S, S];
 * float64 unless said; all or none. */
int pfr_cli_write_env_npy(const char *dir, const pfr_sim *sim, int *dense, pfr_error *err);

#endif
