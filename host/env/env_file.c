/*
 * env_file.c — env.kind=file: chains a user brings, as NumPy arrays.
 *
 * Two forms. Dense (env.p_file, env.r_file): P [M, S, S] (control: [M, S, A, S]) and R of the same
 * shape or per row ([M, S], [M, S, A]); fine up to a few thousand states. Sparse (env.dir): a folder
 * as `pfedrl export` writes it and the Python package's array environments are cached,
 *   P_shape.npy   [3]         M, rows per type (S, or S A with control: row s A + a), S
 *   P_indptr.npy  [M, rows+1] offsets into the whole of P_indices (type m's last = type m+1's first)
 *   P_indices.npy [nnz]       next states, in [0, S)
 *   P_data.npy    [nnz]       P(next | row), each row summing to 1 within 1e-6
 *   R_data.npy    [nnz]       the reward of that transition
 * (a folder without P_shape.npy, exported before it was written, holds chains: rows = S). Both go
 * through the builder (env_build.c), so repeated next states merge and rows are normalized exactly;
 * every value is checked before anything is built, with the file and position named.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "env_build.h"

#define MAX_TYPES 4096
#define MAX_DENSE_STATES 100000
#define MAX_SPARSE_STATES 16777216 /* the largest grid, 4096 x 4096 */
#define MAX_ACTIONS 64

