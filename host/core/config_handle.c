/*
 * config_handle.c — the configuration as an opaque handle (the public API): created, copied and
 * freed by the library, read by key. The layout (config_types.h) stays internal, so a new key
 * changes no caller's compiled code. The schema and the checks live in config.c.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

pfr_status pfr_config_create(pfr_config **out, pfr_error *err)
{
    if (!out)
        return pfr_fail(err, PFR_ERR_INVALID_ARGUMENT, "pfr_config_create: out is NULL");
    *out = malloc(sizeof **out);
    if (!*out)
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "pfr_config_create: out of memory (%zu bytes)", sizeof **out);
    pfr_config_init(*out);
    return PFR_OK;
}

pfr_status pfr_config_copy(const pfr_config *src, pfr_config **out, pfr_error *err)
{
    if (!src || !out)
        return pfr_fail(err, PFR_ERR_INVALID_ARGUMENT, "pfr_config_copy: NULL argument");
    *out = malloc(sizeof **out);
    if (!*out)
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "pfr_config_copy: out of memory (%zu bytes)", sizeof **out);
    memcpy(*out, src, sizeof **out);
    return PFR_OK;
}

void pfr_config_destroy(pfr_config *cfg) { free(cfg); }

void pfr_config_reset(pfr_config *cfg)
{
    if (cfg)
        pfr_config_init(cfg);
}

long pfr_config_key_index(const char *key) { return key ? (long)pfr_config_find(key) : -1; }

pfr_status pfr_config_get(const pfr_config *cfg, const char *key, char *buf, size_t n, pfr_error *err)
{
    if (!cfg || !key || !buf || n == 0)
        return pfr_fail(err, PFR_ERR_INVALID_ARGUMENT, "pfr_config_get: NULL argument or empty buffer");
    const int i = pfr_config_find(key);
    if (i < 0) {
        buf[0] = '\0';
        return pfr_fail(err, PFR_ERR_CONFIG, "unknown key '%s' (`pfedrl help run` lists every key)", key);
    }
    /* the longest value is a path: format it whole, then see whether it fits */
    char whole[PFR_PATH_MAX + 64];
    pfr_config_key_value(cfg, (size_t)i, whole, sizeof whole);
    const size_t len = strlen(whole);
    if (len >= n) {
        memcpy(buf, whole, n - 1);
        buf[n - 1] = '\0';
        return pfr_fail(err, PFR_ERR_INVALID_ARGUMENT, "pfr_config_get: the value of %s needs %zu bytes, the buffer has %zu",
                        key, len + 1, n);
    }
    memcpy(buf, whole, len + 1);
    return PFR_OK;
}

void pfr_config_key_default(size_t i, char *buf, size_t n)
{
    pfr_config def;
    pfr_config_init(&def);
    pfr_config_key_value(&def, i, buf, n);
}
