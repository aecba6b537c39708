/*
 * scalar_loop.c — the reference a CPU engine is measured against: PFedTD-Rep's local steps and
 * aggregation written as a plain scalar C loop, the way one would write them first. One agent after
 * another; per step one Philox (pfr_stream_words), the threshold search (pfr_sample_entry) and the
 * TD step (pfr_td_step, pfr_dot's order); the agent's Phi_i as the rows it touched (found through a
 * per-thread slot map); after its K steps those rows' changes added into a per-thread dense
 * accumulator in double. Threads (OpenMP) take agents in static chunks; the round ends with the
 * mean change added to Phi. Same chains (pfr_env_create), same words, no vector code by hand.
 *
 * usage: pfr_scalar_loop CONFIG.yaml [--set key=value]... [--rounds R] [--threads T]
 * prints one line: "scalar_loop: <rate> agent-steps/s (N=.. d=.. K=.. S=.. threads=.. rounds=..)",
 * round time only, the first round left out (as pfedrl's own figure).
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/pfr_agent_math.h"
#include "env/env.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    pfr_config cfg;
    pfr_error err;
    pfr_config_init(&cfg);
    int rounds = 20, threads = omp_get_max_threads();
    if (argc < 2 || pfr_config_load_yaml(&cfg, argv[1], &err) != PFR_OK) {
        fprintf(stderr, "usage: pfr_scalar_loop CONFIG.yaml [--set key=value]... [--rounds R] [--threads T]%s%s\n",
                argc < 2 ? "" : ": ", argc < 2 ? "" : err.msg);
        return 2;
    }
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--rounds") == 0)
            rounds = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--threads") == 0)
            threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--set") == 0) {
            char key[256];
            const char *eq = strchr(argv[i + 1], '=');
            if (!eq)
                return 2;
            snprintf(key, sizeof key, "%.*s", (int)(eq - argv[i + 1]), argv[i + 1]);
            if (pfr_config_set(&cfg, key, eq + 1, &err) != PFR_OK) {
                fprintf(stderr, "%s\n", err.msg);
                return 2;
            }
        }
    }
    pfr_env *env;
    if (pfr_env_create(&cfg.env, &env, &err) != PFR_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const int S = env->S, M = env->M, d = cfg.dim, K = cfg.local_steps;
    const int64_t N = cfg.agents;
    const float gamma = (float)cfg.gamma, alpha = (float)cfg.alpha, beta = (float)cfg.beta;
    float *phi = malloc(sizeof(float) * (size_t)S * d), *theta = calloc((size_t)N * d, sizeof(float));
    uint32_t *state = malloc(sizeof(uint32_t) * (size_t)N);
    double *sum = calloc((size_t)threads * S * d, sizeof(double));
    if (!phi || !theta || !state || !sum)
        return 1;
    for (size_t e = 0; e < (size_t)S * d; ++e)
        phi[e] = (float)((double)pfr_stream_words(1, PFR_STREAM_INIT_PHI, e).w[0] / 4294967296.0 - 0.5);
    for (int64_t i = 0; i < N; ++i)
        state[i] = pfr_word_below(pfr_stream_words(0, PFR_STREAM_INIT_STATE, (uint64_t)i).w[0], (uint32_t)S);

    double t_rounds = 0.0;
    uint64_t steps = 0;
    for (int r = 0; r <= rounds; ++r) { /* round 0: warm-up, not timed */
        const double t0 = now_s();
#pragma omp parallel num_threads(threads)
        {
            const int tid = omp_get_thread_num();
            double *acc = sum + (size_t)tid * S * d;
            uint16_t *slot = malloc(sizeof(uint16_t) * (size_t)S);
            int *rows = malloc(sizeof(int) * (size_t)(K + 1));
            float *vals = malloc(sizeof(float) * (size_t)(K + 1) * d);
            for (int s = 0; s < S; ++s)
                slot[s] = 0xFFFF;
#pragma omp for schedule(static)
            for (int64_t i = 0; i < N; ++i) {
                const uint64_t *rp = env->row_ptr + (size_t)(i % M) * (S + 1);
                float *th = theta + (size_t)i * d;
                uint32_t s = state[i];
                int n = 0;
                for (int k = 0; k < K; ++k) {
                    const uint32_t u = pfr_stream_words(cfg.seed, (uint64_t)i, (uint64_t)r * K + k).w[0];
                    const uint64_t a = rp[s];
                    const uint64_t j = a + pfr_sample_entry(env->thr + a, (uint32_t)(rp[s + 1] - a), u);
                    const uint32_t s2 = env->next[j];
                    if (slot[s] == 0xFFFF) { /* first visit: the agent's own copy of the row */
                        slot[s] = (uint16_t)n;
                        rows[n] = (int)s;
                        memcpy(vals + (size_t)n * d, phi + (size_t)s * d, sizeof(float) * d);
                        ++n;
                    }
                    float *ps = vals + (size_t)slot[s] * d;
                    const float *pn = slot[s2] != 0xFFFF ? vals + (size_t)slot[s2] * d : phi + (size_t)s2 * d;
                    pfr_td_step(ps, pn, th, d, env->reward[j], gamma, alpha, beta, 1);
                    s = s2;
                }
                state[i] = s;
                for (int q = 0; q < n; ++q) { /* the agent's changes into the sum; its slots emptied */
                    for (int c = 0; c < d; ++c)
                        acc[(size_t)rows[q] * d + c] += (double)vals[(size_t)q * d + c] - (double)phi[(size_t)rows[q] * d + c];
                    slot[rows[q]] = 0xFFFF;
                }
            }
            free(slot);
            free(rows);
            free(vals);
        }
        for (size_t e = 0; e < (size_t)S * d; ++e) { /* the mean change */
            double tot = 0.0;
            for (int t = 0; t < threads; ++t) {
                tot += sum[(size_t)t * S * d + e];
                sum[(size_t)t * S * d + e] = 0.0;
            }
            phi[e] = (float)((double)phi[e] + tot / (double)N);
        }
        if (r > 0) {
            t_rounds += now_s() - t0;
            steps += (uint64_t)N * K;
        }
    }
    printf("scalar_loop: %.4g agent-steps/s  (N=%lld d=%d K=%d S=%d threads=%d rounds=%d)\n", (double)steps / t_rounds,
           (long long)N, d, K, S, threads, rounds);
    pfr_env_destroy(env);
    free(phi);
    free(theta);
    free(state);
    free(sum);
    return 0;
}
