/*
 * truth_sparse.c — one type's V and mu by a sparse direct solver, SuiteSparse's UMFPACK (truth.c has
 * the contract: V = (I - gamma P)^{-1} r, mu^T P = mu^T, residuals checked there).
 *
 * Both systems share one pattern, that of I - P, so one symbolic analysis (the ordering: about 40%
 * of a factorization at S = 10^6) serves both:
 *   V:  A V = r,       A = I - gamma P
 *   mu: B^T mu = e_k,  B = I - P whose column k is e_k (explicit zeros keep the pattern): that is
 *       (I - P^T) mu = 0 with equation k replaced by mu_k = 1, k a state of the one closed class;
 *       then normalized.
 *
 * Wide rows as a low-rank term. A grid world whose episodes restart anywhere (env.starts = 0) has
 * goal rows that reach every free cell (6 rows of 8e5 entries in a 1000 x 1000 grid). Left in the
 * matrix they fill the factors densely: a 300 x 300 grid's factorization grew from 1.3e6 to 5.3e7
 * entries and from 0.14 s to 213 s (bench/RESULTS.md). But such rows are a few distributions,
 * repeated: with P_s the other rows (the wide ones emptied),
 *   P = P_s + U W^T,  U [S, G]: column g the indicator of the rows of group g,
 *                     W [S, G]: column g the distribution those rows share,
 * the factorizations are of the narrow part and a G x G system adds the rest (Sherman-Morrison-
 * Woodbury):
 *   V:  A = A_s - gamma U W^T.  V0 = A_s^{-1} r, Z = A_s^{-1} U,
 *       (I - gamma W^T Z) y = W^T V0,  V = V0 + gamma Z y.
 *   mu: B = B_s - U W'^T, W' = W without row k (entries into k belong to the pinned column).
 *       m0 = B_s^{-T} e_k, Y = B_s^{-T} W',  (I - U^T Y) c = U^T m0,  mu = m0 + Y c.
 * A_s is nonsingular (gamma < 1). So is B_s: its determinant is the principal minor of I - P_s
 * without k, and the only class of P_s that can keep its mass is the chain's closed class, which
 * holds k. The G x G systems are nonsingular when A and B are (the matrix determinant lemma). Cost:
 * G + 1 solves a system instead of one, each O(factor entries); memory G + 1 vectors of S.
 */
#include <stdlib.h>
#include <string.h>

#include <suitesparse/umfpack.h>

#include "env.h"

/* A row wider than this is a candidate for the low-rank term; at most this many distinct ones. */
#define PFR_TRUTH_WIDE_ROW 256
#define PFR_TRUTH_WIDE_GROUPS 8


/* ---- closed classes (Tarjan, iterative) -------------------------------------------------------- */
/* The strongly connected components of type m's transition graph; *closed = how many have no edge
 * leaving them, *k = a state of the first closed one. PFR_ERR_NO_MEMORY or PFR_OK. */
