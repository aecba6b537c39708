/*
 * sim_setup.c — a simulation handle's life: set-up (environment, ground truth, initial
 * Phi/theta/states, the engine), its end, and the room of its metrics history. The round loop is in
 * sim.c; checkpoints (checkpoint.c) build a handle through pfr_sim_build too.
 */
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernels/pfr_agent_math.h"
#include "dist.h"
#include "neural/neural.h"
#include "engine.h"
#include "federation.h"
#ifdef PFR_HAVE_CUDA
#include "cuda/cuda_plugin.h"
#endif

/* ---- set-up ------------------------------------------------------------------------------------ */
/* The initial Phi depends on env.seed only: runs that differ in `seed` start from the same Phi and
 * differ only in their sampled trajectories (what across-seed variances measure). */
static void init_phi(pfr_sim *sim)
{
    const int S = sim->S, d = sim->d;
    if (sim->tabular) { /* the value table starts at 0, as theta does for the other learners */
        memset(sim->phi, 0, sizeof(float) * (size_t)S * d);
        return;
    }
    if (!sim->learn_phi && d == S) { /* tabular features */
        memset(sim->phi, 0, sizeof(float) * (size_t)S * d);
        for (int s = 0; s < S; ++s)
            sim->phi[(size_t)s * d + s] = 1.0f;
        return;
    }
    const double scale = 1.0 / sqrt((double)d); /* rows of expected squared norm 1 */
    for (size_t e = 0; e < (size_t)S * d; e += 2) {
        pfr_words w = pfr_stream_words(sim->cfg.env.seed, PFR_STREAM_INIT_PHI, e / 2);
        double r = sqrt(-2.0 * log(((double)w.w[0] + 1.0) / 4294967297.0));
        double ang = 6.283185307179586 * ((double)w.w[1] / 4294967296.0);
        sim->phi[e] = (float)(scale * r * cos(ang));
        if (e + 1 < (size_t)S * d)
            sim->phi[e + 1] = (float)(scale * r * sin(ang));
    }
}

/* A warning for the caller (pfr_sim_warnings), one line each. */
static void warn(pfr_sim *sim, const char *fmt, ...) PFR_PRINTF(2, 3);
static void warn(pfr_sim *sim, const char *fmt, ...)
{
    const size_t used = strlen(sim->warnings);
    if (used + 2 >= sizeof sim->warnings)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sim->warnings + used, sizeof sim->warnings - used - 1, fmt, ap);
    va_end(ap);
    strcat(sim->warnings, "\n");
}

/* Set-up progress, if the caller asked for it. */
typedef struct setup_report {
    pfr_setup_progress_fn fn;
    void *user;
    const volatile int *stop; /* the caller stopping the set-up (NULL: it cannot) */
} setup_report;

/* A stage reached: reported; non-zero if the caller asked the set-up to stop. */
static int report(const setup_report *r, const char *stage, double fraction)
{
    if (r->fn)
        r->fn(r->user, stage, fraction);
    return r->stop && *r->stop;
}

static int truth_progress(void *user, int done, int M)
{
    return report(user, "ground truth", (double)done / (double)M);
}

/* Stage `stage` reached: reported, and PFR_ERR_INTERRUPTED if the caller asked the set-up to stop. */
static pfr_status begin(const setup_report *r, const char *stage, pfr_error *err)
{
    if (!report(r, stage, 0.0))
        return PFR_OK;
    return pfr_fail(err, PFR_ERR_INTERRUPTED, "set-up stopped before the %s (asked to stop)", stage);
}

pfr_status pfr_sim_create(const pfr_config *cfg, pfr_sim **out, pfr_error *err)
{
    return pfr_sim_build(cfg, NULL, NULL, NULL, NULL, NULL, out, err);
}

pfr_status pfr_sim_create_ex(const pfr_config *cfg, pfr_setup_progress_fn progress, void *user, pfr_sim **out,
                             pfr_error *err)
{
    return pfr_sim_build(cfg, progress, user, NULL, NULL, NULL, out, err);
}

pfr_status pfr_sim_create_stoppable(const pfr_config *cfg, pfr_setup_progress_fn progress, void *user,
                                    const volatile int *stop, pfr_sim **out, pfr_error *err)
{
    return pfr_sim_build(cfg, progress, user, stop, NULL, NULL, out, err);
}

/* ---- the stages of a set-up, in order ------------------------------------------------------------ */

