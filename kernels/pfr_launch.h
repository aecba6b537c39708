/*
 * pfr_launch.h — the CUDA kernels' launchers, what the host side of the CUDA engine calls
 * (host/cuda/). Every device buffer is agent-major (structure of arrays); shapes are given next to
 * each argument or in the argument structs (pfr_agent_round.h, pfr_fold.h). Each launcher returns
 * the launch's cudaError_t (cudaGetLastError), which the caller checks.
 */
#ifndef PFR_LAUNCH_H
#define PFR_LAUNCH_H

#include <cuda_runtime.h>
#include <stdint.h>

#include "pfedrl/pfedrl.h"
#include "pfr_agent_round.h"
#include "pfr_fold.h"

/* *fail while no orthonormalization has failed */
#define PFR_CUDA_NO_FAIL 0xFFFFFFFFFFFFFFFFull

#ifdef __cplusplus
extern "C" {
#endif
/* The local-step kernel to use for this size (PFR_CUDA_KERNEL_AUTO resolved). */
pfr_cuda_kernel pfr_cuda_pick_kernel(pfr_cuda_kernel requested, int d);
cudaError_t pfr_cuda_launch_local_steps(const pfr_round_args *a, pfr_cuda_kernel kernel, cudaStream_t stream);
/* The aggregation (aggregate.cu; the order: pfr_fold.h). Dense S d: the fold, then the partials summed
 * over blocks in order (colsum: out[e] (+)= partial[b, e] over b). Sparse: fold_prep (entries), then
 * sort.cu's sort and selection of runs, run_sums, row_sums (into the sums, rows marked). */
cudaError_t pfr_cuda_launch_fold(const pfr_fold_args *a, cudaStream_t stream);
cudaError_t pfr_cuda_launch_fold_prep(const pfr_fold_args *a, cudaStream_t stream);
cudaError_t pfr_cuda_launch_run_sums(const pfr_fold_args *a, const pfr_runs *p, const int *runs, cudaStream_t stream);
cudaError_t pfr_cuda_launch_row_sums(const pfr_runs *p, const int *runs, int d, cudaStream_t stream);
cudaError_t pfr_cuda_launch_colsum(const double *partial, int64_t cols, int64_t blocks, double *out, int accumulate,
                                   cudaStream_t stream);
/* sort.cu: the temporary storage both CUB steps need for n entries; the entries sorted by key (bits
 * of it), stably, into keys[*current], vals[*current]; the runs' first entries and their count. */
cudaError_t pfr_cuda_sparse_temp_bytes(int64_t n, size_t *bytes);
cudaError_t pfr_cuda_sort_entries(void *temp, size_t temp_bytes, uint32_t *keys[2], uint32_t *vals[2], int64_t n,
                                  int bits, int *current, cudaStream_t stream);
cudaError_t pfr_cuda_select_runs(void *temp, size_t temp_bytes, const uint32_t *keys, const uint32_t *vals, int64_t n,
                                 int S, int qbits, int *run_start, int *runs, cudaStream_t stream);
/* Phi += scale * sums where a row is marked (noisy: every row, with the private aggregation's noise),
 * the sums and marks emptied; theta_i = scale * sum_theta for every agent. */
cudaError_t pfr_cuda_launch_apply(float *phi, double *sums, uint8_t *touched, double scale, int S, int d,
                                  cudaStream_t stream);
cudaError_t pfr_cuda_launch_apply_noisy(float *phi, double *sums, uint8_t *touched, double scale, int S, int d,
                                        double noise_std, uint64_t seed, int64_t round, cudaStream_t stream);
cudaError_t pfr_cuda_launch_broadcast_theta(float *theta, const double *sum_theta, double scale, int64_t N, int d,
                                            cudaStream_t stream);
/* Cholesky-QR of the shared Phi (kernels/pfr_cholqr.h):
 * gram_tiles: tiles [pfr_gram_tiles(S), d, d], each tile's part of Phi^T Phi; G is then their sum in
 *   order (pfr_cuda_launch_colsum), pfr_gram's bits;
 * chol: G = U^T U in place (one block), R = U / c; on a bad pivot it records `round` in *fail
 *   (atomicMin: the first failed round) and the next two kernels leave Phi and theta alone;
 * solve_rows: Phi <- c Phi U^{-1}, a thread per row;
 * map_theta: theta_i <- R theta_i for every agent; R [d, d] upper triangular, row-major. */
/* local_rep: Cholesky-QR of every agent's Phi_i [S, d] and theta_i <- R_i theta_i on the device, for
 * the d with a compiled kernel (pfr_cuda_agent_cholqr_supported); a failure records `round`. */
int pfr_cuda_agent_cholqr_supported(int d);
cudaError_t pfr_cuda_launch_agent_cholqr(float *agent_phi, float *theta, int64_t N, int S, int d,
                                         unsigned long long *fail, unsigned long long round,
                                         const unsigned long long *round_dev, cudaStream_t stream);
/* Graph mode: ctr = {t0, round} on the device; after a round t0 += K and round += 1.
 * (round_dev above: when not NULL the round number is read there instead of `round`.) */
cudaError_t pfr_cuda_launch_advance(uint64_t *ctr, uint64_t K, cudaStream_t stream);
cudaError_t pfr_cuda_launch_gram_tiles(const float *phi, int S, int d, double *tiles, cudaStream_t stream);
cudaError_t pfr_cuda_launch_chol(double *gram, int d, double c, double *R, unsigned long long *fail,
                                 unsigned long long round, const unsigned long long *round_dev, cudaStream_t stream);
cudaError_t pfr_cuda_launch_solve_rows(float *phi, const double *gram, int S, int d, double c,
                                       const unsigned long long *fail, cudaStream_t stream);
cudaError_t pfr_cuda_launch_map_theta(float *theta, const double *R, int64_t N, int d, const unsigned long long *fail,
                                      cudaStream_t stream);
/* Per-block metric sums blk [nblocks, 3] from the per-type moments mom [M, d*d + d], vnorm2 [M]. */
cudaError_t pfr_cuda_launch_metrics(const float *theta, int64_t N, int d, const double *mom, const double *vnorm2,
                                    int type_first, int type_count, double *blk, cudaStream_t stream);
/* local_rep: the same sums from every agent's own Phi_i; mu, V [M, S] (blk[3b+2] = sum of |Phi_i|). */
cudaError_t pfr_cuda_launch_metrics_own(const float *agent_phi, const float *theta, int64_t N, int S, int d,
                                        const double *mu, const double *V, const double *vnorm2, int type_first,
                                        int type_count, double *blk, cudaStream_t stream);
/* For the tests: the words of (agent[q], step[q]) from cuRAND and from pfr_stream_words on the device. */
cudaError_t pfr_cuda_launch_philox_words(uint64_t seed, const uint64_t *agent, const uint64_t *step, int n,
                                         uint4 *curand_out, uint4 *own_out, cudaStream_t stream);
#ifdef __cplusplus
}
#endif

#endif
