/*
 * env_build.c — what every environment family builds its chains with (env_build.h): a generator
 * keyed by env.seed, and a builder that takes rows in order, merges repeated next states, and
 * finishes with the integer sampling thresholds.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env_build.h"

/* ---- a small counter-based generator for building environments ---------------------------- */

uint32_t pfr_env_rng_u32(pfr_env_rng *r)
{
    pfr_words w = pfr_stream_words(r->seed, r->stream, r->n / 4);
    return w.w[r->n++ % 4];
}

double pfr_env_rng_uniform(pfr_env_rng *r) /* [0, 1) with 53 bits */
{
    uint64_t hi = pfr_env_rng_u32(r) >> 5, lo = pfr_env_rng_u32(r) >> 6;
    return (double)(hi * 67108864u + lo) * (1.0 / 9007199254740992.0);
}

/* ---- chain builder: rows are emitted in order; repeated next states merge ------------------ */

pfr_status pfr_builder_init(pfr_builder *b, int S, int M) { return pfr_builder_init_mdp(b, S, 1, M); }

pfr_status pfr_builder_init_mdp(pfr_builder *b, int S, int A, int M)
{
    memset(b, 0, sizeof *b);
    b->S = S;
    b->A = A;
    b->R = S * A;
    b->M = M;
    b->cap = (uint64_t)b->R * M * 4 + 16;
    b->row_ptr = malloc(sizeof(uint64_t) * ((size_t)M * (b->R + 1)));
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

void pfr_builder_free(pfr_builder *b)
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

void pfr_row_add(pfr_builder *b, int next, double p, double r)
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

pfr_status pfr_row_end(pfr_builder *b)
{
    uint64_t row = b->rows_done++;
    int m = (int)(row / (uint64_t)b->R), s = (int)(row % (uint64_t)b->R); /* s: the row, s*A + a in an MDP */
    if (s == 0)
        b->row_ptr[(size_t)m * (b->R + 1)] = b->nnz;
    int sorted = 1; /* wide rows (a restart anywhere: 8e5 entries) come in order: no sort */
    for (int k = 1; k < b->ntouched && sorted; ++k)
        sorted = b->touched[k - 1] < b->touched[k];
    if (!sorted)
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
    b->row_ptr[(size_t)m * (b->R + 1) + s + 1] = b->nnz;
    return PFR_OK;
}

/* Move the builder's arrays into env and compute the integer thresholds. */
pfr_status pfr_builder_finish(pfr_builder *b, pfr_env *env)
{
    env->S = b->S;
    env->A = b->A;
    env->M = b->M;
    env->nnz = b->nnz;
    env->row_ptr = b->row_ptr;
    env->next = b->next;
    env->prob = b->prob;
    env->rewardd = b->rew;
    b->row_ptr = NULL;
    b->next = NULL;
    b->prob = b->rew = NULL;
    pfr_builder_free(b);
    env->thr = malloc(sizeof(uint32_t) * (env->nnz ? env->nnz : 1));
    env->reward = malloc(sizeof(float) * (env->nnz ? env->nnz : 1));
    if (!env->thr || !env->reward)
        return PFR_ERR_NO_MEMORY;
    const int R = env->S * env->A; /* rows per type */
    for (int m = 0; m < env->M; ++m)
        for (int s = 0; s < R; ++s) {
            uint64_t a = env->row_ptr[(size_t)m * (R + 1) + s], e = env->row_ptr[(size_t)m * (R + 1) + s + 1];
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