/* env.p_file and env.r_file: dense arrays. */
static pfr_status build_dense(const pfr_env_config *c, int mdp, pfr_env *env, pfr_error *err)
{
    pfr_npy P, R;
    pfr_status st = pfr_npy_load(c->p_file, &P, err);
    if (st != PFR_OK) {
        pfr_error_prefix(err, "env.p_file");
        return st;
    }
    st = pfr_npy_load(c->r_file, &R, err);
    if (st != PFR_OK) {
        pfr_error_prefix(err, "env.r_file");
        pfr_npy_free(&P);
        return st;
    }
    pfr_builder b = {0};
    int M = 0, S = 0, A = 1;
    const int pd = mdp ? 4 : 3; /* [M, S, S], or an MDP's [M, S, A, S] */
    if (P.ndim != pd || P.shape[1] != P.shape[pd - 1] || P.shape[0] < 1 || P.shape[1] < 2 || P.shape[0] > MAX_TYPES ||
        P.shape[1] > MAX_DENSE_STATES || (mdp && (P.shape[2] < 1 || P.shape[2] > MAX_ACTIONS))) {
        char shape[200];
        st = pfr_fail(err, PFR_ERR_FORMAT,
                      mdp ? "env.p_file %s: shape %s; allowed with control: [M, S, A, S] with 1 <= M <= 4096, "
                            "2 <= S <= 100000, 1 <= A <= 64"
                          : "env.p_file %s: shape %s; allowed: [M, S, S] with 1 <= M <= 4096 and 2 <= S <= 100000",
                      c->p_file, pfr_npy_shape_text(&P, shape, sizeof shape));
        goto done;
    }
    M = (int)P.shape[0];
    S = (int)P.shape[1];
    A = mdp ? (int)P.shape[2] : 1;
    const int SA = S * A; /* rows per type */
    if (c->types && c->types != M) {
        st = pfr_fail(err, PFR_ERR_CONFIG, "env.types=%d but env.p_file holds %d types; leave env.types at 0 or set it to %d",
                      c->types, M, M);
        goto done;
    }
    int r_full = !mdp ? R.ndim == 3 && R.shape[0] == M && R.shape[1] == S && R.shape[2] == S
                      : R.ndim == 4 && R.shape[0] == M && R.shape[1] == S && R.shape[2] == A && R.shape[3] == S;
    int r_state = !mdp ? R.ndim == 2 && R.shape[0] == M && R.shape[1] == S
                       : R.ndim == 3 && R.shape[0] == M && R.shape[1] == S && R.shape[2] == A;
    if (!r_full && !r_state) {
        char shape[200];
        if (mdp)
            st = pfr_fail(err, PFR_ERR_FORMAT,
                          "env.r_file %s: shape %s; allowed with control: [M, S, A, S] = (%d, %d, %d, %d) or [M, S, A] = "
                          "(%d, %d, %d)",
                          c->r_file, pfr_npy_shape_text(&R, shape, sizeof shape), M, S, A, S, M, S, A);
        else
            st = pfr_fail(err, PFR_ERR_FORMAT,
                          "env.r_file %s: shape %s; allowed: [M, S, S] = (%d, %d, %d) or [M, S] = (%d, %d)", c->r_file,
                          pfr_npy_shape_text(&R, shape, sizeof shape), M, S, S, M, S);
        goto done;
    }
    for (size_t i = 0; i < R.count; ++i)
        if (!isfinite(R.data[i])) {
            st = pfr_fail(err, PFR_ERR_FORMAT, "env.r_file %s: element %zu is not finite", c->r_file, i);
            goto done;
        }
    for (int m = 0; m < M; ++m)
        for (int s = 0; s < SA; ++s) { /* s: a row, state s / A and action s % A in an MDP */
            const double *row = P.data + ((size_t)m * SA + s) * S;
            double sum = 0.0;
            char at[48];
            if (mdp)
                snprintf(at, sizeof at, "%d, %d, %d", m, s / A, s % A);
            else
                snprintf(at, sizeof at, "%d, %d", m, s);
            for (int t = 0; t < S; ++t) {
                if (!isfinite(row[t]) || row[t] < 0.0) {
                    st = pfr_fail(err, PFR_ERR_FORMAT, "env.p_file %s: P[%s, %d] = %g; allowed: finite and >= 0",
                                  c->p_file, at, t, row[t]);
                    goto done;
                }
                sum += row[t];
            }
            if (fabs(sum - 1.0) > 1e-6) {
                st = pfr_fail(err, PFR_ERR_FORMAT, "env.p_file %s: row P[%s, :] sums to %.9g; allowed: 1 within 1e-6",
                              c->p_file, at, sum);
                goto done;
            }
        }
    if (pfr_builder_init_mdp(&b, S, A, M) != PFR_OK) {
        st = pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory loading %s", c->p_file);
        goto done;
    }
    for (int m = 0; m < M && st == PFR_OK; ++m)
        for (int s = 0; s < SA && st == PFR_OK; ++s) {
            const double *row = P.data + ((size_t)m * SA + s) * S;
            for (int t = 0; t < S; ++t) {
                double r = r_full ? R.data[((size_t)m * SA + s) * S + t] : R.data[(size_t)m * SA + s];
                pfr_row_add(&b, t, row[t], r);
            }
            if (pfr_row_end(&b) != PFR_OK)
                st = pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory loading %s", c->p_file);
        }
    if (st == PFR_OK) {
        if (mdp)
            snprintf(env->description, sizeof env->description, "file %.200s (S=%d, A=%d, %d types)", c->p_file, S, A, M);
        else
            snprintf(env->description, sizeof env->description, "file %.200s (S=%d, %d types)", c->p_file, S, M);
        if (pfr_builder_finish(&b, env) != PFR_OK)
            st = pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
    }
done:
    pfr_builder_free(&b);
    pfr_npy_free(&P);
    pfr_npy_free(&R);
    return st;
}


/* ---- the sparse folder (env.dir) ------------------------------------------------------------------ */

static const char *const SPARSE_FILES[] = {"P_indptr.npy", "P_indices.npy", "P_data.npy", "R_data.npy"};
enum { F_INDPTR, F_INDICES, F_PDATA, F_RDATA, F_COUNT };

typedef struct sparse_env {
    int M, R, S, A;          /* types, rows per type, states, actions (R = S A) */
    pfr_npy f[F_COUNT];      /* the four arrays, as SPARSE_FILES names them */
    int64_t nnz;
} sparse_env;

static void sparse_free(sparse_env *z)
{
    for (int i = 0; i < F_COUNT; ++i)
        pfr_npy_free(&z->f[i]);
}

static void join(char *out, size_t n, const char *dir, const char *file) { snprintf(out, n, "%s/%s", dir, file); }

static int integral(double v, double lo, double hi) { return v == floor(v) && v >= lo && v <= hi; }

/* M, rows and S from P_shape.npy, or from P_indptr's header where the folder predates it; the
 * headers of the four arrays checked against them. Nothing but headers and P_shape is read. */
