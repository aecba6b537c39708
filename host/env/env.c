/*
 * env.c — environment families (DESIGN §2), one table (FAMILIES) of their defaults, actions,
 * builders and sizes. Each family turns a few parameters into M Markov chains (a fixed policy
 * followed in an MDP), stored as CSR with integer sampling thresholds. The grid families are in
 * env_grid.c, the file family in env_file.c, the builder in env_build.c.
 * Types are generated from env.seed alone, so the problem does not change with the run seed or N.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env_build.h"

/* b distinct next states with random probabilities (uniform spacings). */
static void garnet_row(pfr_env_rng *rng, int S, int nb, int *nx, double *p)
{
    for (int k = 0; k < nb; ++k) {
        int again;
        do {
            nx[k] = (int)pfr_word_below(pfr_env_rng_u32(rng), (uint32_t)S);
            again = 0;
            for (int j = 0; j < k; ++j)
                again |= nx[j] == nx[k];
        } while (again);
    }
    double sum = 0.0;
    for (int k = 0; k < nb; ++k) {
        p[k] = -log(1.0 - pfr_env_rng_uniform(rng)); /* exponential spacings = uniform on the simplex */
        sum += p[k];
    }
    for (int k = 0; k < nb; ++k)
        p[k] /= sum;
}

static pfr_status build_garnet(const pfr_env_config *c, int M, int mdp, pfr_env *env, pfr_error *err)
{
    const int S = pfr_env_states(c), A = c->actions, nb = c->branching;
    const double pa = mdp ? 1.0 : 1.0 / A; /* the chain follows the uniform policy; an MDP has a row per action */
    if (S < 2)
        return pfr_fail(err, PFR_ERR_CONFIG, "env.states=%d: garnet needs at least 2 states", S);
    if (nb > S)
        return pfr_fail(err, PFR_ERR_CONFIG, "env.branching=%d exceeds env.states=%d", nb, S);
    pfr_builder b;
    int *nx = malloc(sizeof(int) * (size_t)nb * 2);
    double *p = malloc(sizeof(double) * (size_t)nb * 2);
    /* base MDP, shared by all types: next states, probabilities and reward per (s, a) */
    int *bnx = malloc(sizeof(int) * (size_t)S * A * nb);
    double *bp = malloc(sizeof(double) * (size_t)S * A * nb), *br = malloc(sizeof(double) * (size_t)S * A);
    if (pfr_builder_init_mdp(&b, S, mdp ? A : 1, M) != PFR_OK || !nx || !p || !bnx || !bp || !br) {
        pfr_builder_free(&b);
        free(nx); free(p); free(bnx); free(bp); free(br);
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory building garnet");
    }
    pfr_env_rng base = {c->seed, PFR_STREAM_GARNET_BASE, 0};
    for (int sa = 0; sa < S * A; ++sa) {
        garnet_row(&base, S, nb, bnx + (size_t)sa * nb, bp + (size_t)sa * nb);
        br[sa] = pfr_env_rng_uniform(&base) - 0.5; /* centred rewards: values of order 1, varying across states */
    }
    const double eps = c->perturbation;
    pfr_status st = PFR_OK;
    for (int m = 0; m < M && st == PFR_OK; ++m) {
        pfr_env_rng pert = {c->seed, PFR_STREAM_GARNET_TYPE0 + (uint64_t)m, 0};
        for (int s = 0; s < S && st == PFR_OK; ++s) {
            for (int a = 0; a < A; ++a) {
                size_t sa = (size_t)s * A + a;
                garnet_row(&pert, S, nb, nx, p); /* the type's own perturbation direction */
                double r = c->reward_scale * (br[sa] + eps * (pfr_env_rng_uniform(&pert) - 0.5));
                for (int k = 0; k < nb; ++k) {
                    pfr_row_add(&b, bnx[sa * nb + k], (1.0 - eps) * bp[sa * nb + k] * pa, r);
                    pfr_row_add(&b, nx[k], eps * p[k] * pa, r);
                }
                if (mdp)
                    st = st == PFR_OK ? pfr_row_end(&b) : st;
            }
            if (!mdp)
                st = pfr_row_end(&b);
        }
    }
    free(nx); free(p); free(bnx); free(bp); free(br);
    if (st != PFR_OK) {
        pfr_builder_free(&b);
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory building garnet");
    }
    snprintf(env->description, sizeof env->description, "garnet S=%d A=%d b=%d, %d types, perturbation %g", S, A, nb, M, eps);
    return pfr_builder_finish(&b, env) == PFR_OK ? PFR_OK : pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
}

