/*
 * dqn_steps.c — the neural engine's minibatch step (the template dqn_lanes.h) compiled for each
 * instruction set it can use, so the engine picks the widest the CPU has and a test runs every one
 * this CPU can against the reference (tests/test_dqn.cc): the same C with the target's register as
 * its lanes (16 floats AVX-512, 8 AVX2, 4 SSE2 or NEON), no contraction into FMAs, no reordering, so
 * all give pfr_dqn_step's bits. Compiled without errno (CMakeLists.txt), so Adam's sqrtf is the
 * vector instruction.
 */
#include "dqn_steps.h"

#include <string.h>

#define PFR_DQN_V 4
#define PFR_DQN_SUFFIX portable
#define PFR_DQN_TARGET
#include "dqn_lanes.h"
#undef PFR_DQN_V
#undef PFR_DQN_SUFFIX
#undef PFR_DQN_TARGET
static int always(void) { return 1; }

#if defined(__x86_64__)
#define PFR_DQN_V 8
#define PFR_DQN_SUFFIX avx2
#define PFR_DQN_TARGET __attribute__((target("avx2")))
#include "dqn_lanes.h"
#undef PFR_DQN_V
#undef PFR_DQN_SUFFIX
#undef PFR_DQN_TARGET

#define PFR_DQN_V 16
#define PFR_DQN_SUFFIX avx512
#define PFR_DQN_TARGET __attribute__((target("avx512f")))
#include "dqn_lanes.h"
#undef PFR_DQN_V
#undef PFR_DQN_SUFFIX
#undef PFR_DQN_TARGET

static int has_avx2(void) { return __builtin_cpu_supports("avx2"); }
static int has_avx512(void) { return __builtin_cpu_supports("avx512f"); }
#endif

/* Widest first: the engine takes the first this CPU supports. */
static const pfr_dqn_step_path PATHS[] = {
#if defined(__x86_64__)
    {"avx512", pfr_dqn_step_lanes_avx512, has_avx512},
    {"avx2", pfr_dqn_step_lanes_avx2, has_avx2},
#endif
    {"portable", pfr_dqn_step_lanes_portable, always},
};

const pfr_dqn_step_path *pfr_dqn_step_paths(int *n)
{
    *n = (int)(sizeof PATHS / sizeof PATHS[0]);
    return PATHS;
}

const pfr_dqn_step_path *pfr_dqn_step_choose(const char *name)
{
    int n;
    const pfr_dqn_step_path *p = pfr_dqn_step_paths(&n);
    for (int k = 0; k < n; ++k)
        if ((name && strcmp(name, p[k].name) == 0) || (!name && p[k].supported()))
            return p[k].supported() ? &p[k] : NULL;
    return NULL;
}
