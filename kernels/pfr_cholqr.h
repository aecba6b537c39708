/*
 * pfr_cholqr.h — Cholesky-QR of the shared Phi, the per-round orthonormalization of both engines,
 * as __host__ __device__ pieces: the CPU engine calls them in loops, the CUDA engine one thread per
 * entry (the factor) or per row (the solve), so both evaluate the same expressions.
 *
 *   G = Phi^T Phi [d, d] (double)          pfr_gram; device: pfr_gram_tile_entry, then the tiles in order
 *   G = U^T U, U upper triangular          pfr_chol_pivot / pfr_chol_offdiag, row k after row k-1
 *   Phi <- c Phi U^{-1},  R = U / c        pfr_chol_solve_row; c = sqrt(S/d) so Phi^T Phi = (S/d) I
 * and old Phi = new Phi R, so each theta_i becomes R theta_i (pfr_map_theta) and Phi theta_i is kept.
 * U has a positive diagonal, so the result is the Q of the thin QR that the start-up CGS2 computes.
 *
 * Why one pass suffices: each round starts from the orthonormal Phi of the round before and moves it
 * by an average of beta-sized steps, so Phi is well conditioned (kappa ~ 1) and Cholesky-QR in double
 * is exact to rounding. A pivot below PFR_CHOL_TINY * trace(G) means Phi lost rank (or diverged).
 */
#ifndef PFR_CHOLQR_H
#define PFR_CHOLQR_H

#include <math.h>

#include "pfr_agent_math.h"

/* G [d, d] = X^T X for X [S, d] row-major float, in double: rows in tiles of PFR_GRAM_TILE, each
 * tile's sum from 0 with its rows in index order, the tiles added in order (for S up to a tile: the
 * rows in order). The device sums the tiles in parallel (pfr_gram_tile_entry) and then in order
 * (pfr_colsum), so both engines get these bits. P [d, d]: scratch. */
PFR_HD static inline void pfr_gram(const float *X, int S, int d, double *G, double *P)
{
    for (int e = 0; e < d * d; ++e)
        G[e] = 0.0;
    for (int s0 = 0; s0 < S; s0 += PFR_GRAM_TILE) {
        const int s1 = S - s0 < PFR_GRAM_TILE ? S : s0 + PFR_GRAM_TILE;
        for (int e = 0; e < d * d; ++e)
            P[e] = 0.0;
        for (int s = s0; s < s1; ++s) {
            const float *x = X + (size_t)s * d;
            for (int a = 0; a < d; ++a)
                for (int b = 0; b < d; ++b)
                    P[(size_t)a * d + b] += (double)x[a] * (double)x[b];
        }
        for (int e = 0; e < d * d; ++e)
            G[e] += P[e];
    }
}

/* Entry (a, b) of tile t's part of the Gram matrix: pfr_gram's P for that tile. */
PFR_HD static inline double pfr_gram_tile_entry(const float *X, int S, int d, int t, int a, int b)
{
    const int s0 = t * PFR_GRAM_TILE, s1 = S - s0 < PFR_GRAM_TILE ? S : s0 + PFR_GRAM_TILE;
    double p = 0.0;
    for (int s = s0; s < s1; ++s)
        p += (double)X[(size_t)s * d + a] * (double)X[(size_t)s * d + b];
    return p;
}

/* Tiles of the Gram matrix of S rows. */
PFR_HD static inline int pfr_gram_tiles(int S) { return (S + PFR_GRAM_TILE - 1) / PFR_GRAM_TILE; }

/* The factor works in place in G's upper triangle: rows 0..k-1 of U already there, row k of G still
 * the Gram row. The squared pivot of row k: */
PFR_HD static inline double pfr_chol_pivot(const double *G, int d, int k)
{
    double p = G[(size_t)k * d + k];
    for (int m = 0; m < k; ++m)
        p -= G[(size_t)m * d + k] * G[(size_t)m * d + k];
    return p;
}

/* Entry (k, j), j > k, of U, given its diagonal ukk = sqrt(pivot). */
PFR_HD static inline double pfr_chol_offdiag(const double *G, int d, int k, int j, double ukk)
{
    double v = G[(size_t)k * d + j];
    for (int m = 0; m < k; ++m)
        v -= G[(size_t)m * d + k] * G[(size_t)m * d + j];
    return v / ukk;
}

/* 1 if the pivot is usable (also rejects NaN). */
PFR_HD static inline int pfr_chol_pivot_ok(double p, double trace) { return p > PFR_CHOL_TINY * trace; }