/* The textbook random walk, made continuing: leaving either end restarts at the centre
 * (reward 1 on the right exit, 0 elsewhere). */
static pfr_status build_randomwalk(const pfr_env_config *c, int M, int mdp, pfr_env *env, pfr_error *err)
{
    const int n = pfr_env_states(c), A = mdp ? 2 : 1;
    if (n < 2)
        return pfr_fail(err, PFR_ERR_CONFIG, "env.states=%d: randomwalk needs at least 2 states", n);
    const int centre = n / 2;
    pfr_builder b;
    if (pfr_builder_init_mdp(&b, n, A, M) != PFR_OK) {
        pfr_builder_free(&b);
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory building randomwalk");
    }
    for (int m = 0; m < M; ++m) {
        double scale = c->reward_scale * (1.0 + c->reward_spread * (2.0 * pfr_type_frac(m, M) - 1.0));
        for (int s = 0; s < n; ++s)
            for (int a = 0; a < A; ++a) { /* the chain: left or right at random; the MDP: action 0 left, 1 right */
                const double left = mdp ? (a == 0 ? 1.0 : 0.0) : 0.5;
                pfr_row_add(&b, s == 0 ? centre : s - 1, left, 0.0);
                pfr_row_add(&b, s == n - 1 ? centre : s + 1, 1.0 - left, s == n - 1 ? scale : 0.0);
                if (pfr_row_end(&b) != PFR_OK) {
                    pfr_builder_free(&b);
                    return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory building randomwalk");
                }
            }
    }
    snprintf(env->description, sizeof env->description, "randomwalk n=%d, %d types", n, M);
    return pfr_builder_finish(&b, env) == PFR_OK ? PFR_OK : pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
}

/* base and perturbation rows per action, at most S a row; the base MDP besides */
static double garnet_entries(const pfr_env_config *c, double M, double S, double *extra)
{
    const double per_row = 2.0 * c->actions * c->branching;
    *extra = 8.0 * S * c->actions * (c->branching + 1.0) + 4.0 * S * c->actions * c->branching;
    return M * S * (per_row < S ? per_row : S);
}

static double randomwalk_entries(const pfr_env_config *c, double M, double S, double *extra)
{
    (void)c;
    *extra = 0.0;
    return 2.0 * M * S;
}

static pfr_status build_file(const pfr_env_config *c, int M, int mdp, pfr_env *env, pfr_error *err)
{
    (void)M; /* the files say */
    return pfr_build_file(c, mdp, env, err);
}

/* The families, in pfr_env_kind's order (DESIGN §2). */
static const pfr_env_family FAMILIES[] = {
    /* kind               types  W   H  states actions builder                entries */
    {PFR_ENV_CLIFFWALK,   4,     12, 4, 0,     4,      pfr_build_cliffwalk, pfr_cliffwalk_entries},
    {PFR_ENV_GRIDWORLD,   4,     10, 10, 0,    4,      pfr_build_gridworld, pfr_gridworld_entries},
    {PFR_ENV_GARNET,      4,     0,  0, 50,    0,      build_garnet,        garnet_entries},
    {PFR_ENV_RANDOMWALK,  1,     0,  0, 5,     2,      build_randomwalk,    randomwalk_entries},
    {PFR_ENV_FILE,        4,     0,  0, 0,     0,      build_file,          NULL},
};
_Static_assert(sizeof FAMILIES / sizeof FAMILIES[0] == PFR_ENV_FILE + 1, "a row for every env.kind");

const pfr_env_family *pfr_env_family_of(pfr_env_kind kind)
{
    for (size_t i = 0; i < sizeof FAMILIES / sizeof FAMILIES[0]; ++i)
        if (FAMILIES[i].kind == kind)
            return &FAMILIES[i];
    return NULL;
}

