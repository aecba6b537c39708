/*
 * env.c — environment families (DESIGN §2). Each family turns a few parameters into M Markov
 * chains (a fixed policy followed in an MDP), stored as CSR with integer sampling thresholds.
 * Types are generated from env.seed alone, so the problem does not change with the run seed or N.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/pfr_agent_math.h"
#include "internal.h"

/* ---- a small counter-based generator for building environments ---------------------------- */
typedef struct env_rng {
    uint64_t seed, stream, n;
} env_rng;

static uint32_t rng_u32(env_rng *r)
{
    pfr_words w = pfr_stream_words(r->seed, r->stream, r->n / 4);
    return w.w[r->n++ % 4];
}

static double rng_uniform(env_rng *r) /* [0, 1) with 53 bits */
{
    uint64_t hi = rng_u32(r) >> 5, lo = rng_u32(r) >> 6;
    return (double)(hi * 67108864u + lo) * (1.0 / 9007199254740992.0);
}

/* ---- chain builder: rows are emitted in order; repeated next states merge ------------------ */
typedef struct builder {
    int S, M;
    uint64_t cap, nnz;
    uint64_t *row_ptr;
    uint32_t *next;
    double *prob, *rew;
    double *acc_p, *acc_pr; /* [S] scratch for the current row */
    int *touched;
    int ntouched;
    uint64_t rows_done;
} builder;

static pfr_status builder_init(builder *b, int S, int M)
{
    memset(b, 0, sizeof *b);
    b->S = S;
    b->M = M;
    b->cap = (uint64_t)S * M * 4 + 16;
    b->row_ptr = malloc(sizeof(uint64_t) * ((size_t)M * (S + 1)));
    b->next = malloc(sizeof(uint32_t) * b->cap);
    b->prob = malloc(sizeof(double) * b->cap);
    b->rew = malloc(sizeof(double) * b->cap);
    b->acc_p = calloc((size_t)S, sizeof(double));
    b->acc_pr = calloc((size_t)S, sizeof(double));
    b->touched = malloc(sizeof(int) * (size_t)S);
    if (!b->row_ptr || !b->next || !b->prob || !b->rew || !b->acc_p || !b->acc_pr || !b->touched)
        return PFR_ERR_NO_MEMORY;
    return PFR_OK;
}

static void builder_free(builder *b)
{
    free(b->row_ptr);
    free(b->next);
    free(b->prob);
    free(b->rew);
    free(b->acc_p);
    free(b->acc_pr);
    free(b->touched);
    memset(b, 0, sizeof *b);
}

