/*
 * fuzz_config_set.c — libFuzzer harness for pfr_config_set (host/core/config.c). The input is
 * "key\0value". Invariants: a refused value leaves the config untouched and says why; an accepted
 * value prints (pfr_config_key_value) as text that sets a fresh config to the same value, and that
 * text prints the same again.
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 2);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = buf[size + 1] = '\0';
    const char *key = buf, *value = buf + strlen(buf) + 1;
    if ((size_t)(value - buf) > size)
        value = "";
    pfr_config c, before;
    pfr_config_init(&c);
    before = c;
    pfr_error err = {{0}};
    const int idx = pfr_config_find(key);
    if (pfr_config_set(&c, key, value, &err) != PFR_OK) {
        if (memcmp(&c, &before, sizeof c) != 0 || !err.msg[0])
            abort();
    } else {
        if (idx < 0)
            abort();
        char v1[PFR_PATH_MAX + 64], v2[PFR_PATH_MAX + 64];
        pfr_config_key_value(&c, (size_t)idx, v1, sizeof v1);
        pfr_config d;
        pfr_config_init(&d);
        if (pfr_config_set(&d, key, v1, &err) != PFR_OK)
            abort();
        pfr_config_key_value(&d, (size_t)idx, v2, sizeof v2);
        if (strcmp(v1, v2) != 0 || memcmp(&c, &d, sizeof c) != 0)
            abort();
    }
    free(buf);
    return 0;
}