static pfr_status closed_classes(const pfr_env *env, int m, int *closed, int *k)
{
    const int S = env->S;
    const uint64_t *rp = env->row_ptr + (size_t)m * (S + 1);
    int *index = malloc(sizeof(int) * (size_t)S), *low = malloc(sizeof(int) * (size_t)S);
    int *comp = malloc(sizeof(int) * (size_t)S), *stack = malloc(sizeof(int) * (size_t)S);
    int *call = malloc(sizeof(int) * (size_t)S);
    uint64_t *edge = malloc(sizeof(uint64_t) * (size_t)S);
    unsigned char *on = calloc((size_t)S, 1);
    pfr_status st = PFR_OK;
    if (!index || !low || !comp || !stack || !call || !edge || !on) {
        st = PFR_ERR_NO_MEMORY;
        goto out;
    }
    for (int s = 0; s < S; ++s)
        index[s] = -1;
    int counter = 0, sp = 0, ncomp = 0;
    for (int root = 0; root < S; ++root) {
        if (index[root] >= 0)
            continue;
        int depth = 0;
        call[0] = root;
        index[root] = low[root] = counter++;
        edge[root] = rp[root];
        stack[sp++] = root;
        on[root] = 1;
        while (depth >= 0) {
            const int v = call[depth];
            if (edge[v] < rp[v + 1]) {
                const uint64_t kk = edge[v]++;
                if (env->prob[kk] <= 0.0)
                    continue;
                const int w = (int)env->next[kk];
                if (index[w] < 0) {
                    index[w] = low[w] = counter++;
                    edge[w] = rp[w];
                    stack[sp++] = w;
                    on[w] = 1;
                    call[++depth] = w;
                } else if (on[w] && index[w] < low[v]) {
                    low[v] = index[w];
                }
                continue;
            }
            if (low[v] == index[v]) { /* v roots a component */
                int w;
                do {
                    w = stack[--sp];
                    on[w] = 0;
                    comp[w] = ncomp;
                } while (w != v);
                ++ncomp;
            }
            --depth;
            if (depth >= 0 && low[v] < low[call[depth]])
                low[call[depth]] = low[v];
        }
    }
    /* a component is closed if no edge leaves it */
    unsigned char *leaves = calloc((size_t)ncomp, 1);
    if (!leaves) {
        st = PFR_ERR_NO_MEMORY;
        goto out;
    }
    for (int s = 0; s < S; ++s)
        for (uint64_t kk = rp[s]; kk < rp[s + 1]; ++kk)
            if (env->prob[kk] > 0.0 && comp[env->next[kk]] != comp[s])
                leaves[comp[s]] = 1;
    *closed = 0;
    for (int c = 0; c < ncomp; ++c)
        *closed += !leaves[c];
    *k = -1;
    for (int s = 0; s < S && *k < 0; ++s)
        if (!leaves[comp[s]])
            *k = s;
    free(leaves);
out:
    free(index);
    free(low);
    free(comp);
    free(stack);
    free(call);
    free(edge);
    free(on);
    return st;
}

/* ---- the system: the states another state enters ------------------------------------------------- */
/* A state no other state enters (a grid world's wall cell: 20% of the states at env.walls = 0.2) is
 * transient, mu = 0, and its value follows from the states it leaves to, which it does not solve
 * for: V(s) = (r(s) + gamma sum_{t != s} P(s, t) V(t)) / (1 - gamma P(s, s)). Every other state's row
 * leads only to entered states, so the system is the principal submatrix on the entered states
 * (the factorization's work falls with it). index: [S] a state's row in the system or -1; returns
 * the rows n. */
static int system_rows(const pfr_env *env, const uint64_t *rp, int *index)
{
    const int S = env->S;
    memset(index, 0xff, sizeof(int) * (size_t)S);
    for (int s = 0; s < S; ++s)
        for (uint64_t kk = rp[s]; kk < rp[s + 1]; ++kk)
            if ((int)env->next[kk] != s && env->prob[kk] > 0.0)
                index[env->next[kk]] = 0;
    int n = 0;
    for (int s = 0; s < S; ++s)
        if (index[s] == 0)
            index[s] = n++;
    return n;
}

/* ---- wide rows ------------------------------------------------------------------------------------ */
typedef struct wide_rows {
    int G;                          /* groups (0: none, or too many: the plain solve) */
    int rep[PFR_TRUTH_WIDE_GROUPS]; /* a row of each group: its entries are W's column */
    int *group;                     /* [S] a wide row's group, else -1 */
} wide_rows;

static int same_row(const pfr_env *env, const uint64_t *rp, int a, int b)
{
    const uint64_t n = rp[a + 1] - rp[a];
    return n == rp[b + 1] - rp[b] && memcmp(env->next + rp[a], env->next + rp[b], sizeof(uint32_t) * n) == 0 &&
           memcmp(env->prob + rp[a], env->prob + rp[b], sizeof(double) * n) == 0;
}