static void row_add(builder *b, int next, double p, double r)
{
    if (p <= 0.0)
        return;
    if (b->acc_p[next] == 0.0)
        b->touched[b->ntouched++] = next;
    b->acc_p[next] += p;
    b->acc_pr[next] += p * r;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static pfr_status row_end(builder *b)
{
    uint64_t row = b->rows_done++;
    int m = (int)(row / (uint64_t)b->S), s = (int)(row % (uint64_t)b->S);
    if (s == 0)
        b->row_ptr[(size_t)m * (b->S + 1)] = b->nnz;
    qsort(b->touched, (size_t)b->ntouched, sizeof(int), cmp_int);
    if (b->nnz + (uint64_t)b->ntouched > b->cap) {
        uint64_t cap = 2 * b->cap + (uint64_t)b->ntouched;
        uint32_t *nx = realloc(b->next, sizeof(uint32_t) * cap);
        if (nx)
            b->next = nx;
        double *pp = realloc(b->prob, sizeof(double) * cap);
        if (pp)
            b->prob = pp;
        double *rr = realloc(b->rew, sizeof(double) * cap);
        if (rr)
            b->rew = rr;
        if (!nx || !pp || !rr)
            return PFR_ERR_NO_MEMORY;
        b->cap = cap;
    }
    for (int k = 0; k < b->ntouched; ++k) {
        int j = b->touched[k];
        b->next[b->nnz] = (uint32_t)j;
        b->prob[b->nnz] = b->acc_p[j];
        b->rew[b->nnz] = b->acc_pr[j] / b->acc_p[j]; /* R(s, s') = E[reward | s -> s'] */
        ++b->nnz;
        b->acc_p[j] = b->acc_pr[j] = 0.0;
    }
    b->ntouched = 0;
    b->row_ptr[(size_t)m * (b->S + 1) + s + 1] = b->nnz;
    return PFR_OK;
}

/* Move the builder's arrays into env and compute the integer thresholds. */
static pfr_status builder_finish(builder *b, pfr_env *env)
{
    env->S = b->S;
    env->M = b->M;
    env->nnz = b->nnz;
    env->row_ptr = b->row_ptr;
    env->next = b->next;
    env->prob = b->prob;
    env->rewardd = b->rew;
    b->row_ptr = NULL;
    b->next = NULL;
    b->prob = b->rew = NULL;
    builder_free(b);
    env->thr = malloc(sizeof(uint32_t) * (env->nnz ? env->nnz : 1));
    env->reward = malloc(sizeof(float) * (env->nnz ? env->nnz : 1));
    if (!env->thr || !env->reward)
        return PFR_ERR_NO_MEMORY;
    for (int m = 0; m < env->M; ++m)
        for (int s = 0; s < env->S; ++s) {
            uint64_t a = env->row_ptr[(size_t)m * (env->S + 1) + s], e = env->row_ptr[(size_t)m * (env->S + 1) + s + 1];
            double total = 0.0, cum = 0.0;
            for (uint64_t k = a; k < e; ++k)
                total += env->prob[k];
            for (uint64_t k = a; k < e; ++k) {
                env->prob[k] /= total; /* exact normalization: the stored P is the one sampled */
                cum += env->prob[k];
                double t = floor(cum * 4294967296.0);
                env->thr[k] = (k + 1 == e || t >= 4294967295.0) ? 0xFFFFFFFFu : (uint32_t)t;
                env->reward[k] = (float)env->rewardd[k];
            }
        }
    return PFR_OK;
}

/* ---- grids ---------------------------------------------------------------------------------- */
enum { UP, RIGHT, DOWN, LEFT };

static int grid_move(int W, int H, int s, int dir)
{
    int x = s % W, y = s / W; /* y = 0 is the bottom row */
    switch (dir) {
    case UP: y = y + 1 < H ? y + 1 : y; break;
    case RIGHT: x = x + 1 < W ? x + 1 : x; break;
    case DOWN: y = y > 0 ? y - 1 : y; break;
    default: x = x > 0 ? x - 1 : x; break;
    }
    return y * W + x;
}

static double type_frac(int m, int M) { return M > 1 ? (double)m / (M - 1) : 0.0; }

/* Distribution over the direction actually moved, given the intended one: slip = uniform random
 * direction, wind = pushed in wind_dir, otherwise as intended. */
static void moved_dirs(int intended, double slip, double wind, int wind_dir, double out[4])
{
    for (int k = 0; k < 4; ++k)
        out[k] = slip / 4.0;
    out[wind_dir] += wind;
    out[intended] += 1.0 - slip - wind;
}

/* Rewards are the textbook -1 a step and -100 for the cliff, divided by 100: values of order 1 keep
 * the bilinear Phi-theta updates stable at ordinary step sizes (env.reward_scale multiplies them). */
static pfr_status build_cliffwalk(const pfr_env_config *c, int M, pfr_env *env, pfr_error *err)
{
    const int W = c->width ? c->width : 12, H = c->height ? c->height : 4;
    if (W < 3 || H < 2)
        return pfr_fail(err, PFR_ERR_CONFIG, "env.width=%d, env.height=%d: cliffwalk needs width >= 3 and height >= 2", W, H);
    const int S = W * H, start = 0, goal = W - 1;
    builder b;
    if (builder_init(&b, S, M) != PFR_OK) {
        builder_free(&b);
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory building cliffwalk");
    }
    for (int m = 0; m < M; ++m) {
        double f = type_frac(m, M);
        double slip = c->slip_min + f * (c->slip_max - c->slip_min);
        double wind = c->wind_min + f * (c->wind_max - c->wind_min);
        double scale = c->reward_scale * (1.0 + c->reward_spread * (2.0 * f - 1.0));
        for (int s = 0; s < S; ++s) {
            int x = s % W, y = s / W;
            int is_cliff = y == 0 && x > 0 && x < W - 1;
            if (s == goal || is_cliff) { /* the episode restarts: continuing chain */
                row_add(&b, start, 1.0, 0.0);
            } else {
                int greedy = (y == 0) ? UP : (x < W - 1 ? RIGHT : DOWN);
                for (int a = 0; a < 4; ++a) {
                    double pa = c->epsilon / 4.0 + (a == greedy ? 1.0 - c->epsilon : 0.0);
                    double md[4];
                    moved_dirs(a, slip, wind, DOWN, md);
                    for (int k = 0; k < 4; ++k) {
                        int t = grid_move(W, H, s, k);
                        int tx = t % W, ty = t / W;
                        if (ty == 0 && tx > 0 && tx < W - 1)
                            row_add(&b, start, pa * md[k], -1.0 * scale);
                        else
                            row_add(&b, t, pa * md[k], -0.01 * scale);
                    }
                }
            }
            if (row_end(&b) != PFR_OK) {
                builder_free(&b);
                return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory building cliffwalk");
            }
        }
    }
    env->width = W;
    env->height = H;
    snprintf(env->description, sizeof env->description, "cliffwalk %dx%d, %d types, slip %g..%g, wind %g..%g", W, H, M,
             c->slip_min, c->slip_max, c->wind_min, c->wind_max);
    return builder_finish(&b, env) == PFR_OK ? PFR_OK : pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
}

static pfr_status build_gridworld(const pfr_env_config *c, int M, pfr_env *env, pfr_error *err)
{
    const int W = c->width ? c->width : 10, H = c->height ? c->height : 10;
    if ((long)W * H < 2 || (long)W * H > 1000000)
        return pfr_fail(err, PFR_ERR_CONFIG, "env.width=%d, env.height=%d: gridworld needs between 2 and 1000000 cells", W, H);
    const int S = W * H;
    builder b;
    if (builder_init(&b, S, M) != PFR_OK) {
        builder_free(&b);
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory building gridworld");
    }
    env_rng rng = {c->seed, PFR_STREAM_GRID_GOALS, 0};
    for (int m = 0; m < M; ++m) {
        int goal = (int)pfr_word_below(rng_u32(&rng), (uint32_t)S);
        double f = type_frac(m, M);
        double slip = c->slip_min + f * (c->slip_max - c->slip_min);
        double wind = c->wind_min + f * (c->wind_max - c->wind_min);
        double scale = c->reward_scale * (1.0 + c->reward_spread * (2.0 * f - 1.0));
        int gx = goal % W, gy = goal / W;
        for (int s = 0; s < S; ++s) {
            if (s == goal) { /* restart anywhere */
                for (int t = 0; t < S; ++t)
                    row_add(&b, t, 1.0 / S, 0.0);
            } else {
                int dx = gx - s % W, dy = gy - s / W;
                int greedy = abs(dx) >= abs(dy) ? (dx > 0 ? RIGHT : LEFT) : (dy > 0 ? UP : DOWN);
                for (int a = 0; a < 4; ++a) {
                    double pa = c->epsilon / 4.0 + (a == greedy ? 1.0 - c->epsilon : 0.0);
                    double md[4];
                    moved_dirs(a, slip, wind, UP, md);
                    for (int k = 0; k < 4; ++k) {
                        int t = grid_move(W, H, s, k);
                        row_add(&b, t, pa * md[k], t == goal ? scale : 0.0);
                    }
                }
            }
            if (row_end(&b) != PFR_OK) {
                builder_free(&b);
                return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory building gridworld");
            }
        }
    }
    env->width = W;
    env->height = H;
    snprintf(env->description, sizeof env->description, "gridworld %dx%d, %d types (goals from env.seed), slip %g..%g, wind %g..%g",
             W, H, M, c->slip_min, c->slip_max, c->wind_min, c->wind_max);
    return builder_finish(&b, env) == PFR_OK ? PFR_OK : pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
}

/* b distinct next states with random probabilities (uniform spacings). */
static void garnet_row(env_rng *rng, int S, int nb, int *nx, double *p)
{
    for (int k = 0; k < nb; ++k) {
        int again;
        do {
            nx[k] = (int)pfr_word_below(rng_u32(rng), (uint32_t)S);
            again = 0;
            for (int j = 0; j < k; ++j)
                again |= nx[j] == nx[k];
        } while (again);
    }
    double sum = 0.0;
    for (int k = 0; k < nb; ++k) {
        p[k] = -log(1.0 - rng_uniform(rng)); /* exponential spacings = uniform on the simplex */
        sum += p[k];
    }
    for (int k = 0; k < nb; ++k)
        p[k] /= sum;
}

static pfr_status build_garnet(const pfr_env_config *c, int M, pfr_env *env, pfr_error *err)
{
    const int S = c->states ? c->states : 50, A = c->actions, nb = c->branching;
    if (S < 2)
        return pfr_fail(err, PFR_ERR_CONFIG, "env.states=%d: garnet needs at least 2 states", S);
    if (nb > S)
        return pfr_fail(err, PFR_ERR_CONFIG, "env.branching=%d exceeds env.states=%d", nb, S);
    builder b;
    int *nx = malloc(sizeof(int) * (size_t)nb * 2);
    double *p = malloc(sizeof(double) * (size_t)nb * 2);
    /* base MDP, shared by all types: next states, probabilities and reward per (s, a) */
    int *bnx = malloc(sizeof(int) * (size_t)S * A * nb);
    double *bp = malloc(sizeof(double) * (size_t)S * A * nb), *br = malloc(sizeof(double) * (size_t)S * A);
    if (builder_init(&b, S, M) != PFR_OK || !nx || !p || !bnx || !bp || !br) {
        builder_free(&b);
        free(nx); free(p); free(bnx); free(bp); free(br);
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory building garnet");
    }
    env_rng base = {c->seed, PFR_STREAM_GARNET_BASE, 0};
    for (int sa = 0; sa < S * A; ++sa) {
        garnet_row(&base, S, nb, bnx + (size_t)sa * nb, bp + (size_t)sa * nb);
        br[sa] = rng_uniform(&base) - 0.5; /* centred rewards: values of order 1, varying across states */
    }
    const double eps = c->perturbation;
    pfr_status st = PFR_OK;
    for (int m = 0; m < M && st == PFR_OK; ++m) {
        env_rng pert = {c->seed, PFR_STREAM_GARNET_TYPE0 + (uint64_t)m, 0};
        for (int s = 0; s < S && st == PFR_OK; ++s) {
            for (int a = 0; a < A; ++a) {
                size_t sa = (size_t)s * A + a;
                garnet_row(&pert, S, nb, nx, p); /* the type's own perturbation direction */
                double r = c->reward_scale * (br[sa] + eps * (rng_uniform(&pert) - 0.5));
                for (int k = 0; k < nb; ++k) {
                    row_add(&b, bnx[sa * nb + k], (1.0 - eps) * bp[sa * nb + k] / A, r);
                    row_add(&b, nx[k], eps * p[k] / A, r);
                }
            }
            st = row_end(&b);
        }
    }
    free(nx); free(p); free(bnx); free(bp); free(br);
    if (st != PFR_OK) {
        builder_free(&b);
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory building garnet");
    }
    snprintf(env->description, sizeof env->description, "garnet S=%d A=%d b=%d, %d types, perturbation %g", S, A, nb, M, eps);
    return builder_finish(&b, env) == PFR_OK ? PFR_OK : pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
}

/* The textbook random walk, made continuing: leaving either end restarts at the centre
 * (reward 1 on the right exit, 0 elsewhere). */
static pfr_status build_randomwalk(const pfr_env_config *c, int M, pfr_env *env, pfr_error *err)
{
    const int n = c->states ? c->states : 5;
    if (n < 2)
        return pfr_fail(err, PFR_ERR_CONFIG, "env.states=%d: randomwalk needs at least 2 states", n);
    const int centre = n / 2;
    builder b;
    if (builder_init(&b, n, M) != PFR_OK) {
        builder_free(&b);
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory building randomwalk");
    }
    for (int m = 0; m < M; ++m) {
        double scale = c->reward_scale * (1.0 + c->reward_spread * (2.0 * type_frac(m, M) - 1.0));
        for (int s = 0; s < n; ++s) {
            row_add(&b, s == 0 ? centre : s - 1, 0.5, 0.0);
            row_add(&b, s == n - 1 ? centre : s + 1, 0.5, s == n - 1 ? scale : 0.0);
            if (row_end(&b) != PFR_OK) {
                builder_free(&b);
                return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory building randomwalk");
            }
        }
    }
    snprintf(env->description, sizeof env->description, "randomwalk n=%d, %d types", n, M);
    return builder_finish(&b, env) == PFR_OK ? PFR_OK : pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
}

static pfr_status build_file(const pfr_env_config *c, pfr_env *env, pfr_error *err)
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
    builder b = {0};
    int M = 0, S = 0;
    if (P.ndim != 3 || P.shape[1] != P.shape[2] || P.shape[0] < 1 || P.shape[1] < 2 || P.shape[0] > 4096 ||
        P.shape[1] > 100000) {
        char shape[200];
        st = pfr_fail(err, PFR_ERR_FORMAT, "env.p_file %s: shape %s; allowed: [M, S, S] with 1 <= M <= 4096 and 2 <= S <= 100000",
                      c->p_file, pfr_npy_shape_text(&P, shape, sizeof shape));
        goto done;
    }
    M = (int)P.shape[0];
    S = (int)P.shape[1];
    if (c->types && c->types != M) {
        st = pfr_fail(err, PFR_ERR_CONFIG, "env.types=%d but env.p_file holds %d types; leave env.types at 0 or set it to %d",
                      c->types, M, M);
        goto done;
    }
    int r_full = R.ndim == 3 && R.shape[0] == M && R.shape[1] == S && R.shape[2] == S;
    int r_state = R.ndim == 2 && R.shape[0] == M && R.shape[1] == S;
    if (!r_full && !r_state) {
        char shape[200];
        st = pfr_fail(err, PFR_ERR_FORMAT, "env.r_file %s: shape %s; allowed: [M, S, S] = (%d, %d, %d) or [M, S] = (%d, %d)",
                      c->r_file, pfr_npy_shape_text(&R, shape, sizeof shape), M, S, S, M, S);
        goto done;
    }
    for (size_t i = 0; i < R.count; ++i)
        if (!isfinite(R.data[i])) {
            st = pfr_fail(err, PFR_ERR_FORMAT, "env.r_file %s: element %zu is not finite", c->r_file, i);
            goto done;
        }
    for (int m = 0; m < M; ++m)
        for (int s = 0; s < S; ++s) {
            const double *row = P.data + ((size_t)m * S + s) * S;
            double sum = 0.0;
            for (int t = 0; t < S; ++t) {
                if (!isfinite(row[t]) || row[t] < 0.0) {
                    st = pfr_fail(err, PFR_ERR_FORMAT, "env.p_file %s: P[%d, %d, %d] = %g; allowed: finite and >= 0",
                                  c->p_file, m, s, t, row[t]);
                    goto done;
                }
                sum += row[t];
            }
            if (fabs(sum - 1.0) > 1e-6) {
                st = pfr_fail(err, PFR_ERR_FORMAT, "env.p_file %s: row P[%d, %d, :] sums to %.9g; allowed: 1 within 1e-6",
                              c->p_file, m, s, sum);
                goto done;
            }
        }
    if (builder_init(&b, S, M) != PFR_OK) {
        st = pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory loading %s", c->p_file);
        goto done;
    }
    for (int m = 0; m < M && st == PFR_OK; ++m)
        for (int s = 0; s < S && st == PFR_OK; ++s) {
            const double *row = P.data + ((size_t)m * S + s) * S;
            for (int t = 0; t < S; ++t) {
                double r = r_full ? R.data[((size_t)m * S + s) * S + t] : R.data[(size_t)m * S + s];
                row_add(&b, t, row[t], r);
            }
            if (row_end(&b) != PFR_OK)
                st = pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory loading %s", c->p_file);
        }
    if (st == PFR_OK) {
        snprintf(env->description, sizeof env->description, "file %.200s (S=%d, %d types)", c->p_file, S, M);
        if (builder_finish(&b, env) != PFR_OK)
            st = pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
    }
done:
    builder_free(&b);
    pfr_npy_free(&P);
    pfr_npy_free(&R);
    return st;
}

