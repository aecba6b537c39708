/*
 * plan.c — the host memory a configuration needs, planned before its first large allocation and
 * compared with the memory actually available (MemAvailable, and the cgroup's limit when the
 * process runs in one), so a configuration that cannot fit is refused up front, naming its sizes
 * (PFR_ERR_TOO_LARGE: bad input, exit 2), instead of failing minutes later.
 *
 * Counted: building the environment (the builder's room included), the ground truth, the agents'
 * state (Phi, theta, states, every Phi_i for local_rep), the CPU engine's work space for its
 * threads, and an evaluation's per-block sums. Not counted: a device engine's device memory (its
 * own plan, cuda/cuda_plan.c) and allocations below a megabyte.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dist.h"
#include "engine.h"
#include "federation.h"

/* The CPUs a container's quota allows (cgroup v2 cpu.max "quota period", v1 cfs_quota_us and
 * cfs_period_us), rounded up; 0 if there is no quota. A container limited to 2 CPUs on a 64-core
 * host sees 64 cores: 64 threads there would take turns on 2 (each round waits for the slowest). */
static int quota_cpus(void)
{
    const char *root = getenv("PFEDRL_TEST_CGROUP"); /* tests: a folder standing for /sys/fs/cgroup */
    char path[512];
    double quota = -1.0, period = -1.0;
    snprintf(path, sizeof path, "%s/cpu.max", root ? root : "/sys/fs/cgroup");
    FILE *f = fopen(path, "r");
    if (f) {
        char q[32] = "";
        if (fscanf(f, "%31s %lf", q, &period) == 2 && strcmp(q, "max") != 0)
            quota = strtod(q, NULL);
        fclose(f);
    } else {
        snprintf(path, sizeof path, "%s/cpu/cpu.cfs_quota_us", root ? root : "/sys/fs/cgroup");
        f = fopen(path, "r");
        if (f) {
            if (fscanf(f, "%lf", &quota) != 1)
                quota = -1.0;
            fclose(f);
        }
        snprintf(path, sizeof path, "%s/cpu/cpu.cfs_period_us", root ? root : "/sys/fs/cgroup");
        f = fopen(path, "r");
        if (f) {
            if (fscanf(f, "%lf", &period) != 1)
                period = -1.0;
            fclose(f);
        }
    }
    return quota > 0 && period > 0 ? (int)ceil(quota / period) : 0;
}

int pfr_resolve_threads(int want)
{
    if (want > 0)
        return want;
    if (getenv("OMP_NUM_THREADS")) /* the user's word */
        return omp_get_max_threads() > 0 ? omp_get_max_threads() : 1;
    int n = omp_get_max_threads(); /* the cores this process may use (its affinity) */
    const int quota = quota_cpus();
    if (quota > 0 && quota < n)
        n = quota;
    return n > 0 ? n : 1;
}

/* A number from the first line of a file ("max" or missing: -1). */
static double read_number(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1.0;
    char buf[64] = "";
    const int ok = fgets(buf, sizeof buf, f) != NULL;
    fclose(f);
    if (!ok || strncmp(buf, "max", 3) == 0)
        return -1.0;
    char *end;
    const double v = strtod(buf, &end);
    return end == buf ? -1.0 : v;
}

double pfr_host_available_bytes(void)
{
    double avail = -1.0;
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "MemAvailable:", 13) == 0) {
                avail = strtod(line + 13, NULL) * 1024.0; /* kB */
                break;
            }
        fclose(f);
    }
    if (avail < 0) { /* no /proc: physical memory */
        const double pages = (double)sysconf(_SC_PHYS_PAGES), size = (double)sysconf(_SC_PAGESIZE);
        avail = pages > 0 && size > 0 ? pages * size : -1.0;
    }
    /* a cgroup limit (v2, then v1) */
    double limit = read_number("/sys/fs/cgroup/memory.max"), used = read_number("/sys/fs/cgroup/memory.current");
    if (limit < 0) {
        limit = read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes");
        used = read_number("/sys/fs/cgroup/memory/memory.usage_in_bytes");
    }
    if (limit > 0 && limit < 1e18) {
        const double room = limit - (used > 0 ? used : 0.0);
        if (avail < 0 || room < avail)
            avail = room > 0 ? room : 0.0;
    }
    return avail;
}

static double gib(double b) { return b / 1073741824.0; }

/* The parts of a plan, each with the keys that make it smaller: a refusal names the largest. */
typedef struct plan_part {
    const char *name;
    double bytes;
    const char *smaller;
} plan_part;

