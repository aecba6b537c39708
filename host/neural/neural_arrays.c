/*
 * neural_arrays.c — the list of the neural state's arrays that a round changes (neural.h's
 * pfr_neural_arrays), in one place for the checkpoint (host/sim/checkpoint.c) and the device's
 * mirror (host/cuda/neural_cuda.cu, which the CUDA module builds with its own copy of this file).
 */
#include "neural.h"

int pfr_neural_arrays(pfr_neural *nn, int64_t N, pfr_neural_array_fn fn, void *ctx)
{
#define TAG4(s) ((uint32_t)(s)[0] | (uint32_t)(s)[1] << 8 | (uint32_t)(s)[2] << 16 | (uint32_t)(s)[3] << 24)
    const uint64_t n = (uint64_t)N, P = (uint64_t)nn->P, H = (uint64_t)nn->H, C = (uint64_t)nn->C, O = (uint64_t)nn->O;
    const struct {
        const char *tag;
        void *data;
        uint64_t bytes;
    } list[] = {
        {"NBOD", nn->body, 4 * n * P},         {"NBTG", nn->body_tgt, 4 * n * P}, {"NBAM", nn->body_m, 4 * n * P},
        {"NBAV", nn->body_v, 4 * n * P},       {"NHED", nn->head, 4 * n * H},     {"NHTG", nn->head_tgt, 4 * n * H},
        {"NHAM", nn->head_m, 4 * n * H},       {"NHAV", nn->head_v, 4 * n * H},   {"NSHB", nn->shared, 4 * P},
        {"NSHH", nn->shared_head, 4 * H},      {"NROB", nn->obs, 4 * n * C * O},  {"NRNX", nn->next, 4 * n * C * O},
        {"NRRW", nn->reward, 4 * n * C},       {"NRAC", nn->action, n * C},       {"NRDN", nn->done, n * C},
        {"NRSZ", nn->rb_size, 4 * n},          {"NRHD", nn->rb_head, 4 * n},      {"NEPT", nn->ep_t, 4 * n},
        {"NADT", nn->adam_t, 4 * n},           {"NEPI", nn->episode, 8 * n},      {"NGRD", nn->grad, 8 * n},
        {"NSTA", nn->state, 8 * n * PFR_CLASSIC_STATE}, {"NEPS", nn->eps, 8 * n}, {"NLSS", nn->loss_sum, 8 * n},
        {"NLSN", nn->loss_n, 8 * n},           {"NLMK", nn->loss_mark, 16},
    };
    for (size_t k = 0; k < sizeof list / sizeof list[0]; ++k)
        if (fn(ctx, TAG4(list[k].tag), list[k].data, list[k].bytes) != 0)
            return -1;
    return 0;
#undef TAG4
}