int pfr_env_default_types(pfr_env_kind k) { return k == PFR_ENV_RANDOMWALK ? 1 : 4; }

/* Bytes per stored transition: next, thr, reward (4 each) and prob, rewardd (8 each); while a family
 * is built the builder holds next, prob and reward (20) with up to twice the room it needs, and the
 * final thresholds and float rewards (8) are allocated before it lets go. */
#define ENTRY_BYTES 28.0
#define BUILD_ENTRY_BYTES (2.0 * 20.0 + 8.0)

pfr_status pfr_env_estimate(const pfr_env_config *c, pfr_env_size *z, pfr_error *err)
{
    memset(z, 0, sizeof *z);
    const double M = c->types ? c->types : pfr_env_default_types(c->kind);
    double S = 0, nnz = 0, extra = 0;
    switch (c->kind) {
    case PFR_ENV_CLIFFWALK:
        S = (double)(c->width ? c->width : 12) * (c->height ? c->height : 4);
        nnz = M * S * 5.0; /* four moves and the restart */
        break;
    case PFR_ENV_GRIDWORLD:
        S = (double)(c->width ? c->width : 10) * (c->height ? c->height : 10);
        nnz = M * S * 5.0 + M * S; /* four moves and staying; the goal row restarts anywhere */
        break;
    case PFR_ENV_GARNET: {
        S = c->states ? c->states : 50;
        const double per_row = 2.0 * c->actions * c->branching; /* base and perturbation per action */
        nnz = M * S * (per_row < S ? per_row : S);
        extra = 8.0 * S * c->actions * (c->branching + 1.0) + 4.0 * S * c->actions * c->branching; /* base MDP */
        break;
    }
    case PFR_ENV_RANDOMWALK:
        S = c->states ? c->states : 5;
        nnz = 2.0 * M * S;
        break;
    case PFR_ENV_FILE: {
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
        if (P.ndim != 3 || P.shape[1] != P.shape[2]) {
            char shape[200];
            return pfr_fail(err, PFR_ERR_FORMAT, "env.p_file %s: shape %s; allowed: [M, S, S]", c->p_file,
                            pfr_npy_shape_text(&P, shape, sizeof shape));
        }
        z->M = P.shape[0] < 4096 ? (int)P.shape[0] : 4096;
        S = (double)P.shape[1];
        nnz = (double)P.count; /* at most dense */
        extra = (double)P.count * (8.0 + ip) + (double)R.count * (8.0 + ir); /* both arrays loaded */
        z->S = S < 2147483647.0 ? (int)S : 2147483647;
        z->nnz = nnz;
        snprintf(z->keys, sizeof z->keys, "env.p_file %.100s: %d types of %d states", c->p_file, z->M, z->S);
        z->bytes = extra + nnz * BUILD_ENTRY_BYTES + 8.0 * P.shape[0] * (S + 1) + 24.0 * S;
        return PFR_OK;
    }
    }
    z->M = (int)M;
    z->S = S < 2147483647.0 ? (int)S : 2147483647;
    z->nnz = nnz;
    if (c->kind == PFR_ENV_GARNET)
        snprintf(z->keys, sizeof z->keys, "env.states=%d, env.actions=%d, env.branching=%d, env.types=%d", z->S,
                 c->actions, c->branching, z->M);
    else if (c->kind == PFR_ENV_RANDOMWALK)
        snprintf(z->keys, sizeof z->keys, "env.states=%d, env.types=%d", z->S, z->M);
    else
        snprintf(z->keys, sizeof z->keys, "env.width=%d, env.height=%d, env.types=%d", c->width ? c->width : (c->kind == PFR_ENV_CLIFFWALK ? 12 : 10),
                 c->height ? c->height : (c->kind == PFR_ENV_CLIFFWALK ? 4 : 10), z->M);
    z->bytes = extra + nnz * BUILD_ENTRY_BYTES + 8.0 * M * (S + 1) + 24.0 * S;
    return PFR_OK;
}

