/*
 * linalg.c — the few dense double-precision routines pfedrl needs on the host: LU solve for the
 * small ground truth and thin QR for orthonormalizing Phi (eigenvalues: LAPACK, truth.c).
 * Sizes are small (S up to 1024, d and M up to hundreds), so plain serial loops suffice.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

pfr_status pfr_lu_solve(double *A, double *b, int n)
{
    for (int k = 0; k < n; ++k) {
        int p = k;
        double best = fabs(A[(size_t)k * n + k]);
        for (int i = k + 1; i < n; ++i) {
            double v = fabs(A[(size_t)i * n + k]);
            if (v > best) {
                best = v;
                p = i;
            }
        }
        if (!(best > 0.0))
            return PFR_ERR_NUMERIC;
        if (p != k) {
            for (int j = 0; j < n; ++j) {
                double t = A[(size_t)k * n + j];
                A[(size_t)k * n + j] = A[(size_t)p * n + j];
                A[(size_t)p * n + j] = t;
            }
            double t = b[k];
            b[k] = b[p];
            b[p] = t;
        }
        const double inv = 1.0 / A[(size_t)k * n + k];
        const double *rowk = A + (size_t)k * n;
        /* serial: callers solve side by side (one type a thread); a parallel loop here would
         * spawn a team per column, whose threads spin at each barrier: with another process busy
         * on the cores a 900-state type took 8.2 s instead of 0.1 s (bench/RESULTS.md) */
        for (int i = k + 1; i < n; ++i) {
            double *rowi = A + (size_t)i * n;
            const double f = rowi[k] * inv;
            if (f == 0.0)
                continue;
            rowi[k] = f;
            for (int j = k + 1; j < n; ++j)
                rowi[j] -= f * rowk[j];
            b[i] -= f * b[k];
        }
    }
    for (int i = n - 1; i >= 0; --i) {
        double s = b[i];
        for (int j = i + 1; j < n; ++j)
            s -= A[(size_t)i * n + j] * b[j];
        b[i] = s / A[(size_t)i * n + i];
    }
    return PFR_OK;
}

pfr_status pfr_qr_cgs2(double *X, int S, int d, double *R)
{
    /* Column j after column j-1, each sum over the rows in index order; the loops stream the rows
     * (X is row-major) but add every term in the same order as the column-by-column form. */
    memset(R, 0, sizeof(double) * (size_t)d * d);
    double *h = malloc(sizeof(double) * (size_t)d);
    if (!h)
        return PFR_ERR_NO_MEMORY;
    double scale = 0.0;
    for (size_t i = 0; i < (size_t)S * d; ++i)
        scale += X[i] * X[i];
    scale = sqrt(scale / d);
    pfr_status st = PFR_OK;
    for (int j = 0; j < d; ++j) {
        for (int pass = 0; pass < 2; ++pass) { /* the second pass restores orthogonality lost to rounding */
            for (int k = 0; k < j; ++k)
                h[k] = 0.0;
            for (int r = 0; r < S; ++r) {
                const double *x = X + (size_t)r * d;
                for (int k = 0; k < j; ++k)
                    h[k] += x[k] * x[j];
            }
            for (int k = 0; k < j; ++k)
                R[(size_t)k * d + j] += h[k];
            for (int r = 0; r < S; ++r) {
                double *x = X + (size_t)r * d;
                for (int k = 0; k < j; ++k)
                    x[j] -= h[k] * x[k];
            }
        }
        double nrm = 0.0;
        for (int r = 0; r < S; ++r)
            nrm += X[(size_t)r * d + j] * X[(size_t)r * d + j];
        nrm = sqrt(nrm);
        if (!(nrm > 1e-12 * scale)) {
            st = PFR_ERR_NUMERIC;
            break;
        }
        R[(size_t)j * d + j] = nrm;
        for (int r = 0; r < S; ++r)
            X[(size_t)r * d + j] /= nrm;
    }
    free(h);
    return st;
}