/* Type m's wide rows in the system (index >= 0) grouped by their distribution; w->G = 0 where there
 * are none or more than PFR_TRUTH_WIDE_GROUPS groups (then every row stays in the matrix). */
static void find_wide_rows(const pfr_env *env, const uint64_t *rp, const int *index, wide_rows *w)
{
    w->G = 0;
    memset(w->group, 0xff, sizeof(int) * (size_t)env->S);
    for (int s = 0; s < env->S; ++s) {
        if (index[s] < 0 || rp[s + 1] - rp[s] <= PFR_TRUTH_WIDE_ROW)
            continue;
        int g = 0;
        while (g < w->G && !same_row(env, rp, w->rep[g], s))
            ++g;
        if (g == PFR_TRUTH_WIDE_GROUPS) { /* too many to be a low-rank term */
            w->G = 0;
            memset(w->group, 0xff, sizeof(int) * (size_t)env->S);
            return;
        }
        if (g == w->G)
            w->rep[w->G++] = s;
        w->group[s] = g;
    }
}

/* Row `row` of type m against x in the system's order: W's column of the row's group dotted with x. */
static double row_dot(const pfr_env *env, const uint64_t *rp, const int *index, int row, const double *x)
{
    double acc = 0.0;
    for (uint64_t kk = rp[row]; kk < rp[row + 1]; ++kk)
        acc += env->prob[kk] * x[index[env->next[kk]]];
    return acc;
}

/* ---- the pattern a type shares with others ------------------------------------------------------ */
/* What depends only on where a type's transitions go: the system's states, the state k that pins
 * mu, the rows solved as the low-rank term, the compressed pattern of A_s and B_s and its symbolic
 * analysis. The types of a grid world with a shared layout have one pattern, so one analysis (1.8 s
 * of a type's 6 s at S = 10^6) serves them all, read by every thread (UMFPACK: the Symbolic object
 * is not modified by umfpack_*_numeric). */
struct pfr_truth_pattern {
    int S, m, k, n;         /* made from type m; k pins mu; n rows in the system */
    int *index, *state;     /* [S] a state's row in the system (or -1), [n] a row's state */
    unsigned char *emptied; /* [S] rows of the low-rank term (their entries are not in the matrix) */
    int64_t nz;             /* triplets: a diagonal entry, then the row's entries, row by row */
    int64_t *Ap, *Ai, *Map; /* [n + 1], [nz], [nz]: the compressed pattern; Map: triplet -> entry */
    void *sym;
};

void pfr_truth_pattern_destroy(pfr_truth_pattern *p)
{
    if (!p)
        return;
    if (p->sym)
        umfpack_dl_free_symbolic(&p->sym);
    free(p->index);
    free(p->state);
    free(p->emptied);
    free(p->Ap);
    free(p->Ai);
    free(p->Map);
    free(p);
}

/* The triplets of A_s with gamma = 1 (I - P_s), in the pattern's order. */
static void triplets(const pfr_truth_pattern *p, const pfr_env *env, const uint64_t *rp, int64_t *Ti, int64_t *Tj,
                     double *Tx)
{
    int64_t q = 0;
    for (int i = 0; i < p->n; ++i) {
        const int s = p->state[i];
        Ti[q] = Tj[q] = i;
        Tx[q++] = 1.0;
        for (uint64_t kk = rp[s]; !p->emptied[s] && kk < rp[s + 1]; ++kk) {
            Ti[q] = i;
            Tj[q] = p->index[env->next[kk]];
            Tx[q++] = -env->prob[kk];
        }
    }
}

/* The system's rows and the low-rank rows of type m into p (index, state, emptied, n, nz); w: the
 * type's wide rows (group: [S] scratch). */