pfr_status pfr_env_create(const pfr_env_config *cfg, pfr_env **out, pfr_error *err)
{
    *out = NULL;
    pfr_env *env = calloc(1, sizeof *env);
    if (!env)
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
    int M = cfg->types ? cfg->types : pfr_env_default_types(cfg->kind);
    pfr_status st;
    switch (cfg->kind) {
    case PFR_ENV_CLIFFWALK: st = build_cliffwalk(cfg, M, env, err); break;
    case PFR_ENV_GRIDWORLD: st = build_gridworld(cfg, M, env, err); break;
    case PFR_ENV_GARNET: st = build_garnet(cfg, M, env, err); break;
    case PFR_ENV_RANDOMWALK: st = build_randomwalk(cfg, M, env, err); break;
    case PFR_ENV_FILE: st = build_file(cfg, env, err); break;
    default: st = pfr_fail(err, PFR_ERR_CONFIG, "env.kind: unknown family"); break;
    }
    if (st != PFR_OK) {
        pfr_env_destroy(env);
        return st;
    }
    *out = env;
    return PFR_OK;
}

void pfr_env_destroy(pfr_env *env)
{
    if (!env)
        return;
    free(env->row_ptr);
    free(env->next);
    free(env->thr);
    free(env->reward);
    free(env->prob);
    free(env->rewardd);
    free(env);
}

void pfr_env_dense_p(const pfr_env *env, int m, double *P)
{
    const int S = env->S;
    memset(P, 0, sizeof(double) * (size_t)S * S);
    for (int s = 0; s < S; ++s)
        for (uint64_t k = env->row_ptr[(size_t)m * (S + 1) + s]; k < env->row_ptr[(size_t)m * (S + 1) + s + 1]; ++k)
            P[(size_t)s * S + env->next[k]] += env->prob[k];
}

void pfr_env_expected_reward(const pfr_env *env, int m, double *r)
{
    const int S = env->S;
    for (int s = 0; s < S; ++s) {
        double acc = 0.0;
        for (uint64_t k = env->row_ptr[(size_t)m * (S + 1) + s]; k < env->row_ptr[(size_t)m * (S + 1) + s + 1]; ++k)
            acc += env->prob[k] * env->rewardd[k];
        r[s] = acc;
    }
}
