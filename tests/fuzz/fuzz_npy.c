/*
 * fuzz_npy.c — libFuzzer harness for the .npy reader (host/core/npy.c). The input is a whole file.
 * Invariants: a load that succeeds has count equal to the product of its shape and data for every
 * value; a load that fails leaves nothing allocated and a message; peek and load agree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"

static char path[64];
static void remove_input(void) { remove(path); } /* the input file goes with the fuzzing process */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/pfedrl_fuzz_npy_%d.npy", (int)getpid());
        atexit(remove_input);
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    pfr_npy a, h;
    pfr_error err = {{0}}, err2 = {{0}};
    const pfr_status st = pfr_npy_load(path, &a, &err);
    const pfr_status sp = pfr_npy_peek(path, &h, NULL, &err2);
    if (st == PFR_OK) {
        size_t count = 1;
        for (int i = 0; i < a.ndim; ++i)
            count *= (size_t)a.shape[i];
        if (count != a.count || !a.data)
            abort();
        volatile double sum = 0.0;
        for (size_t i = 0; i < a.count; ++i) /* every value readable */
            sum += a.data[i];
        (void)sum;
        if (sp != PFR_OK || h.count != a.count || h.ndim != a.ndim)
            abort();
    } else {
        if (a.data || !err.msg[0])
            abort();
        if (st != PFR_ERR_NO_MEMORY && sp == PFR_OK)
            abort();
    }
    pfr_npy_free(&a);
    return 0;
}