static void system_of(pfr_truth_pattern *p, const pfr_env *env, const uint64_t *rp, int lowrank, wide_rows *w)
{
    p->n = system_rows(env, rp, p->index);
    for (int s = 0; s < env->S; ++s)
        if (p->index[s] >= 0)
            p->state[p->index[s]] = s;
    if (lowrank)
        find_wide_rows(env, rp, p->index, w);
    else
        memset(w->group, 0xff, sizeof(int) * (size_t)env->S); /* -1: every row in the matrix */
    p->nz = p->n;
    for (int s = 0; s < env->S; ++s) {
        p->emptied[s] = w->group[s] >= 0;
        p->nz += p->index[s] < 0 || p->emptied[s] ? 0 : (int64_t)(rp[s + 1] - rp[s]);
    }
}

pfr_status pfr_truth_pattern_create(const pfr_env *env, int m, int lowrank, pfr_truth_pattern **out, pfr_error *err)
{
    const int S = env->S;
    const uint64_t *rp = env->row_ptr + (size_t)m * (S + 1);
    pfr_truth_pattern *p = calloc(1, sizeof *p);
    wide_rows w = {0};
    int64_t *Ti = NULL, *Tj = NULL;
    double *Tx = NULL, *Ax = NULL;
    pfr_status st = PFR_ERR_NO_MEMORY;
    *out = NULL;
    if (!p || !(w.group = malloc(sizeof(int) * (size_t)S)) || !(p->emptied = malloc((size_t)S)) ||
        !(p->index = malloc(sizeof(int) * (size_t)S)) || !(p->state = malloc(sizeof(int) * (size_t)S)))
        goto out;
    p->S = S;
    p->m = m;
    int closed = 0; /* mu needs one closed class; k, a state of it, pins the solution */
    if ((st = closed_classes(env, m, &closed, &p->k)) != PFR_OK)
        goto out;
    if (closed != 1) {
        st = pfr_fail(err, PFR_ERR_NUMERIC,
                      "environment type %d: the chain has %d closed classes of states, so no unique stationary "
                      "distribution; allowed: chains with one closed class (every state reaches it)",
                      m, closed);
        goto out;
    }
    st = PFR_ERR_NO_MEMORY;
    system_of(p, env, rp, lowrank, &w);
    Ti = malloc(sizeof(int64_t) * (size_t)p->nz);
    Tj = malloc(sizeof(int64_t) * (size_t)p->nz);
    Tx = malloc(sizeof(double) * (size_t)p->nz);
    Ax = malloc(sizeof(double) * (size_t)p->nz);
    p->Ap = malloc(sizeof(int64_t) * (size_t)(p->n + 1));
    p->Ai = malloc(sizeof(int64_t) * (size_t)p->nz);
    p->Map = malloc(sizeof(int64_t) * (size_t)p->nz);
    if (!Ti || !Tj || !Tx || !Ax || !p->Ap || !p->Ai || !p->Map || p->index[p->k] < 0)
        goto out; /* k lies in the closed class: entered (S > 1) */
    triplets(p, env, rp, Ti, Tj, Tx);
    long rc = umfpack_dl_triplet_to_col(p->n, p->n, p->nz, Ti, Tj, Tx, p->Ap, p->Ai, Ax, p->Map);
    double ctrl[UMFPACK_CONTROL], info[UMFPACK_INFO];
    umfpack_dl_defaults(ctrl);
    if (rc == UMFPACK_OK) /* the analysis looks at the pattern (and at values for no choice made here) */
        rc = umfpack_dl_symbolic(p->n, p->n, p->Ap, p->Ai, Ax, &p->sym, ctrl, info);
    st = rc == UMFPACK_OK ? PFR_OK : rc == UMFPACK_ERROR_out_of_memory ? PFR_ERR_NO_MEMORY : PFR_ERR_NUMERIC;
out:
    free(w.group);
    free(Ti);
    free(Tj);
    free(Tx);
    free(Ax);
    if (st == PFR_OK)
        *out = p;
    else
        pfr_truth_pattern_destroy(p);
    return st;
}

