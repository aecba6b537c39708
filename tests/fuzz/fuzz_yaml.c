/*
 * fuzz_yaml.c — libFuzzer harness for the YAML config loader (host/core/config_yaml.c). The input is a
 * whole config file. Invariants: a load that fails leaves the config exactly as it was and says
 * why; a load that succeeds gives a config whose every key prints and sets back to itself.
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
        snprintf(path, sizeof path, "/tmp/pfedrl_fuzz_yaml_%d.yaml", (int)getpid());
        atexit(remove_input);
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    pfr_config c, before;
    pfr_config_init(&c);
    before = c;
    pfr_error err = {{0}};
    if (pfr_config_load_yaml(&c, path, &err) != PFR_OK) {
        if (memcmp(&c, &before, sizeof c) != 0 || !err.msg[0])
            abort();
        return 0;
    }
    pfr_config d;
    pfr_config_init(&d);
    for (size_t i = 0; i < pfr_config_key_count(); ++i) {
        char v[PFR_PATH_MAX + 64];
        pfr_config_key_value(&c, i, v, sizeof v);
        if (pfr_config_set(&d, pfr_config_key_name(i), v, &err) != PFR_OK)
            abort();
    }
    for (size_t i = 0; i < pfr_config_key_count(); ++i) {
        char a[PFR_PATH_MAX + 64], b[PFR_PATH_MAX + 64];
        pfr_config_key_value(&c, i, a, sizeof a);
        pfr_config_key_value(&d, i, b, sizeof b);
        if (strcmp(a, b) != 0)
            abort();
    }
    return 0;
}