static pfr_status sparse_shape(const char *dir, int mdp, sparse_env *z, int itemsize[F_COUNT], pfr_error *err)
{
    char path[PFR_PATH_MAX + 32], shape[200];
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return pfr_fail(err, PFR_ERR_IO, "env.dir %s: not a folder; allowed: a folder as `pfedrl export` writes it "
                        "(P_indptr, P_indices, P_data, R_data .npy)", dir);
    for (int i = 0; i < F_COUNT; ++i) {
        join(path, sizeof path, dir, SPARSE_FILES[i]);
        pfr_status st = pfr_npy_peek(path, &z->f[i], &itemsize[i], err);
        if (st != PFR_OK) {
            pfr_error_prefix(err, "env.dir");
            return st;
        }
    }
    const pfr_npy *ip = &z->f[F_INDPTR];
    if (ip->ndim != 2 || ip->shape[0] < 1 || ip->shape[0] > MAX_TYPES || ip->shape[1] < 3)
        return pfr_fail(err, PFR_ERR_FORMAT, "env.dir %s: P_indptr.npy has shape %s; allowed: [M, rows + 1] with "
                        "1 <= M <= %d and at least 2 rows", dir, pfr_npy_shape_text(ip, shape, sizeof shape), MAX_TYPES);
    z->M = (int)ip->shape[0];
    z->R = ip->shape[1] - 1 < INT32_MAX ? (int)(ip->shape[1] - 1) : INT32_MAX;
    z->S = z->R;
    join(path, sizeof path, dir, "P_shape.npy");
    if (stat(path, &sb) == 0) {
        pfr_npy ps;
        pfr_status st = pfr_npy_load(path, &ps, err);
        if (st != PFR_OK) {
            pfr_error_prefix(err, "env.dir");
            return st;
        }
        const int ok = ps.ndim == 1 && ps.count == 3 && ps.data[0] == z->M && ps.data[1] == z->R &&
                       integral(ps.data[2], 2, MAX_SPARSE_STATES) && z->R % (int)ps.data[2] == 0;
        z->S = ok ? (int)ps.data[2] : 0;
        pfr_npy_free(&ps);
        if (!ok)
            return pfr_fail(err, PFR_ERR_FORMAT, "env.dir %s: P_shape.npy does not match P_indptr.npy [%d, %d]; allowed: "
                            "[M, rows, S] = [%d, %d, S] with 2 <= S <= %d dividing the rows", dir, z->M, z->R + 1, z->M,
                            z->R, MAX_SPARSE_STATES);
    } else if (mdp) {
        return pfr_fail(err, PFR_ERR_FORMAT, "env.dir %s: P_shape.npy is missing; with control it tells states from "
                        "(state, action) rows: [M, S A, S] (export the environment again with this version)", dir);
    }
    z->A = z->R / z->S;
    if (z->S > MAX_SPARSE_STATES || z->A > MAX_ACTIONS)
        return pfr_fail(err, PFR_ERR_FORMAT, "env.dir %s: %d states and %d actions; allowed: at most %d states and %d "
                        "actions", dir, z->S, z->A, MAX_SPARSE_STATES, MAX_ACTIONS);
    if (!mdp && z->A != 1)
        return pfr_fail(err, PFR_ERR_FORMAT, "env.dir %s holds MDPs (%d actions a state); allowed without control: "
                        "chains (set control.kind, or export the environment without control)", dir, z->A);
    z->nnz = (int64_t)z->f[F_INDICES].count;
    for (int i = F_INDICES; i < F_COUNT; ++i)
        if (z->f[i].ndim != 1 || (int64_t)z->f[i].count != z->nnz)
            return pfr_fail(err, PFR_ERR_FORMAT, "env.dir %s: %s has shape %s; allowed: [nnz] = (%lld,), as P_indices.npy",
                            dir, SPARSE_FILES[i], pfr_npy_shape_text(&z->f[i], shape, sizeof shape), (long long)z->nnz);
    return PFR_OK;
}

/* Every value checked: offsets that run from 0 to nnz without going back, next states in range,
 * probabilities finite, >= 0 and summing to 1 by row, rewards finite. */
