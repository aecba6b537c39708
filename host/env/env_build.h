/*
 * env_build.h — the tools of the environment families (env.c, env_grid.c): a counter-based generator
 * keyed by env.seed (so the types never depend on the run seed or N), and the chain builder.
 */
#ifndef PFR_ENV_BUILD_H
#define PFR_ENV_BUILD_H

#include "kernels/pfr_agent_math.h"
#include "env.h"

/* Words of stream `stream` under key `seed`, one after another. */
typedef struct pfr_env_rng {
    uint64_t seed, stream, n;
} pfr_env_rng;
uint32_t pfr_env_rng_u32(pfr_env_rng *r);
double pfr_env_rng_uniform(pfr_env_rng *r); /* [0, 1) with 53 bits */

/* Rows are emitted in order (type 0 row 0, row 1, ...): pfr_row_add for each possible next state
 * (repeated next states merge: P adds up, R becomes E[reward | s -> s']), pfr_row_end to close the
 * row; pfr_builder_finish moves the arrays into the environment and computes the thresholds. */
typedef struct pfr_builder {
    int S, M;
    int A, R;    /* actions (1: a chain) and rows per type R = S A: row s A + a is (state s, action a) */
    uint64_t cap, nnz;
    uint64_t *row_ptr;
    uint32_t *next;
    double *prob, *rew;
    double *acc_p, *acc_pr; /* [S] scratch for the current row */
    int *touched;
    int ntouched;
    uint64_t rows_done;
} pfr_builder;
pfr_status pfr_builder_init(pfr_builder *b, int S, int M);
/* An MDP's rows: for each type, state and action in that order, P(. | s, a) and R(s, a, .). */
pfr_status pfr_builder_init_mdp(pfr_builder *b, int S, int A, int M);
void pfr_builder_free(pfr_builder *b);
void pfr_row_add(pfr_builder *b, int next, double p, double r);
pfr_status pfr_row_end(pfr_builder *b);
pfr_status pfr_builder_finish(pfr_builder *b, pfr_env *env);
/* Peak bytes per transition while a family is built: the builder holds next, prob and reward (20)
 * with up to twice the room it needs, and the final thresholds and float rewards (8) are allocated
 * before it lets go. */
#define PFR_BUILD_ENTRY_BYTES (2.0 * 20.0 + 8.0)

/* Type m's position among M, in [0, 1] (0 when M = 1): what per-type parameters interpolate by. */
static inline double pfr_type_frac(int m, int M) { return M > 1 ? (double)m / (M - 1) : 0.0; }

/* An environment family, one row of env.c's table (FAMILIES): its defaults where the config leaves a
 * size 0, its MDPs' actions a state, its builder (mdp: every action's row instead of the policy's
 * chain), and what building M types of S states stores at most (transitions; *extra: the bytes
 * the builder needs besides). A new family is a row, a builder and its `entries`; its name goes
 * into config.c's ENV_KINDS and its keys into FAMILY_KEYS. */
typedef struct pfr_env_family {
    pfr_env_kind kind;
    int types;         /* env.types = 0 */
    int width, height; /* grids: env.width, env.height = 0 (0 for the others) */
    int states;        /* env.states = 0 (garnet, randomwalk; 0 for the others) */
    int actions;       /* its MDPs' actions a state; 0: env.actions says */
    pfr_status (*build)(const pfr_env_config *c, int M, int mdp, pfr_env *env, pfr_error *err);
    double (*entries)(const pfr_env_config *c, double M, double S, double *extra); /* NULL: the file's */
} pfr_env_family;
const pfr_env_family *pfr_env_family_of(pfr_env_kind kind);
/* A grid's width and height, and a family's number of states, with the family's defaults. */
void pfr_env_grid_size(const pfr_env_config *c, int *W, int *H);
int pfr_env_states(const pfr_env_config *c);

/* The grid families (env_grid.c). */
pfr_status pfr_build_cliffwalk(const pfr_env_config *c, int M, int mdp, pfr_env *env, pfr_error *err);
pfr_status pfr_build_gridworld(const pfr_env_config *c, int M, int mdp, pfr_env *env, pfr_error *err);
double pfr_cliffwalk_entries(const pfr_env_config *c, double M, double S, double *extra);
double pfr_gridworld_entries(const pfr_env_config *c, double M, double S, double *extra);

/* env.kind=file (env_file.c): the chains of P and R .npy files (dense), or of a folder of sparse rows
 * as `pfedrl export` writes it (env.dir); what building them takes, from the files' headers. */
pfr_status pfr_build_file(const pfr_env_config *c, int mdp, pfr_env *env, pfr_error *err);
pfr_status pfr_env_file_estimate(const pfr_env_config *c, int mdp, pfr_env_size *z, pfr_error *err);

#endif
