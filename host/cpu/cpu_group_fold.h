/*
 * cpu_group_fold.h — the 16-agent step's fold over the lane layer the including file chose (as
 * cpu_group_step.h is): each participant's overlay rows summed into the block's part, lanes in index
 * order, with fold_agent's operations (cpu_blocks.c), so every layer gives its bits.
 */
#ifndef PFR_CPU_GROUP_FOLD_H
#define PFR_CPU_GROUP_FOLD_H

#include "cpu_engine.h"

/* cpu_blocks.c's fold_agent for the participants of a group (part[g]), lanes in index order, for d a
 * multiple of 8: a row's eight floats converted to eight doubles at once (the layer's lv_fold8),
 * differences and sums element by element as in fold_agent (whole-row loads also let the just-stored
 * overlay rows forward from the store buffer), each lane's overlay emptied as its rows are
 * folded. One call for the group, and the part's fields in locals: a byte store into a slot map
 * could otherwise alias them, and every row would reload them. A constant D: a row's sums are one or
 * a few vector stores (at large S nearly every overlay row makes a new part row). */
LV void group_fold_d(block_part *bp, int32_t *restrict pos, pfr_overlay *lane, const int *part, int G,
                     const float *phi, const int D)
{
    int32_t *restrict prow = bp->rows;
    double *restrict vals = bp->vals;
    int n = bp->n;
    for (int g = 0; g < G; ++g) {
        if (!part[g])
            continue;
        pfr_overlay *o = &lane[g];
        const int on = o->n;
        const int32_t *restrict orows = o->rows;
        const float *restrict ovals = o->vals;
        uint8_t *restrict map = o->scanned ? NULL : o->map; /* (a scan leaves the map empty) */
        for (int q = 0; q < on; ++q) {
            const int32_t r = orows[q];
            const float *loc = ovals + (size_t)q * D, *ref = phi + (size_t)r * D;
            /* a new row's sums stored as +0 + the change at once (no zeros to store and load back, as
             * pfr_part_row would: at large S nearly every row is new) */
            int fresh;
            double *acc = vals + (size_t)pfr_part_place(prow, &n, pos, r, &fresh) * D;
            for (int j = 0; j < D; j += 8)
                lv_fold8(acc + j, loc + j, ref + j, fresh);
            if (map) /* the row's slot emptied here, while r is at hand (a second pass cost 2%-3%) */
                map[r] = 0xFFu;
        }
        if (map)
            o->n = 0;
        else
            pfr_overlay_clear(o); /* (a scanned lane: only its count and flag) */
    }
    bp->n = n;
}

LV void group_fold(block_part *bp, int32_t *pos, pfr_overlay *lane, const int *part, int G, const float *phi, const int d)
{
    switch (d) {
    case 8: group_fold_d(bp, pos, lane, part, G, phi, 8); break;
    case 16: group_fold_d(bp, pos, lane, part, G, phi, 16); break;
    case 32: group_fold_d(bp, pos, lane, part, G, phi, 32); break;
    default: group_fold_d(bp, pos, lane, part, G, phi, d); break;
    }
}

#endif