static pfr_status sparse_check(const char *dir, const sparse_env *z, pfr_error *err)
{
    const double *ip = z->f[F_INDPTR].data, *nx = z->f[F_INDICES].data, *p = z->f[F_PDATA].data,
                 *r = z->f[F_RDATA].data;
    const size_t rows = (size_t)z->R + 1;
    for (int m = 0; m < z->M; ++m) {
        const double first = ip[m * rows], want = m ? ip[m * rows - 1] : 0.0;
        if (first != want)
            return pfr_fail(err, PFR_ERR_FORMAT, "env.dir %s: P_indptr[%d, 0] = %.17g; allowed: %.17g (offsets into the "
                            "whole of P_indices: a type starts where the one before ends, the first at 0)", dir, m,
                            first, want);
        for (size_t s = 1; s < rows; ++s)
            if (!integral(ip[m * rows + s], ip[m * rows + s - 1], (double)z->nnz))
                return pfr_fail(err, PFR_ERR_FORMAT, "env.dir %s: P_indptr[%d, %zu] = %.17g; allowed: an integer from "
                                "P_indptr[%d, %zu] = %.17g to nnz = %lld", dir, m, s, ip[m * rows + s], m, s - 1,
                                ip[m * rows + s - 1], (long long)z->nnz);
    }
    if (ip[z->M * rows - 1] != (double)z->nnz)
        return pfr_fail(err, PFR_ERR_FORMAT, "env.dir %s: P_indptr ends at %.17g; allowed: nnz = %lld (the length of "
                        "P_indices)", dir, ip[z->M * rows - 1], (long long)z->nnz);
    for (int64_t k = 0; k < z->nnz; ++k) {
        const char *bad = !integral(nx[k], 0, z->S - 1) ? "P_indices" : !isfinite(p[k]) || p[k] < 0 ? "P_data"
                          : !isfinite(r[k]) ? "R_data" : NULL;
        if (bad)
            return pfr_fail(err, PFR_ERR_FORMAT, "env.dir %s: %s[%lld] = %.17g; allowed: %s", dir, bad, (long long)k,
                            bad[0] == 'R' ? r[k] : bad[2] == 'i' ? nx[k] : p[k],
                            bad[0] == 'R' ? "finite" : bad[2] == 'i' ? "an integer state in [0, S)" : "finite and >= 0");
    }
    for (int m = 0; m < z->M; ++m)
        for (int s = 0; s < z->R; ++s) {
            double sum = 0.0;
            for (int64_t k = (int64_t)ip[m * rows + s]; k < (int64_t)ip[m * rows + s + 1]; ++k)
                sum += p[k];
            if (fabs(sum - 1.0) > 1e-6)
                return pfr_fail(err, PFR_ERR_FORMAT, "env.dir %s: row %d of type %d sums to %.9g; allowed: 1 within 1e-6",
                                dir, s, m, sum);
        }
    return PFR_OK;
}

static pfr_status build_sparse(const pfr_env_config *c, int mdp, pfr_env *env, pfr_error *err)
{
    sparse_env z = {0};
    int itemsize[F_COUNT];
    pfr_builder b = {0};
    pfr_status st = sparse_shape(c->dir, mdp, &z, itemsize, err);
    for (int i = 0; i < F_COUNT && st == PFR_OK; ++i) {
        char path[PFR_PATH_MAX + 32];
        join(path, sizeof path, c->dir, SPARSE_FILES[i]);
        pfr_npy_free(&z.f[i]); /* the header read above; now the values */
        if ((st = pfr_npy_load(path, &z.f[i], err)) != PFR_OK)
            pfr_error_prefix(err, "env.dir");
    }
    if (st == PFR_OK && c->types && c->types != z.M)
        st = pfr_fail(err, PFR_ERR_CONFIG, "env.types=%d but env.dir holds %d types; leave env.types at 0 or set it to %d",
                      c->types, z.M, z.M);
    if (st == PFR_OK)
        st = sparse_check(c->dir, &z, err);
    if (st == PFR_OK && pfr_builder_init_mdp(&b, z.S, z.A, z.M) != PFR_OK)
        st = pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory loading env.dir %s", c->dir);
    const double *ip = z.f[F_INDPTR].data;
    for (int64_t row = 0; st == PFR_OK && row < (int64_t)z.M * z.R; ++row) {
        const int64_t at = row / z.R * (z.R + 1) + row % z.R; /* P_indptr[m, s] */
        for (int64_t k = (int64_t)ip[at]; k < (int64_t)ip[at + 1]; ++k)
            pfr_row_add(&b, (int)z.f[F_INDICES].data[k], z.f[F_PDATA].data[k], z.f[F_RDATA].data[k]);
        if (pfr_row_end(&b) != PFR_OK)
            st = pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory loading env.dir %s", c->dir);
    }
    sparse_free(&z);
    if (st == PFR_OK) {
        if (mdp)
            snprintf(env->description, sizeof env->description, "folder %.200s (S=%d, A=%d, %d types)", c->dir, z.S, z.A,
                     z.M);
        else
            snprintf(env->description, sizeof env->description, "folder %.200s (S=%d, %d types)", c->dir, z.S, z.M);
        if (pfr_builder_finish(&b, env) != PFR_OK)
            st = pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
    }
    pfr_builder_free(&b);
    return st;
}