/* Whether type m has the pattern p was made from: the same system (index: the type's own, [S]), the
 * same rows emptied (w: the type's wide rows) and the same next states, row by row, elsewhere. */
static int pattern_fits(const pfr_truth_pattern *p, const pfr_env *env, int m, const int *index, const wide_rows *w)
{
    const int S = env->S;
    const uint64_t *rp = env->row_ptr + (size_t)m * (S + 1), *r0 = env->row_ptr + (size_t)p->m * (S + 1);
    if (memcmp(index, p->index, sizeof(int) * (size_t)S) != 0)
        return 0;
    for (int s = 0; s < S; ++s) {
        if (p->emptied[s] != (w->group[s] >= 0))
            return 0;
        if (p->emptied[s] || index[s] < 0)
            continue;
        const uint64_t n = rp[s + 1] - rp[s];
        if (n != r0[s + 1] - r0[s] || memcmp(env->next + rp[s], env->next + r0[s], sizeof(uint32_t) * n) != 0)
            return 0;
        for (uint64_t j = 0; j < n; ++j) /* an entry of probability 0 is no edge (closed classes) */
            if ((env->prob[rp[s] + j] > 0.0) != (env->prob[r0[s] + j] > 0.0))
                return 0;
    }
    return 1;
}

/* A_s's and B_s's values on the pattern: Map takes each triplet to its entry (duplicates summed). */
static void values(const pfr_truth_pattern *p, const pfr_env *env, const uint64_t *rp, double gamma, double *Ax,
                   double *Bx)
{
    memset(Ax, 0, sizeof(double) * (size_t)p->Ap[p->n]);
    memset(Bx, 0, sizeof(double) * (size_t)p->Ap[p->n]);
    int64_t q = 0;
    for (int i = 0; i < p->n; ++i) {
        const int s = p->state[i];
        Ax[p->Map[q]] += 1.0;
        Bx[p->Map[q++]] += 1.0;
        for (uint64_t kk = rp[s]; !p->emptied[s] && kk < rp[s + 1]; ++kk, ++q) {
            Ax[p->Map[q]] += -gamma * env->prob[kk];
            if ((int)env->next[kk] != p->k) /* B's column k is e_k */
                Bx[p->Map[q]] -= env->prob[kk];
        }
    }
}

/* ---- the solves ----------------------------------------------------------------------------------- */
typedef struct solver {
    const pfr_truth_pattern *p;
    const pfr_env *env;
    const uint64_t *rp;
    const wide_rows *w;
    const double *Ax; /* the matrix factored in num: A_s's or B_s's values */
    void *num;
    double ctrl[UMFPACK_CONTROL], info[UMFPACK_INFO];
} solver;

static long solve(solver *f, int sys, double *x, const double *b)
{
    return umfpack_dl_solve(sys, f->p->Ap, f->p->Ai, f->Ax, x, b, f->num, f->ctrl, f->info);
}

/* The system's V = A^{-1} r with the low-rank correction (top of file); all vectors [n] in the
 * system's order; Z: [G, n] scratch, e: [n] scratch. */