static pfr_status refuse(const pfr_config *cfg, const pfr_env_size *z, int threads, const pfr_host_plan *p,
                         pfr_error *err)
{
    const pfr_federation_config *f = &cfg->federation;
    char fed_keys[96];
    snprintf(fed_keys, sizeof fed_keys, "a smaller federation.%s (%d: that many past copies of Phi kept)",
             f->max_delay > 0 ? "max_delay" : "delay", f->max_delay > 0 ? f->max_delay : f->delay);
    const plan_part parts[] = {
        {"environment", p->env_bytes, "fewer states or types (env.*)"},
        {"ground truth", p->truth_bytes, "fewer states or types (env.*)"},
        {"agents", p->agent_bytes,
         pfr_algorithm_traits(cfg->algorithm).own_phi ? "fewer agents or a smaller dim (local_rep keeps a Phi per agent)"
                                                       : "fewer agents or a smaller dim"},
        {"federation", p->fed_bytes,
         f->max_delay > 0 || f->delay > 0 ? fed_keys : "fewer agents (availability per agent)"},
        {"CPU engine work space", p->engine_bytes, "fewer threads, states or types"},
    };
    int big = 0;
    for (int i = 1; i < (int)(sizeof parts / sizeof parts[0]); ++i)
        if (parts[i].bytes > parts[big].bytes)
            big = i;
    return pfr_fail(err, PFR_ERR_TOO_LARGE,
                    "agents=%lld, dim=%d, local_steps=%d, %s, %s (S=%d) needs %.2f GiB of host memory "
                    "(environment %.2f, ground truth %.2f, agents %.2f, federation %.2f, CPU engine work space for %d "
                    "threads %.2f); %.2f GiB are available; the largest part is %s, which shrinks with %s",
                    (long long)cfg->agents, cfg->dim, cfg->local_steps, pfr_algorithm_name(cfg->algorithm), z->keys, z->S,
                    gib(p->total_bytes), gib(p->env_bytes), gib(p->truth_bytes), gib(p->agent_bytes),
                    gib(p->fed_bytes), threads, gib(p->engine_bytes), gib(p->available_bytes), parts[big].name,
                    parts[big].smaller);
}

pfr_status pfr_plan_host_memory(const pfr_config *cfg, int threads, double available, pfr_host_plan *plan,
                                pfr_error *err)
{
    memset(plan, 0, sizeof *plan);
    pfr_env_size z;
    pfr_status st = cfg->control.kind ? pfr_env_estimate_mdp(&cfg->env, &z, err) : pfr_env_estimate(&cfg->env, &z, err);
    if (st != PFR_OK)
        return st;
    const pfr_alg_traits t = pfr_algorithm_traits(cfg->algorithm);
    const double S = z.S, M = z.M, d = cfg->dim, N = (double)cfg->agents, K = cfg->local_steps;
    plan->env_bytes = z.bytes;
    const int solving = threads < z.M ? threads : z.M; /* types solved side by side (+1: the shared pattern) */
    plan->truth_bytes = pfr_truth_bytes(z.S, z.M) + (solving + 1) * pfr_truth_solver_bytes(z.S, z.nnz / z.M);
    plan->agent_bytes = 4.0 * S * d + N * (4.0 * d + 4.0) + (t.own_phi ? 4.0 * N * S * d : 0.0) +
                        8.0 * 3.0 * (N / PFR_AGENT_BLOCK + 1.0) + 8.0 * M * (d * d + d);
    plan->fed_bytes = pfr_fed_bytes(cfg, z.S);
    const int shared = !t.own_phi && (t.avg_phi || t.avg_theta);
    const int ranks = pfr_dist_size(); /* over MPI ranks: a rank's blocks in one wave */
    const int64_t nblocks = (cfg->agents + PFR_AGENT_BLOCK - 1) / PFR_AGENT_BLOCK;
    plan->engine_bytes = cfg->backend == PFR_BACKEND_CUDA
                             ? 0.0
                             : pfr_engine_cpu_bytes(z.S, cfg->dim, (int)(K < 1e9 ? K : 1e9), z.M, z.nnz, threads, shared,
                                                    cfg->agents, ranks > 1 ? (nblocks + ranks - 1) / ranks : 0);
    plan->total_bytes = plan->env_bytes + plan->truth_bytes + plan->agent_bytes + plan->fed_bytes + plan->engine_bytes;
    plan->available_bytes = available;
    if (available > 0 && plan->total_bytes > available)
        return refuse(cfg, &z, threads, plan, err);
    return PFR_OK;
}
