/*
 * dqn_steps.h — the neural engine's minibatch step for each instruction set (dqn_steps.c): the same
 * bits as pfr_dqn_step (kernels/pfr_dqn.h), the widest vectors the CPU has.
 */
#ifndef PFR_DQN_STEPS_H
#define PFR_DQN_STEPS_H

#include <stddef.h>

#include "kernels/pfr_dqn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PFR_DQN_LANES_MAX 16 /* the most lanes a path uses (AVX-512's 16 floats) */

static inline int pfr_dqn_step_widest(const pfr_mlp *m)
{
    int w = m->width[0];
    for (int l = 1; l <= m->layers; ++l)
        w = m->width[l] > w ? m->width[l] : w;
    return w;
}

/* Floats of scratch every path's step needs: activations of every lane, two deltas, a layer's input
 * lane-major. */
static inline size_t pfr_dqn_step_scratch(const pfr_mlp *m)
{
    return (size_t)PFR_DQN_LANES_MAX * ((size_t)pfr_mlp_acts(m) + 3 * (size_t)pfr_dqn_step_widest(m));
}

typedef float (*pfr_dqn_step_fn)(const pfr_mlp *m, int A, float *p, float *theta, const float *p_tgt,
                                 const float *theta_tgt, const pfr_replay *rb, const int *idx, const pfr_dqn_cfg *c,
                                 float *gp, float *gt, float *mp, float *vp, float *mt, float *vt, int t,
                                 float *scratch);

typedef struct pfr_dqn_step_path {
    const char *name; /* "avx512", "avx2", "portable" (the cpu_kernel names) */
    pfr_dqn_step_fn step;
    int (*supported)(void); /* this CPU runs it */
} pfr_dqn_step_path;

/* Every path this build has, widest first; *n of them. */
const pfr_dqn_step_path *pfr_dqn_step_paths(int *n);
/* The path of that name (NULL: the widest this CPU runs); NULL if the CPU cannot run it or no path
 * has the name. */
const pfr_dqn_step_path *pfr_dqn_step_choose(const char *name);

#ifdef __cplusplus
}
#endif

#endif
