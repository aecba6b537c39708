/*
 * config_yaml.c — reads a YAML config with libyaml's event parser. Nested mappings become dotted
 * keys (env: {kind: x} -> "env.kind"); each scalar goes through pfr_config_set, so the schema in
 * config.c is the only place that knows what a key allows. The config is changed only when the
 * whole file is valid. A relative file path in it (env.p_file, init_phi, ...) is taken against the
 * file's own folder, as a reader of the file expects, and kept absolute: the run it starts can be
 * resumed, and its config.yaml run again, from any directory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "internal.h"

#define MAX_DEPTH 8
#define KEY_MAX 256

typedef struct seen_keys {
    char (*names)[KEY_MAX];
    size_t n, cap;
} seen_keys;

static int seen_add(seen_keys *s, const char *k)
{
    for (size_t i = 0; i < s->n; ++i)
        if (strcmp(s->names[i], k) == 0)
            return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 32;
        void *p = realloc(s->names, cap * sizeof *s->names);
        if (!p)
            return -1;
        s->names = p;
        s->cap = cap;
    }
    snprintf(s->names[s->n++], KEY_MAX, "%s", k);
    return 1;
}

/* The folder of the file at `path`, absolute, into base[n]; 0 or -1 (errno). */
static int folder_of(const char *path, char *base, size_t n)
{
    char *full = realpath(path, NULL);
    if (!full)
        return -1;
    char *slash = strrchr(full, '/');
    const size_t len = slash == full ? 1 : (size_t)(slash - full);
    const int ok = len < n;
    if (ok)
        snprintf(base, n, "%.*s", (int)len, full);
    free(full);
    return ok ? 0 : (errno = ENAMETOOLONG, -1);
}

/* One scalar: a path against `base` (NULL: as pfr_config_set takes it), then pfr_config_set. */
static pfr_status set_value(pfr_config *cfg, const char *key, const char *text, const char *base, pfr_error *err)
{
    char abs[PFR_PATH_MAX];
    if (base && text[0] && pfr_config_key_is_path(key)) {
        if (pfr_path_absolute(text, base, abs, sizeof abs) != 0)
            return pfr_fail(err, PFR_ERR_CONFIG, "%s: '%.60s%s' is too long once taken against the config's folder %s; "
                            "allowed: a file path of at most %d characters", key, text, strlen(text) > 60 ? "..." : "",
                            base, PFR_PATH_MAX - 1);
        text = abs;
    }
    return pfr_config_set(cfg, key, text, err);
}

pfr_status pfr_config_load_yaml(pfr_config *cfg, const char *path, pfr_error *err)
{
    return pfr_config_load_yaml_paths(cfg, path, 1, err);
}