void pfr_env_grid_size(const pfr_env_config *c, int *W, int *H)
{
    const pfr_env_family *f = pfr_env_family_of(c->kind);
    *W = c->width ? c->width : f ? f->width : 0;
    *H = c->height ? c->height : f ? f->height : 0;
}

int pfr_env_states(const pfr_env_config *c)
{
    const pfr_env_family *f = pfr_env_family_of(c->kind);
    return c->states ? c->states : f ? f->states : 0;
}

int pfr_env_default_types(pfr_env_kind k)
{
    const pfr_env_family *f = pfr_env_family_of(k);
    return f ? f->types : 4;
}

static pfr_status estimate(const pfr_env_config *c, int mdp, pfr_env_size *z, pfr_error *err);

pfr_status pfr_env_estimate(const pfr_env_config *c, pfr_env_size *z, pfr_error *err) { return estimate(c, 0, z, err); }

/* An MDP's rows: A per state, each about as many transitions as a chain's row (the chain mixes them). */
pfr_status pfr_env_estimate_mdp(const pfr_env_config *c, pfr_env_size *z, pfr_error *err)
{
    pfr_status st = estimate(c, 1, z, err);
    if (st != PFR_OK || c->kind == PFR_ENV_FILE)
        return st;
    const pfr_env_family *f = pfr_env_family_of(c->kind);
    const double A = f->actions ? f->actions : c->actions;
    z->S = (int)(z->S * A < 2147483647.0 ? z->S * A : 2147483647.0);
    z->bytes += (A - 1.0) * z->nnz * PFR_BUILD_ENTRY_BYTES;
    z->nnz *= A;
    return PFR_OK;
}

static pfr_status estimate(const pfr_env_config *c, int mdp, pfr_env_size *z, pfr_error *err)
{
    memset(z, 0, sizeof *z);
    const pfr_env_family *f = pfr_env_family_of(c->kind);
    if (!f)
        return pfr_fail(err, PFR_ERR_CONFIG, "env.kind: unknown family");
    if (!f->entries)
        return pfr_env_file_estimate(c, mdp, z, err);
    const double M = c->types ? c->types : f->types;
    int W, H;
    pfr_env_grid_size(c, &W, &H);
    const double S = f->width ? (double)W * H : pfr_env_states(c);
    double extra = 0.0;
    const double nnz = f->entries(c, M, S, &extra);
    z->M = (int)M;
    z->S = S < 2147483647.0 ? (int)S : 2147483647;
    z->nnz = nnz;
    if (f->width) /* the keys that set the size, for the memory plan's messages */
        snprintf(z->keys, sizeof z->keys, "env.width=%d, env.height=%d, env.types=%d", W, H, z->M);
    else if (!f->actions)
        snprintf(z->keys, sizeof z->keys, "env.states=%d, env.actions=%d, env.branching=%d, env.types=%d", z->S,
                 c->actions, c->branching, z->M);
    else
        snprintf(z->keys, sizeof z->keys, "env.states=%d, env.types=%d", z->S, z->M);
    z->bytes = extra + nnz * PFR_BUILD_ENTRY_BYTES + 8.0 * M * (S + 1) + 24.0 * S;
    return PFR_OK;
}

static pfr_status env_create(const pfr_env_config *cfg, int mdp, pfr_env **out, pfr_error *err)
{
    *out = NULL;
    const pfr_env_family *f = pfr_env_family_of(cfg->kind);
    if (!f)
        return pfr_fail(err, PFR_ERR_CONFIG, "env.kind: unknown family");
    pfr_env *env = calloc(1, sizeof *env);
    if (!env)
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
    const pfr_status st = f->build(cfg, cfg->types ? cfg->types : f->types, mdp, env, err);
    if (st != PFR_OK) {
        pfr_env_destroy(env);
        return st;
    }
    *out = env;
    return PFR_OK;
}

pfr_status pfr_env_create(const pfr_env_config *cfg, pfr_env **out, pfr_error *err)
{
    return env_create(cfg, 0, out, err);
}

pfr_status pfr_env_create_mdp(const pfr_env_config *cfg, pfr_env **out, pfr_error *err)
{
    return env_create(cfg, 1, out, err);
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