pfr_status pfr_build_file(const pfr_env_config *c, int mdp, pfr_env *env, pfr_error *err)
{
    return c->dir[0] ? build_sparse(c, mdp, env, err) : build_dense(c, mdp, env, err);
}

/* ---- what building takes ------------------------------------------------------------------------- */

static pfr_status estimate_sparse(const pfr_env_config *c, int mdp, pfr_env_size *z, pfr_error *err)
{
    sparse_env e = {0};
    int itemsize[F_COUNT];
    pfr_status st = sparse_shape(c->dir, mdp, &e, itemsize, err);
    double raw = 0.0; /* every array is read whole, then converted to double */
    for (int i = 0; i < F_COUNT && st == PFR_OK; ++i)
        raw += (double)e.f[i].count * (8.0 + itemsize[i]);
    sparse_free(&e);
    if (st != PFR_OK)
        return st;
    z->M = e.M;
    z->S = e.R;
    z->nnz = (double)e.nnz;
    snprintf(z->keys, sizeof z->keys, "env.dir %.100s: %d types of %d rows", c->dir, z->M, z->S);
    z->bytes = raw + z->nnz * PFR_BUILD_ENTRY_BYTES + 8.0 * e.M * (e.R + 1.0) + 24.0 * e.S;
    return PFR_OK;
}

static pfr_status estimate_dense(const pfr_env_config *c, int mdp, pfr_env_size *z, pfr_error *err)
{
    pfr_npy P, R;
    int ip = 0, ir = 0;
    pfr_status st = pfr_npy_peek(c->p_file, &P, &ip, err);
    if (st != PFR_OK) {
        pfr_error_prefix(err, "env.p_file");
        return st;
    }
    if ((st = pfr_npy_peek(c->r_file, &R, &ir, err)) != PFR_OK) {
        pfr_error_prefix(err, "env.r_file");
        return st;
    }
    if (P.ndim != (mdp ? 4 : 3) || P.shape[1] != P.shape[P.ndim - 1]) {
        char shape[200];
        return pfr_fail(err, PFR_ERR_FORMAT, "env.p_file %s: shape %s; allowed: %s", c->p_file,
                        pfr_npy_shape_text(&P, shape, sizeof shape), mdp ? "[M, S, A, S] (control)" : "[M, S, S]");
    }
    z->M = P.shape[0] < MAX_TYPES ? (int)P.shape[0] : MAX_TYPES;
    const double S = (double)P.shape[1] * (mdp ? (double)P.shape[2] : 1.0); /* rows per type */
    z->S = S < 2147483647.0 ? (int)S : 2147483647;
    z->nnz = (double)P.count; /* at most dense */
    snprintf(z->keys, sizeof z->keys, "env.p_file %.100s: %d types of %d states", c->p_file, z->M, z->S);
    const double loaded = (double)P.count * (8.0 + ip) + (double)R.count * (8.0 + ir); /* both arrays */
    z->bytes = loaded + z->nnz * PFR_BUILD_ENTRY_BYTES + 8.0 * P.shape[0] * (S + 1) + 24.0 * S;
    return PFR_OK;
}

pfr_status pfr_env_file_estimate(const pfr_env_config *c, int mdp, pfr_env_size *z, pfr_error *err)
{
    return c->dir[0] ? estimate_sparse(c, mdp, z, err) : estimate_dense(c, mdp, z, err);
}
