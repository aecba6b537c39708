/*
 * linalg.c — the few dense double-precision routines pfedrl needs on the host: LU solve for the
 * ground truth, Jacobi eigenvalues for the best rank-d error, and thin QR for orthonormalizing Phi.
 * Sizes are small (S up to a few thousand, d and M up to hundreds), so plain loops suffice.
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
#pragma omp parallel for schedule(static) if (n > 256)
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

void pfr_sym_eigenvalues(double *A, int n, double *w)
{
    for (int sweep = 0; sweep < 100; ++sweep) {
        double off = 0.0, diag = 0.0;
        for (int i = 0; i < n; ++i) {
            diag += A[(size_t)i * n + i] * A[(size_t)i * n + i];
            for (int j = i + 1; j < n; ++j)
                off += A[(size_t)i * n + j] * A[(size_t)i * n + j];
        }
        if (off <= 1e-30 * diag || off == 0.0)
            break;
        for (int p = 0; p < n; ++p)
            for (int q = p + 1; q < n; ++q) {
                double apq = A[(size_t)p * n + q];
                if (apq == 0.0)
                    continue;
                double app = A[(size_t)p * n + p], aqq = A[(size_t)q * n + q];
                double theta = (aqq - app) / (2.0 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (int k = 0; k < n; ++k) { /* columns p, q */
                    double akp = A[(size_t)k * n + p], akq = A[(size_t)k * n + q];
                    A[(size_t)k * n + p] = c * akp - s * akq;
                    A[(size_t)k * n + q] = s * akp + c * akq;
                }
                for (int k = 0; k < n; ++k) { /* rows p, q */
                    double apk = A[(size_t)p * n + k], aqk = A[(size_t)q * n + k];
                    A[(size_t)p * n + k] = c * apk - s * aqk;
                    A[(size_t)q * n + k] = s * apk + c * aqk;
                }
            }
    }
    for (int i = 0; i < n; ++i)
        w[i] = A[(size_t)i * n + i];
}

pfr_status pfr_qr_cgs2(double *X, int S, int d, double *R)
{
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
            for (int k = 0; k < j; ++k) {
                double s = 0.0;
                for (int r = 0; r < S; ++r)
                    s += X[(size_t)r * d + k] * X[(size_t)r * d + j];
                h[k] = s;
            }
            for (int k = 0; k < j; ++k) {
                R[(size_t)k * d + j] += h[k];
                for (int r = 0; r < S; ++r)
                    X[(size_t)r * d + j] -= h[k] * X[(size_t)r * d + k];
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
