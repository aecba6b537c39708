/*
 * orthonormalize.c — orthonormalization of Phi on the host, in double: CGS2 for the start-up Phi
 * (any conditioning), Cholesky-QR (kernels/pfr_cholqr.h, the device's expressions too) for the
 * per-round step of the CPU engine and of the CUDA engine's host fallback.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/pfr_agent_math.h"
#include "kernels/pfr_cholqr.h"
#include "internal.h"

pfr_status pfr_orthonormalize_factor(float *phi, int S, int d, double *R)
{
    double *X = malloc(sizeof(double) * (size_t)S * d);
    if (!X)
        return PFR_ERR_NO_MEMORY;
    for (size_t i = 0; i < (size_t)S * d; ++i)
        X[i] = phi[i];
    pfr_status st = pfr_qr_cgs2(X, S, d, R);
    if (st == PFR_OK) {
        /* Phi = Q R = (c Q)(R / c) with c = sqrt(S/d): Phi^T Phi = (S/d) I, rows of mean norm 1 */
        const double c = sqrt((double)S / d);
        for (size_t i = 0; i < (size_t)S * d; ++i)
            phi[i] = (float)(c * X[i]);
        for (int i = 0; i < d * d; ++i)
            R[i] /= c;
    }
    free(X);
    return st;
}

pfr_status pfr_cholqr_factor(float *phi, int S, int d, double *R)
{
    double *G = malloc(sizeof(double) * (2 * (size_t)d * d + (size_t)d)); /* G, the Gram's scratch, y */
    if (!G)
        return PFR_ERR_NO_MEMORY;
    const int ok = pfr_cholqr_one(phi, S, d, NULL, G, G + 2 * (size_t)d * d) == 0;
    if (ok)
        memcpy(R, G, sizeof(double) * (size_t)d * d);
    free(G);
    return ok ? PFR_OK : PFR_ERR_NUMERIC;
}

pfr_status pfr_orthonormalize_host(float *phi, int S, int d, float *theta, int64_t n, int threads)
{
    double *R = malloc(sizeof(double) * (size_t)d * d);
    if (!R)
        return PFR_ERR_NO_MEMORY;
    pfr_status st = pfr_cholqr_factor(phi, S, d, R);
    if (st == PFR_OK) {
#pragma omp parallel for num_threads(threads) schedule(static) if (n > 4096)
        for (int64_t a = 0; a < n; ++a)
            pfr_map_theta(R, theta + (size_t)a * d, d);
    }
    free(R);
    return st;
}
