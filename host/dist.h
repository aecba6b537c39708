/*
 * dist.h — a run over MPI ranks (builds with PFR_MPI; docs/DESIGN.md §13): which agents and rows each
 * rank has, and the few collective operations the rest of pfedrl needs, so that nothing else includes
 * mpi.h. A build without MPI, or a process not started by mpirun, is one rank: every call here is
 * then a no-op that succeeds. Not part of the library's interface.
 *
 * The split: agent blocks (PFR_AGENT_BLOCK) go to ranks in contiguous, ordered ranges, so that global
 * block order is rank order, then block order within a rank; rows of Phi go to ranks in contiguous
 * ranges too (a row's owner adds every rank's block parts of it, in that order: the single process's
 * sums). Every rank keeps the host arrays of all agents (theta, states: the same shapes as one
 * process), computes only its own, and gathers the others' where the host needs them all
 * (evaluation, checkpoints). Every collective is called by every rank in the same order; a failure
 * on one rank travels with the next collective status check to all, with its message.
 */
#ifndef PFR_DIST_H
#define PFR_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "pfedrl/pfedrl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Start: MPI initialized when this process was started by an MPI launcher (and the build has MPI);
 * returns the ranks in the run (1 otherwise). A launcher asking for ranks of a build without MPI is
 * an error (PFR_ERR_CONFIG, named on rank 0), as are ranks built from different sources. */
pfr_status pfr_dist_start(int *argc, char ***argv, pfr_error *err);
void pfr_dist_stop(void);   /* MPI finalized (after the last collective) */
int pfr_dist_rank(void);    /* 0 .. size - 1 */
int pfr_dist_size(void);    /* 1 without MPI */
int pfr_dist_built(void);   /* 1 when compiled with MPI */
/* The rank a launcher says this process is (its environment), before or without MPI; 0 if none. */
int pfr_dist_launcher_rank(int *size);
/* End every rank now with `code` (a failure the others cannot be told of in order). */
void pfr_dist_abort(int code);

/* Contiguous, ordered ranges of n items over `size` ranks: rank r has [n r / size, n (r + 1) / size). */
static inline int64_t pfr_dist_first(int64_t n, int r, int size) { return (int64_t)((__int128)n * r / size); }

/* Collectives; each returns PFR_OK (size 1: at once) or PFR_ERR_INTERNAL with the MPI error in err. */
/* v[0 .. n-1] summed over the ranks, in place. */
pfr_status pfr_dist_sum_u64(uint64_t *v, int n, pfr_error *err);
/* v[0 .. n-1] the largest over the ranks, in place. */
pfr_status pfr_dist_max_int(int *v, int n, pfr_error *err);
/* Every rank's slice of an array of `count` items of `item` bytes, where rank r holds items
 * [first(count, r), first(count, r + 1)) (pfr_dist_first), gathered in place on every rank. */
pfr_status pfr_dist_allgather_slices(void *base, int64_t count, size_t item, pfr_error *err);
/* The same, where rank r holds items [lo[r], lo[r + 1]) (lo [size + 1], ascending). */
pfr_status pfr_dist_allgather_ranges(void *base, const int64_t *lo, size_t item, pfr_error *err);
/* Each rank sends send_bytes[q] bytes to rank q from send (packed in rank order) and receives
 * recv_bytes[q] from each q into recv (in rank order); recv_bytes is filled here (an all-to-all of the
 * sizes first); *recv is (re)allocated to fit, *recv_cap its size. */
pfr_status pfr_dist_exchange(const void *send, const int64_t *send_bytes, void **recv, size_t *recv_cap,
                             int64_t *recv_bytes, pfr_error *err);
/* Every rank's `bytes` bytes gathered into all (rank order); all holds size * bytes. */
pfr_status pfr_dist_allgather(const void *mine, size_t bytes, void *all, pfr_error *err);
/* Every rank's blob of its own length gathered on every rank into *all (allocated here, rank order),
 * with each rank's length in lens [size]. */
pfr_status pfr_dist_allgatherv(const void *mine, int64_t bytes, void **all, int64_t *lens, pfr_error *err);
/* buf [bytes] from rank root to all. */
pfr_status pfr_dist_bcast(void *buf, size_t bytes, int root, pfr_error *err);

/* The collective status check: every rank brings its status and message; all leave with the same
 * status (the first failing rank's, by rank) and that rank's message in err (its rank named when
 * size > 1). */
pfr_status pfr_dist_agree(pfr_status st, pfr_error *err);

#ifdef __cplusplus
}
#endif

#endif
