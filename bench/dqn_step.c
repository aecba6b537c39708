/*
 * dqn_step.c — one agent's minibatch gradient step timed alone: the reference pfr_dqn_step
 * (kernels/pfr_dqn.h) against each instruction set's copy of the engine's step (host/neural/
 * dqn_steps.c) this CPU runs, on the same weights and minibatches; every path's summed loss is
 * printed, and must be the reference's to the last bit (the same bits, so the same sum).
 *
 * usage: pfr_dqn_step [ITERATIONS]   (CartPole's network, 4 -> 64 -> 16, A = 2, batch 16, Adam)
 * prints one line a path: microseconds a step, the summed loss.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "neural/dqn_steps.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A deterministic filler in [-0.5, 0.5). */
static float fill(int k, int mul) { return (float)((k * mul) % 1000) / 1000.0f - 0.5f; }

int main(int argc, char **argv)
{
    const int iters = argc > 1 ? atoi(argv[1]) : 20000;
    if (iters < 1) {
        fprintf(stderr, "usage: pfr_dqn_step [ITERATIONS >= 1]\n");
        return 2;
    }
    pfr_mlp m;
    memset(&m, 0, sizeof m);
    m.layers = 2, m.width[0] = 4, m.width[1] = 64, m.width[2] = 16, m.act = PFR_MLP_RELU;
    enum { A = 2, C = 1000, B = 16 };
    const int P = pfr_mlp_params(&m), H = A * m.width[2];
    float *buf = calloc((size_t)(10 * P + 10 * H + 9 * C + pfr_dqn_step_scratch(&m) + 4 * P), sizeof(float));
    uint8_t *bytes = calloc(2 * C, 1);
    if (!buf || !bytes)
        return 1;
    float *obs = buf, *nx = obs + 4 * C, *rw = nx + 4 * C, *w0 = rw + C, *h0 = w0 + P;
    float *p = h0 + H, *pt = p + P, *th = pt + P, *tt = th + H, *gp = tt + H, *gt = gp + P;
    float *mp = gt + H, *vp = mp + P, *mt = vp + P, *vt = mt + H, *scr = vt + H;
    for (int k = 0; k < 4 * C; ++k)
        obs[k] = 2.0f * fill(k, 13), nx[k] = 2.0f * fill(k, 17);
    for (int k = 0; k < C; ++k)
        rw[k] = 1.0f, bytes[k] = (uint8_t)(k & 1), bytes[C + k] = (uint8_t)(k % 20 == 0);
    for (int k = 0; k < P; ++k)
        w0[k] = fill(k, 7919);
    for (int k = 0; k < H; ++k)
        h0[k] = fill(k, 31);
    const pfr_replay rb = {C, 4, C, 0, obs, nx, rw, bytes, bytes + C};
    const pfr_dqn_cfg c = {0.9f, 1e-3f, 0.9f, 0.999f, 1e-8f, B, 0, 0, 0};
    int npaths;
    const pfr_dqn_step_path *paths = pfr_dqn_step_paths(&npaths);
    for (int path = -1; path < npaths; ++path) {
        if (path >= 0 && !paths[path].supported())
            continue;
        memcpy(p, w0, sizeof(float) * P), memcpy(pt, w0, sizeof(float) * P);
        memcpy(th, h0, sizeof(float) * H), memcpy(tt, h0, sizeof(float) * H);
        memset(mp, 0, sizeof(float) * 2 * P), memset(mt, 0, sizeof(float) * 2 * H);
        double loss = 0.0;
        int idx[B];
        const double t0 = now_s();
        for (int it = 0; it < iters; ++it) {
            for (int b = 0; b < B; ++b)
                idx[b] = (it * 37 + b * 101) % C;
            loss += path < 0 ? pfr_dqn_step(&m, A, p, th, pt, tt, &rb, idx, &c, gp, gt, mp, vp, mt, vt, it + 1, scr)
                             : paths[path].step(&m, A, p, th, pt, tt, &rb, idx, &c, gp, gt, mp, vp, mt, vt, it + 1, scr);
        }
        printf("%-9s %7.2f us a step  (summed loss %.9g)\n", path < 0 ? "reference" : paths[path].name,
               1e6 * (now_s() - t0) / iters, loss);
    }
    free(buf);
    free(bytes);
    return 0;
}