pfr_status pfr_config_load_yaml_paths(pfr_config *cfg, const char *path, int from_its_folder, pfr_error *err)
{
    if (!cfg || !path)
        return pfr_fail(err, PFR_ERR_INVALID_ARGUMENT, "pfr_config_load_yaml: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f)
        return pfr_fail(err, PFR_ERR_IO, "%s: cannot open config file: %s", path, strerror(errno));
    char base[PFR_PATH_MAX];
    if (from_its_folder && folder_of(path, base, sizeof base) != 0) {
        const int e = errno;
        fclose(f);
        return pfr_fail(err, PFR_ERR_IO, "%s: cannot find the config file's folder: %s", path, strerror(e));
    }

    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "%s: cannot initialize the YAML parser", path);
    }
    yaml_parser_set_input_file(&parser, f);

    pfr_config work = *cfg;
    seen_keys seen = {0};
    char prefix[MAX_DEPTH][KEY_MAX];
    int depth = 0;          /* mapping nesting depth */
    int expect_key[MAX_DEPTH + 1];
    char pending_key[KEY_MAX] = "";
    char list[256];         /* a list's items joined by commas, for a key that takes one (dqn.hidden) */
    int in_list = 0, list_items = 0;
    int docs = 0, done = 0;
    pfr_status st = PFR_OK;
    expect_key[0] = 0;

    while (!done && st == PFR_OK) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            st = pfr_fail(err, PFR_ERR_CONFIG, "%s:%zu:%zu: YAML syntax error: %s", path, parser.problem_mark.line + 1,
                          parser.problem_mark.column + 1, parser.problem ? parser.problem : "unknown problem");
            break;
        }
        size_t line = ev.start_mark.line + 1, col = ev.start_mark.column + 1;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1)
                st = pfr_fail(err, PFR_ERR_CONFIG, "%s:%zu:%zu: only one YAML document is allowed", path, line, col);
            break;
        case YAML_MAPPING_START_EVENT:
            if (in_list) {
                st = pfr_fail(err, PFR_ERR_CONFIG, "%s:%zu:%zu: %s: a mapping inside a list; allowed: numbers", path,
                              line, col, pending_key);
            } else if (depth == 0) {
                if (expect_key[0] != 0)
                    st = pfr_fail(err, PFR_ERR_CONFIG, "%s:%zu:%zu: unexpected mapping", path, line, col);
                depth = 1;
                prefix[0][0] = '\0';
                expect_key[1] = 1;
                expect_key[0] = 1; /* the top-level mapping has been seen */
            } else if (expect_key[depth]) {
                st = pfr_fail(err, PFR_ERR_CONFIG, "%s:%zu:%zu: a mapping cannot be used as a key", path, line, col);
            } else if (depth >= MAX_DEPTH - 1) {
                st = pfr_fail(err, PFR_ERR_CONFIG, "%s:%zu:%zu: mappings nested too deeply", path, line, col);
            } else {
                /* a section (a key whose value is a mapping) given twice would silently merge */
                int fresh = seen_add(&seen, pending_key);
                if (fresh < 0)
                    st = pfr_fail(err, PFR_ERR_NO_MEMORY, "%s: out of memory", path);
                else if (fresh == 0)
                    st = pfr_fail(err, PFR_ERR_CONFIG, "%s:%zu:%zu: %s: section given twice; give its keys in one mapping",
                                  path, line, col, pending_key);
                snprintf(prefix[depth], KEY_MAX, "%s", pending_key);
                ++depth;
                expect_key[depth] = 1;
            }
            break;
        case YAML_MAPPING_END_EVENT:
            --depth;
            if (depth > 0)
                expect_key[depth] = 1;
            break;
        case YAML_SEQUENCE_START_EVENT:
            if (!in_list && depth > 0 && !expect_key[depth] && pfr_config_key_is_list(pending_key)) {
                in_list = 1, list_items = 0, list[0] = '\0';
                break;
            }
            st = pfr_fail(err, PFR_ERR_CONFIG, "%s:%zu:%zu: %s: a list is not allowed here; allowed: a single value", path,
                          line, col, depth > 0 && !expect_key[depth] ? pending_key : "(top level)");
            break;
        case YAML_SEQUENCE_END_EVENT: { /* the list's items as one value, "w1,w2,..." */
            const int fresh = seen_add(&seen, pending_key);
            in_list = 0;
            expect_key[depth] = 1;
            if (fresh < 0)
                st = pfr_fail(err, PFR_ERR_NO_MEMORY, "%s: out of memory", path);
            else if (fresh == 0)
                st = pfr_fail(err, PFR_ERR_CONFIG, "%s:%zu:%zu: %s: key given twice", path, line, col, pending_key);
            else if (list_items == 0)
                st = pfr_fail(err, PFR_ERR_CONFIG, "%s:%zu:%zu: %s: an empty list; allowed: at least one value", path,
                              line, col, pending_key);
            else if ((st = set_value(&work, pending_key, list, NULL, err)) != PFR_OK)
                pfr_error_prefix(err, "%s:%zu", path, line);
            break;
        }
        case YAML_ALIAS_EVENT:
            st = pfr_fail(err, PFR_ERR_CONFIG, "%s:%zu:%zu: YAML aliases are not supported in configs", path, line, col);
            break;
        case YAML_SCALAR_EVENT: {
            const char *text = (const char *)ev.data.scalar.value;
            if (in_list) {
                const size_t used = strlen(list);
                if (used + ev.data.scalar.length + 2 > sizeof list)
                    st = pfr_fail(err, PFR_ERR_CONFIG, "%s:%zu:%zu: %s: the list is too long", path, line, col, pending_key);
                else
                    snprintf(list + used, sizeof list - used, "%s%s", list_items++ ? "," : "", text);
            } else if (depth == 0) {
                st = pfr_fail(err, PFR_ERR_CONFIG, "%s:%zu:%zu: the config must be a mapping of keys to values", path,
                              line, col);
            } else if (expect_key[depth]) {
                if (depth > 1)
                    snprintf(pending_key, KEY_MAX, "%s.%s", prefix[depth - 1], text);
                else
                    snprintf(pending_key, KEY_MAX, "%s", text);
                expect_key[depth] = 0;
            } else {
                int plain_empty = ev.data.scalar.length == 0 && ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                int fresh = seen_add(&seen, pending_key);
                if (fresh < 0)
                    st = pfr_fail(err, PFR_ERR_NO_MEMORY, "%s: out of memory", path);
                else if (fresh == 0)
                    st = pfr_fail(err, PFR_ERR_CONFIG, "%s:%zu:%zu: %s: key given twice", path, line, col, pending_key);
                else if (plain_empty)
                    st = pfr_fail(err, PFR_ERR_CONFIG, "%s:%zu:%zu: %s: no value given", path, line, col, pending_key);
                else {
                    st = set_value(&work, pending_key, text, from_its_folder ? base : NULL, err);
                    if (st != PFR_OK)
                        pfr_error_prefix(err, "%s:%zu", path, line);
                }
                expect_key[depth] = 1;
            }
            break;
        }
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    if (st == PFR_OK && docs == 0)
        st = pfr_fail(err, PFR_ERR_CONFIG, "%s: the config file is empty", path);
    else if (st == PFR_OK && expect_key[0] == 0)
        st = pfr_fail(err, PFR_ERR_CONFIG, "%s: the config must be a mapping of keys to values", path);

    yaml_parser_delete(&parser);
    fclose(f);
    free(seen.names);
    if (st == PFR_OK)
        *cfg = work;
    return st;
}