static long solve_v(solver *f, double gamma, const double *r, double *V, double *Z, double *e)
{
    const pfr_truth_pattern *p = f->p;
    const int n = p->n, G = f->w->G;
    long rc = solve(f, UMFPACK_A, V, r);
    if (rc != UMFPACK_OK || G == 0)
        return rc;
    for (int h = 0; h < G && rc == UMFPACK_OK; ++h) { /* Z_h = A_s^{-1} U_h */
        for (int i = 0; i < n; ++i)
            e[i] = f->w->group[p->state[i]] == h;
        rc = solve(f, UMFPACK_A, Z + (size_t)h * n, e);
    }
    if (rc != UMFPACK_OK)
        return rc;
    double H[PFR_TRUTH_WIDE_GROUPS * PFR_TRUTH_WIDE_GROUPS], y[PFR_TRUTH_WIDE_GROUPS];
    for (int g = 0; g < G; ++g) {
        for (int h = 0; h < G; ++h)
            H[g * G + h] = (g == h) - gamma * row_dot(f->env, f->rp, p->index, f->w->rep[g], Z + (size_t)h * n);
        y[g] = row_dot(f->env, f->rp, p->index, f->w->rep[g], V);
    }
    if (pfr_lu_solve(H, y, G) != PFR_OK)
        return UMFPACK_WARNING_singular_matrix;
    for (int h = 0; h < G; ++h)
        for (int i = 0; i < n; ++i)
            V[i] += gamma * y[h] * Z[(size_t)h * n + i];
    return UMFPACK_OK;
}

/* The system's mu (unnormalized) = B^{-T} e_k with the low-rank correction; Y: [G, n], e: [n] scratch. */
static long solve_mu(solver *f, double *mu, double *Y, double *e)
{
    const pfr_truth_pattern *p = f->p;
    const int n = p->n, G = f->w->G;
    memset(e, 0, sizeof(double) * (size_t)n);
    e[p->index[p->k]] = 1.0;
    long rc = solve(f, UMFPACK_At, mu, e);
    for (int h = 0; h < G && rc == UMFPACK_OK; ++h) { /* Y_h = B_s^{-T} W'_h */
        memset(e, 0, sizeof(double) * (size_t)n);
        const int row = f->w->rep[h];
        for (uint64_t kk = f->rp[row]; kk < f->rp[row + 1]; ++kk)
            if ((int)f->env->next[kk] != p->k)
                e[p->index[f->env->next[kk]]] = f->env->prob[kk];
        rc = solve(f, UMFPACK_At, Y + (size_t)h * n, e);
    }
    if (rc != UMFPACK_OK || G == 0)
        return rc;
    double H[PFR_TRUTH_WIDE_GROUPS * PFR_TRUTH_WIDE_GROUPS], c[PFR_TRUTH_WIDE_GROUPS];
    for (int g = 0; g < G; ++g) {
        for (int h = 0; h < G; ++h)
            H[g * G + h] = g == h;
        c[g] = 0.0;
    }
    for (int i = 0; i < n; ++i) { /* U^T Y and U^T m0: sums over each group's rows */
        const int g = f->w->group[p->state[i]];
        if (g < 0)
            continue;
        for (int h = 0; h < G; ++h)
            H[g * G + h] -= Y[(size_t)h * n + i];
        c[g] += mu[i];
    }
    if (pfr_lu_solve(H, c, G) != PFR_OK)
        return UMFPACK_WARNING_singular_matrix;
    for (int h = 0; h < G; ++h)
        for (int i = 0; i < n; ++i)
            mu[i] += c[h] * Y[(size_t)h * n + i];
    return UMFPACK_OK;
}

/* V and mu of every state from the system's (xv, xmu: [n]); mu normalized. */
static void expand(const pfr_truth_pattern *p, const pfr_env *env, const uint64_t *rp, double gamma, const double *r,
                   const double *xv, const double *xmu, double *V, double *mu)
{
    double total = 0.0;
    for (int i = 0; i < p->n; ++i)
        total += xmu[i];
    for (int s = 0; s < p->S; ++s) {
        const int i = p->index[s];
        if (i >= 0) {
            V[s] = xv[i];
            mu[s] = xmu[i] / total;
            continue;
        }
        double acc = r[s], self = 0.0; /* a state no other enters leads only to the system's */
        for (uint64_t kk = rp[s]; kk < rp[s + 1]; ++kk) {
            if ((int)env->next[kk] == s)
                self = env->prob[kk];
            else
                acc += gamma * env->prob[kk] * xv[p->index[env->next[kk]]];
        }
        V[s] = acc / (1.0 - gamma * self);
        mu[s] = 0.0;
    }
}