/* The factor by a block of threads (first/stride and PFR_BARRIER as in pfr_fold.h): row k of U after
 * row k-1, entry (k, j) by the thread that owns j; then R = U / c with the lower triangles zeroed.
 * Nobody reads U's diagonal during the factor (pivots and off-diagonal terms use rows above only),
 * so it is written as soon as known. `sh` is shared by the block. Returns 0, or -1 (every thread)
 * when a pivot is too small or already_failed is set (then G is partly factored, R untouched). */
typedef struct pfr_chol_shared {
    double ukk, trace;
    int bad;
} pfr_chol_shared;

PFR_HD static inline int pfr_chol_block(double *G, int d, double c, double *R, int already_failed, int first,
                                        int stride, pfr_chol_shared *sh)
{
    if (first == 0) {
        double t = 0.0;
        for (int k = 0; k < d; ++k)
            t += G[(size_t)k * d + k];
        sh->trace = t;
        sh->bad = already_failed;
    }
    PFR_BARRIER();
    for (int k = 0; k < d; ++k) {
        if (first == 0 && !sh->bad) {
            const double p = pfr_chol_pivot(G, d, k);
            if (pfr_chol_pivot_ok(p, sh->trace))
                sh->ukk = sqrt(p);
            else
                sh->bad = 1;
        }
        PFR_BARRIER();
        if (sh->bad)
            return -1; /* every thread: the flag was read after the barrier */
        for (int j = first; j < d; j += stride)
            if (j > k)
                G[(size_t)k * d + j] = pfr_chol_offdiag(G, d, k, j, sh->ukk);
        if (first == 0)
            G[(size_t)k * d + k] = sh->ukk;
        PFR_BARRIER(); /* row k done before row k+1 reads it and before ukk changes */
    }
    for (int e = first; e < d * d; e += stride) {
        const int r = e / d, q = e % d;
        if (q < r)
            G[e] = 0.0;
        R[e] = q < r ? 0.0 : G[e] / c;
    }
    return 0;
}

/* row [d] <- c * row U^{-1} (U [d, d] upper triangular, row-major): forward substitution on the row
 * vector, y U = row, in double; y [d] is scratch. */
PFR_HD static inline void pfr_chol_solve_row(const double *U, int d, double c, float *row, double *y)
{
    for (int j = 0; j < d; ++j) {
        double v = (double)row[j];
        for (int m = 0; m < j; ++m)
            v -= y[m] * U[(size_t)m * d + j];
        y[j] = v / U[(size_t)j * d + j];
    }
    for (int j = 0; j < d; ++j)
        row[j] = (float)(c * y[j]);
}

/*
 * The whole Cholesky-QR of one Phi [S, d] by one thread, in place: Phi <- c Phi U^{-1} and, unless
 * theta is NULL, theta [d] <- R theta. Afterwards G [d, d] holds R = U / c (row-major, upper
 * triangular). G holds [2, d, d] (the second half: pfr_gram's scratch), y [d] is scratch. Returns 0,
 * or -1 (Phi untouched) when a pivot is too small.
 * The CPU engine runs it for the shared Phi and for every agent's Phi_i (local_rep); the CUDA
 * engine for every Phi_i, a thread per agent.
 */
PFR_HD static inline int pfr_cholqr_one(float *phi, int S, int d, float *theta, double *G, double *y)
{
    pfr_gram(phi, S, d, G, G + (size_t)d * d);
    double trace = 0.0;
    for (int k = 0; k < d; ++k)
        trace += G[(size_t)k * d + k];
    for (int k = 0; k < d; ++k) {
        const double p = pfr_chol_pivot(G, d, k);
        if (!pfr_chol_pivot_ok(p, trace))
            return -1;
        const double ukk = sqrt(p);
        for (int j = k + 1; j < d; ++j)
            G[(size_t)k * d + j] = pfr_chol_offdiag(G, d, k, j, ukk);
        G[(size_t)k * d + k] = ukk;
    }
    const double c = sqrt((double)S / d);
    for (int i = 0; i < d; ++i)
        for (int j = 0; j < i; ++j)
            G[(size_t)i * d + j] = 0.0;
    for (int s = 0; s < S; ++s)
        pfr_chol_solve_row(G, d, c, phi + (size_t)s * d, y);
    for (int e = 0; e < d * d; ++e)
        G[e] = G[e] / c;
    if (theta)
        pfr_map_theta(G, theta, d);
    return 0;
}

#endif