/* backend=auto: the CUDA engine when this build has it and a GPU is present (docs/GPU.md: the device
 * checks it has passed), else the CPU engine; over MPI ranks the CPU engine. *why: where auto found a
 * driver but could not use its GPU. The config keeps `auto` (config.yaml, checkpoints): a resumed run
 * chooses again on its own machine. */
static pfr_status choose_backend(pfr_config *cfg, int ranks, char *why, size_t n, pfr_error *err)
{
#ifndef PFR_HAVE_CUDA
    if (cfg->backend == PFR_BACKEND_CUDA)
        return pfr_fail(err, PFR_ERR_NO_DEVICE,
                        "backend=cuda: this build has no CUDA engine (built without nvcc); allowed here: cpu or auto");
#endif
    if (ranks > 1 && cfg->backend == PFR_BACKEND_CUDA)
        return pfr_fail(err, PFR_ERR_CONFIG, "backend=cuda over %d MPI ranks: the CUDA engine does not run over ranks yet; "
                        "allowed: backend=cpu or auto (which then takes the CPU engine)", ranks);
    if (cfg->backend == PFR_BACKEND_AUTO) {
        cfg->backend = PFR_BACKEND_CPU;
#ifdef PFR_HAVE_CUDA
        if (ranks == 1 && pfr_cuda_available(why, n))
            cfg->backend = PFR_BACKEND_CUDA;
#else
        (void)why, (void)n;
#endif
    }
    const int64_t nblocks = (cfg->agents + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
    if (nblocks < ranks)
        return pfr_fail(err, PFR_ERR_CONFIG, "agents=%lld make %lld block(s) of %d agents, fewer than the %d MPI ranks; "
                        "allowed: at least one block a rank (agents >= %lld), or fewer ranks", (long long)cfg->agents,
                        (long long)nblocks, PFR_AGENT_BLOCK, ranks, (long long)(ranks - 1) * PFR_AGENT_BLOCK + 1);
    return PFR_OK;
}

/* The environment built, and the handle's shape from it: S, M, d, K, N, this rank's blocks and
 * agents, the agents' types, the algorithm's traits. */
static pfr_status build_environment(pfr_sim *sim, const pfr_config *cfg, pfr_error *err)
{
    sim->control = cfg->control.kind;
    pfr_status st = sim->control ? pfr_env_create_mdp(&cfg->env, &sim->env, err) : pfr_env_create(&cfg->env, &sim->env, err);
    if (st != PFR_OK)
        return st;
    sim->A = sim->env->A;
    sim->states = sim->env->S;
    sim->S = sim->env->S * sim->env->A; /* rows of Phi: states, or (state, action) pairs with control */
    sim->M = sim->env->M;
    sim->cfg.env.types = sim->M; /* resolved */
    sim->d = cfg->dim;
    sim->K = cfg->local_steps;
    sim->N = cfg->agents;
    const int64_t nblocks = (sim->N + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
    sim->drank = pfr_dist_rank();
    sim->dsize = pfr_dist_size();
    sim->b0 = pfr_dist_first(nblocks, sim->drank, sim->dsize);
    sim->b1 = pfr_dist_first(nblocks, sim->drank + 1, sim->dsize);
    sim->a0 = sim->b0 * PFR_AGENT_BLOCK;
    sim->a1 = sim->b1 * PFR_AGENT_BLOCK < sim->N ? sim->b1 * PFR_AGENT_BLOCK : sim->N;
    if (sim->d > sim->S)
        return pfr_fail(err, PFR_ERR_CONFIG, "dim=%d exceeds the number of %s S=%d of %s; allowed: 1 <= dim <= %d",
                        sim->d, sim->control ? "state-action pairs" : "states", sim->S, sim->env->description, sim->S);
    sim->type_first = cfg->env.type_first;
    sim->type_count = cfg->env.type_count ? cfg->env.type_count : sim->M - cfg->env.type_first;
    if (sim->type_count < 1 || sim->type_first + sim->type_count > sim->M)
        return pfr_fail(err, PFR_ERR_CONFIG,
                        "env.type_first=%d, env.type_count=%d: the agents' types must lie within the %d types of %s",
                        cfg->env.type_first, cfg->env.type_count, sim->M, sim->env->description);
    const pfr_alg_traits traits = pfr_algorithm_traits(cfg->algorithm);
    sim->learn_phi = traits.learn_phi;
    sim->own_phi = traits.own_phi;
    sim->avg_phi = traits.avg_phi;
    sim->avg_theta = traits.avg_theta;
    sim->tabular = traits.tabular;
    return PFR_OK;
}

/* Phi [S, d], theta [N, d], the states [N], the type weights [M], each agent's Phi_i (local_rep). */
static pfr_status allocate_arrays(pfr_sim *sim, pfr_error *err)
{
    const int S = sim->S, d = sim->d;
    const int64_t N = sim->N;
    sim->phi = malloc(sizeof(float) * (size_t)S * d);
    sim->theta = calloc((size_t)N * d, sizeof(float));
    sim->state = malloc(sizeof(uint32_t) * (size_t)N);
    sim->type_weight = calloc((size_t)sim->M, sizeof(double));
    if (sim->own_phi)
        sim->agent_phi = malloc(sizeof(float) * (size_t)N * S * d);
    if (!sim->phi || !sim->theta || !sim->state || !sim->type_weight || (sim->own_phi && !sim->agent_phi))
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory for %lld agents (S=%d, d=%d)", (long long)N, S, d);
    return PFR_OK;
}

/* Every type's values and stationary distribution (control: Q*), a chain's failure named where the
 * chain came from; the types' weights; the best rank-d error. */
static pfr_status solve_ground_truth(pfr_sim *sim, const pfr_config *cfg, const setup_report *rep, pfr_error *err)
{
    const double t0 = pfr_now_s();
    pfr_status st = sim->control ? pfr_truth_control(sim->env, cfg->gamma, &sim->truth, sim->threads, err)
                                 : pfr_truth_compute_with(sim->env, cfg->gamma, sim->S > PFR_TRUTH_DENSE_MAX,
                                                          &sim->truth, err, truth_progress, (void *)rep, sim->threads);
    sim->truth_s = pfr_now_s() - t0;
    if (st == PFR_ERR_NUMERIC) { /* the chain's fault: bad input, named where it came from */
        if (cfg->env.kind == PFR_ENV_FILE) {
            pfr_error_prefix(err, "%s %s", cfg->env.dir[0] ? "env.dir" : "env.p_file",
                             cfg->env.dir[0] ? cfg->env.dir : cfg->env.p_file);
            st = PFR_ERR_FORMAT;
        } else {
            pfr_error_prefix(err, "env.kind=%s (%s)", pfr_env_kind_name(cfg->env.kind), sim->env->description);
            st = PFR_ERR_CONFIG;
        }
    }
    if (st != PFR_OK)
        return st;
    const int64_t N = sim->N;
    for (int q = 0; q < sim->type_count; ++q) /* agents per type / N; held-out types weigh 0 */
        sim->type_weight[sim->type_first + q] =
            (double)(N / sim->type_count + (q < N % sim->type_count ? 1 : 0)) / (double)N;
    if ((st = begin(rep, "best rank-d error", err)) != PFR_OK)
        return st;
    sim->best_rank_d = sim->tabular ? 0.0 : pfr_truth_best_rank_d(&sim->truth, sim->type_weight, sim->d);
    return PFR_OK;
}

/* Phi from init_phi [S, d] (checked: shape, finite values; all zeros warned). */
static pfr_status load_init_phi(pfr_sim *sim, const pfr_config *cfg, pfr_error *err)
{
    const int S = sim->S, d = sim->d;
    pfr_npy a;
    pfr_status st = pfr_npy_load(cfg->init_phi, &a, err);
    if (st != PFR_OK) {
        pfr_error_prefix(err, "init_phi");
        return st;
    }
    char shape[200];
    pfr_npy_shape_text(&a, shape, sizeof shape);
    const int shape_ok = a.ndim == 2 && a.shape[0] == S && a.shape[1] == d;
    size_t bad = a.count, nonzero = 0;
    for (size_t e = 0; shape_ok && e < a.count; ++e) {
        sim->phi[e] = (float)a.data[e];
        if (!isfinite(sim->phi[e]) && bad == a.count)
            bad = e;
        nonzero += sim->phi[e] != 0.0f;
    }
    pfr_npy_free(&a);
    if (!shape_ok)
        return pfr_fail(err, PFR_ERR_FORMAT, "init_phi %s: shape %s; allowed: [S, d] = (%d, %d)", cfg->init_phi, shape,
                        S, d);
    if (bad < (size_t)S * d)
        return pfr_fail(err, PFR_ERR_FORMAT, "init_phi %s: element [%zu, %zu] is not finite (as float32); allowed: "
                        "finite values", cfg->init_phi, bad / (size_t)d, bad % (size_t)d);
    if (nonzero == 0 && !sim->tabular)
        warn(sim, "init_phi %s is all zeros: every update is proportional to Phi or theta (both 0), so nothing will be "
                  "learned", cfg->init_phi);
    return PFR_OK;
}

/* The initial Phi: a checkpoint's comes later (restore; init_phi, which the run started from, is not
 * read again: it may have changed or gone since), else init_phi, else a random one, orthonormalized
 * where the algorithm asks (CGS2 here, for any random Phi; per round the engines use Cholesky-QR). */
static pfr_status start_phi(pfr_sim *sim, const pfr_config *cfg, int restoring, pfr_error *err)
{
    const int S = sim->S, d = sim->d;
    if (restoring) {
        memset(sim->phi, 0, sizeof(float) * (size_t)S * d);
        return PFR_OK;
    }
    if (cfg->init_phi[0])
        return load_init_phi(sim, cfg, err);
    init_phi(sim);
    if (!(sim->learn_phi ? cfg->orthonormalize : d < S))
        return PFR_OK;
    double *R0 = malloc(sizeof(double) * (size_t)d * d);
    const pfr_status qs = R0 ? pfr_orthonormalize_factor(sim->phi, S, d, R0) : PFR_ERR_NO_MEMORY;
    free(R0);
    return qs == PFR_OK ? PFR_OK
                        : pfr_fail(err, qs, qs == PFR_ERR_NO_MEMORY ? "out of memory" : "the initial Phi is rank deficient");
}

/* Each agent's first state (and SARSA's first action) from its own stream, theta (the tabular
 * learners: fixed at 1), each Phi_i a copy of Phi (local_rep), the federation's state. */
static pfr_status start_agents(pfr_sim *sim, const pfr_config *cfg, pfr_error *err)
{
    const int S = sim->S, d = sim->d;
    const int64_t N = sim->N;
    for (int64_t i = 0; i < N; ++i) {
        pfr_words w = pfr_stream_words(cfg->seed, PFR_STREAM_INIT_STATE, (uint64_t)i);
        sim->state[i] = pfr_word_below(w.w[0], (uint32_t)sim->states);
    }
    if (sim->control == PFR_CONTROL_SARSA) { /* SARSA's first action, uniform (word 1 of the same draw) */
        sim->action = malloc((size_t)N);
        if (!sim->action)
            return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory for %lld agents' actions", (long long)N);
        for (int64_t i = 0; i < N; ++i)
            sim->action[i] = (uint8_t)pfr_word_below(
                pfr_stream_words(cfg->seed, PFR_STREAM_INIT_STATE, (uint64_t)i).w[1], (uint32_t)sim->A);
    }
    if (sim->tabular) /* theta fixed at 1: the value of s is the table's entry, Phi[s] theta */
        for (size_t e = 0; e < (size_t)N * d; ++e)
            sim->theta[e] = 1.0f;
    if (sim->own_phi)
        for (int64_t i = 0; i < N; ++i)
            memcpy(sim->agent_phi + (size_t)i * S * d, sim->phi, sizeof(float) * (size_t)S * d);
    const pfr_status st = pfr_fed_create(sim, err);
    if (st != PFR_OK)
        return st;
    char fed_warning[PFR_PATH_MAX + 256];
    if (pfr_fed_warning(sim->fed, cfg, fed_warning, sizeof fed_warning))
        warn(sim, "%s", fed_warning);
    return PFR_OK;
}

/* The engine the backend names (the CUDA module loaded only now, or by auto's check: a CPU run
 * never pays for CUDA). */
static pfr_status start_engine(pfr_sim *sim, const pfr_config *cfg, pfr_error *err)
{
#ifdef PFR_HAVE_CUDA
    if (cfg->backend == PFR_BACKEND_CUDA) {
        const pfr_cuda_plugin *cuda = pfr_cuda_load(err);
        return cuda ? cuda->engine_init(sim, err) : PFR_ERR_NO_DEVICE;
    }
#else
    (void)cfg;
#endif
    return pfr_engine_cpu_init(sim, err);
}

/* The neural instance (host/neural/): the handle's shape without chains (S = 0; M parameter bins;
 * A the family's actions), its memory checked first, then its state and engine. One process only. */
static pfr_status build_neural(pfr_sim *sim, const pfr_config *cfg, pfr_error *err)
{
    if (pfr_dist_size() > 1)
        return pfr_fail(err, PFR_ERR_CONFIG, "env.kind=%s over %d MPI ranks: the neural instance runs in one process "
                        "yet; allowed: one rank", pfr_env_kind_name(cfg->env.kind), pfr_dist_size());
    const double need = pfr_neural_bytes(cfg, sim->threads), have = pfr_host_available_bytes();
    if (need > have)
        return pfr_fail(err, PFR_ERR_TOO_LARGE, "%lld agents' networks and replay buffers need %.2f GB, %.2f GB is "
                        "available; allowed: fewer agents, a smaller dqn.buffer or a smaller network",
                        (long long)cfg->agents, need / 1e9, have / 1e9);
    sim->N = cfg->agents;
    sim->d = cfg->dim;
    sim->K = cfg->local_steps;
    sim->M = cfg->env.types ? cfg->env.types : pfr_env_default_types(cfg->env.kind);
    sim->cfg.env.types = sim->M;
    sim->A = pfr_classic_actions(cfg->env.kind == PFR_ENV_CARTPOLE ? PFR_CLASSIC_CARTPOLE : PFR_CLASSIC_ACROBOT);
    sim->dsize = 1;
    sim->b1 = (sim->N + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
    sim->a1 = sim->N;
    sim->type_first = cfg->env.type_first;
    sim->type_count = cfg->env.type_count ? cfg->env.type_count : sim->M - cfg->env.type_first;
    if (sim->type_count < 1 || sim->type_first + sim->type_count > sim->M)
        return pfr_fail(err, PFR_ERR_CONFIG, "env.type_first=%d, env.type_count=%d: the agents' parameter bins must lie "
                        "within the %d bins (env.types)", cfg->env.type_first, cfg->env.type_count, sim->M);
    const pfr_alg_traits traits = pfr_algorithm_traits(cfg->algorithm);
    sim->learn_phi = traits.learn_phi;
    sim->own_phi = traits.own_phi;
    sim->avg_phi = traits.avg_phi;
    sim->avg_theta = traits.avg_theta;
    sim->type_weight = calloc((size_t)sim->M, sizeof(double));
    if (!sim->type_weight)
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
    for (int t = 0; t < sim->type_count; ++t) /* agents t, t + type_count, ... */
        sim->type_weight[sim->type_first + t] =
            (double)((sim->N - t + sim->type_count - 1) / sim->type_count) / (double)sim->N;
    return pfr_neural_start(sim, err);
}

/* backend=cuda: the neural state set up (and restored) on the host, mirrored on the device, whose
 * engine then runs the rounds (host/cuda/neural_cuda.cu). */
static pfr_status start_neural_device(pfr_sim *sim, const pfr_config *cfg, pfr_error *err)
{
#ifdef PFR_HAVE_CUDA
    if (cfg->backend == PFR_BACKEND_CUDA) {
        const pfr_cuda_plugin *cuda = pfr_cuda_load(err);
        if (!cuda)
            return PFR_ERR_NO_DEVICE;
        warn(sim, "backend=cuda with env.kind=%s: this engine is new and has not yet been checked on a GPU; a short "
                  "run with backend=cpu gives the bits it must give", pfr_env_kind_name(cfg->env.kind));
        return cuda->neural_init(sim, err);
    }
#else
    (void)sim, (void)cfg, (void)err;
#endif
    return PFR_OK;
}

pfr_status pfr_sim_build(const pfr_config *cfg, pfr_setup_progress_fn progress, void *user, const volatile int *stop,
                         pfr_restore_fn restore, void *ctx, pfr_sim **out, pfr_error *err)
{
    const setup_report rep = {progress, user, stop};
    const double setup_t0 = pfr_now_s();
    if (!cfg || !out)
        return pfr_fail(err, PFR_ERR_INVALID_ARGUMENT, "pfr_sim_create: NULL argument");
    *out = NULL;
    pfr_status st = pfr_config_validate(cfg, err);
    if (st != PFR_OK)
        return st;
    /* what the algorithm makes of the config (tabular: d = 1, no orthonormalization), and the engine */
    pfr_config resolved = *cfg;
    pfr_config_resolve(&resolved);
    char no_gpu_why[sizeof err->msg] = "";
    const int neural = pfr_algorithm_traits(resolved.algorithm).neural;
    if (neural && resolved.backend == PFR_BACKEND_AUTO) /* the GPU's only when asked: it awaits a device's check */
        resolved.backend = PFR_BACKEND_CPU;
    if ((st = choose_backend(&resolved, pfr_dist_size(), no_gpu_why, sizeof no_gpu_why, err)) != PFR_OK)
        return st;
    /* the memory plan: every large allocation below, counted before the first one (plan.c) */
    const int threads = pfr_resolve_threads(resolved.threads);
    pfr_host_plan plan;
    if (!neural && (st = pfr_plan_host_memory(&resolved, threads, pfr_host_available_bytes(), &plan, err)) != PFR_OK)
        return st;

    pfr_sim *sim = calloc(1, sizeof *sim);
    if (!sim)
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
    sim->cfg = resolved;
    sim->cfg.backend = cfg->backend; /* as asked: auto chooses again on resume */
    sim->threads = threads;
    sim->cpu.kernel = (int)resolved.cpu_kernel;
    if (no_gpu_why[0])
        warn(sim, "backend auto: this machine has an NVIDIA driver, but the CUDA engine cannot be used (%s); the CPU "
                  "engine runs", no_gpu_why);
    if (threads > omp_get_num_procs())
        warn(sim, "threads=%d exceeds the %d cores this process can use: the threads take turns (same results, "
                  "no faster)", threads, omp_get_num_procs());
    st = begin(&rep, "environment", err);
    if (st == PFR_OK && neural) /* its own shape and engine, nothing of the chains' stages */
        st = build_neural(sim, &resolved, err);
    if (st == PFR_OK && !neural)
        st = build_environment(sim, &resolved, err);
    if (st == PFR_OK && !neural)
        st = allocate_arrays(sim, err);
    if (st == PFR_OK && !neural)
        st = solve_ground_truth(sim, &resolved, &rep, err); /* (its stages: ground truth, best rank-d error) */
    if (st == PFR_OK && !neural)
        st = begin(&rep, "initial representation", err);
    if (st == PFR_OK && !neural)
        st = start_phi(sim, &resolved, restore != NULL, err);
    if (st == PFR_OK && !neural)
        st = start_agents(sim, &resolved, err);
    if (st == PFR_OK && restore) /* a checkpoint's state over the fresh one */
        st = restore(sim, ctx, err);
    if (st == PFR_OK && neural)
        st = start_neural_device(sim, &resolved, err);
    if (st == PFR_OK && !neural)
        st = begin(&rep, "engine", err);
    if (st == PFR_OK && !neural)
        st = start_engine(sim, &resolved, err);
    if (st != PFR_OK) {
        pfr_sim_destroy(sim);
        return st;
    }
    sim->setup_s = pfr_now_s() - setup_t0;
    report(&rep, "ready", 1.0);
    *out = sim;
    return PFR_OK;
}

void pfr_sim_destroy(pfr_sim *sim)
{
    if (!sim)
        return;
    if (sim->engine && sim->engine->destroy)
        sim->engine->destroy(sim);
    pfr_env_destroy(sim->env);
    pfr_truth_free(&sim->truth);
    free(sim->phi);
    free(sim->agent_phi);
    free(sim->theta);
    free(sim->state);
    free(sim->action);
    free(sim->type_weight);
    free(sim->hist);
    free(sim->hist_type);
    pfr_fed_destroy(sim->fed);
    free(sim);
}

pfr_status pfr_sim_reserve_history(pfr_sim *sim, size_t n)
{
    if (n <= sim->caphist)
        return PFR_OK;
    size_t cap = sim->caphist ? sim->caphist : 64;
    while (cap < n)
        cap *= 2;
    pfr_metrics *h = realloc(sim->hist, cap * sizeof *h);
    if (h)
        sim->hist = h;
    double *ht = h ? realloc(sim->hist_type, cap * (size_t)sim->M * sizeof *ht) : NULL;
    if (!h || !ht)
        return pfr_sim_fail(sim, PFR_ERR_NO_MEMORY, "out of memory for the metrics history");
    sim->hist_type = ht;
    sim->caphist = cap;
    return PFR_OK;
}