pfr_status pfr_truth_sparse(const pfr_env *env, int m, double gamma, int lowrank, int refine,
                            const pfr_truth_pattern *shared, const double *r, double *V, double *mu, int *groups,
                            int *analysed, pfr_error *err)
{
    const int S = env->S;
    const uint64_t *rp = env->row_ptr + (size_t)m * (S + 1);
    wide_rows w = {0};
    pfr_truth_pattern *own = NULL;
    int *index = malloc(sizeof(int) * (size_t)S);
    double *Ax = NULL, *Bx = NULL, *x = NULL, *Z = NULL;
    solver f = {0};
    pfr_status st = PFR_ERR_NO_MEMORY;
    long rc = UMFPACK_OK;
    *groups = *analysed = 0;
    if (!index || !(w.group = malloc(sizeof(int) * (size_t)S)))
        goto out;
    system_rows(env, rp, index);
    if (lowrank)
        find_wide_rows(env, rp, index, &w);
    else
        memset(w.group, 0xff, sizeof(int) * (size_t)S);
    const pfr_truth_pattern *p = shared;
    if (!p || !pattern_fits(p, env, m, index, &w)) {
        if ((st = pfr_truth_pattern_create(env, m, lowrank, &own, err)) != PFR_OK)
            goto out;
        p = own;
        *analysed = 1;
    }
    st = PFR_ERR_NO_MEMORY;
    const int n = p->n;
    Ax = malloc(sizeof(double) * (size_t)p->nz);
    Bx = malloc(sizeof(double) * (size_t)p->nz);
    x = malloc(sizeof(double) * (size_t)n * 4); /* r, V, mu and e in the system's order */
    if (!Ax || !Bx || !x || (w.G > 0 && !(Z = malloc(sizeof(double) * (size_t)n * (size_t)w.G))))
        goto out;
    double *xr = x, *xv = x + n, *xmu = x + 2 * (size_t)n, *e = x + 3 * (size_t)n;
    for (int i = 0; i < n; ++i)
        xr[i] = r[p->state[i]];
    st = PFR_OK;
    values(p, env, rp, gamma, Ax, Bx);
    f.p = p;
    f.env = env;
    f.rp = rp;
    f.w = &w;
    f.Ax = Ax;
    umfpack_dl_defaults(f.ctrl);
    if (!refine) /* UMFPACK's default: up to 2 steps of iterative refinement, 4x a solve's time */
        f.ctrl[UMFPACK_IRSTEP] = 0;
    rc = umfpack_dl_numeric(p->Ap, p->Ai, Ax, p->sym, &f.num, f.ctrl, f.info);
    if (rc == UMFPACK_OK)
        rc = solve_v(&f, gamma, xr, xv, Z, e);
    if (f.num)
        umfpack_dl_free_numeric(&f.num);
    f.Ax = Bx;
    if (rc == UMFPACK_OK)
        rc = umfpack_dl_numeric(p->Ap, p->Ai, Bx, p->sym, &f.num, f.ctrl, f.info);
    if (rc == UMFPACK_OK)
        rc = solve_mu(&f, xmu, Z, e);
    if (rc == UMFPACK_ERROR_out_of_memory)
        st = PFR_ERR_NO_MEMORY;
    else if (rc != UMFPACK_OK) /* UMFPACK_WARNING_singular_matrix included */
        st = PFR_ERR_NUMERIC;
    if (st == PFR_OK) {
        expand(p, env, rp, gamma, r, xv, xmu, V, mu);
        *groups = w.G;
    }
out:
    if (f.num)
        umfpack_dl_free_numeric(&f.num);
    pfr_truth_pattern_destroy(own);
    free(index);
    free(w.group);
    free(Ax);
    free(Bx);
    free(x);
    free(Z);
    return st;
}
