/*
 * output.c — what the command writes: metrics rows (metrics.csv, metrics_by_type.csv), summary.json,
 * config.yaml, phi.npy, theta.npy, the checkpoint, and the environment export. The run directory's
 * life (live files, staging, roll-back) is rundir.c.
 */
#include "output.h"

#include "core/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* %.9g, or an empty CSV field / JSON null for NaN and infinities */
static void num(FILE *f, double v, int json)
{
    if (isfinite(v))
        fprintf(f, "%.9g", v);
    else if (json)
        fputs("null", f);
}

/* metrics.csv's columns: every metrics field in order (PFR_METRICS_FIELDS), with the run's
 * algorithm after agent_steps, and its seed and backend after agent_steps_per_sec, where they have
 * stood since the file's first version. */
static const char *csv_after(const char *field)
{
    return strcmp(field, "agent_steps") == 0 ? "algorithm" : strcmp(field, "agent_steps_per_sec") == 0 ? "seed,backend" : NULL;
}

void pfr_cli_metrics_header(FILE *f)
{
    const char *name;
    for (size_t i = 0; (name = pfr_metrics_field(i, NULL, NULL)) != NULL; ++i) {
        fprintf(f, "%s%s", i ? "," : "", name);
        if (csv_after(name))
            fprintf(f, ",%s", csv_after(name));
    }
    fputc('\n', f);
}

void pfr_cli_metrics_row(FILE *f, const pfr_sim *sim, size_t i)
{
    const pfr_config *cfg = pfr_sim_config(sim);
    pfr_metrics m;
    char alg[64], seed[32];
    if (pfr_sim_metrics_get(sim, i, &m, sizeof m) != PFR_OK || pfr_config_get(cfg, "algorithm", alg, sizeof alg, NULL) != PFR_OK ||
        pfr_config_get(cfg, "seed", seed, sizeof seed, NULL) != PFR_OK)
        return;
    const char *name, *type;
    size_t at;
    for (size_t k = 0; (name = pfr_metrics_field(k, &type, &at)) != NULL; ++k) {
        const char *p = (const char *)&m + at;
        if (k)
            fputc(',', f);
        if (strcmp(type, "double") == 0) {
            double v;
            memcpy(&v, p, sizeof v);
            num(f, v, 0);
        } else if (strcmp(type, "int64_t") == 0) {
            int64_t v;
            memcpy(&v, p, sizeof v);
            fprintf(f, "%lld", (long long)v);
        } else {
            uint64_t v;
            memcpy(&v, p, sizeof v);
            fprintf(f, "%llu", (unsigned long long)v);
        }
        const char *extra = csv_after(name);
        if (extra && strcmp(extra, "algorithm") == 0)
            fprintf(f, ",%s", alg);
        else if (extra) /* seed,backend */
            fprintf(f, ",%s,%s", seed, pfr_sim_backend(sim));
    }
    fputc('\n', f);
}

void pfr_cli_by_type_header(FILE *f) { fputs("round,agent_steps,type,value_error\n", f); }

void pfr_cli_by_type_rows(FILE *f, const pfr_sim *sim, size_t i)
{
    const int M = pfr_sim_num_types(sim);
    pfr_metrics m;
    double *e = malloc(sizeof(double) * (size_t)M);
    if (e && pfr_sim_metrics_get(sim, i, &m, sizeof m) == PFR_OK && pfr_sim_metrics_by_type(sim, i, e, (size_t)M) == PFR_OK)
        for (int t = 0; t < M; ++t)
            if (!isnan(e[t])) { /* the types the agents use */
                fprintf(f, "%lld,%llu,%d,", (long long)m.round, (unsigned long long)m.agent_steps, t);
                num(f, e[t], 0);
                fputc('\n', f);
            }
    free(e);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes there are not one. */
static int utf8_len(const unsigned char *s)
{
    const unsigned char c = s[0];
    int n;
    unsigned min;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) n = 2, min = 0x80;
    else if ((c & 0xF0) == 0xE0) n = 3, min = 0x800;
    else if ((c & 0xF8) == 0xF0) n = 4, min = 0x10000;
    else return 0;
    unsigned cp = c & (0x7Fu >> n);
    for (int i = 1; i < n; ++i) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* A JSON string: quotes, backslashes and control characters escaped; bytes that are not UTF-8
 * (a path from a non-UTF-8 locale) become U+FFFD, so the file stays valid JSON. */
void pfr_cli_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        const unsigned char c = *p;
        const int n = utf8_len(p);
        if (n == 0) {
            fputs("\\ufffd", f);
            ++p;
        } else if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
            ++p;
        } else if (c < 0x20) {
            fprintf(f, "\\u%04x", c);
            ++p;
        } else {
            fwrite(p, 1, (size_t)n, f);
            p += n;
        }
    }
    fputc('"', f);
}

/* The resolved config as nested JSON: "env.kind" goes into "env": {"kind": ...}. */
static void json_config(FILE *f, const pfr_config *cfg)
{
    char group[64] = "";
    fputs("{", f);
    int first = 1, first_in_group = 1;
    for (size_t i = 0; i < pfr_config_key_count(); ++i) {
        const char *name = pfr_config_key_name(i);
        const char *dot = strchr(name, '.');
        char g[64] = "";
        if (dot)
            snprintf(g, sizeof g, "%.*s", (int)(dot - name), name);
        if (strcmp(g, group) != 0) {
            if (group[0])
                fputs("\n  }", f);
            if (g[0]) {
                fprintf(f, "%s\n    \"%s\": {", first ? "" : ",", g);
                first = 0;
                first_in_group = 1;
            }
            snprintf(group, sizeof group, "%s", g);
        }
        char v[2048];
        pfr_config_key_value(cfg, i, v, sizeof v);
        if (group[0]) {
            fprintf(f, "%s\n      \"%s\": ", first_in_group ? "" : ",", dot + 1);
            first_in_group = 0;
        } else {
            fprintf(f, "%s\n    \"%s\": ", first ? "" : ",", name);
            first = 0;
        }
        if (pfr_config_key_is_text(i))
            pfr_cli_json_string(f, v);
        else
            fputs(v, f);
    }
    if (group[0])
        fputs("\n    }", f);
    fputs("\n  }", f);
}

static void write_summary_json(FILE *f, const pfr_sim *sim, const pfr_final *what)
{
    pfr_metrics last;
    memset(&last, 0, sizeof last);
    size_t n = pfr_sim_metrics_count(sim);
    if (n)
        pfr_sim_metrics_get(sim, n - 1, &last, sizeof last);
    fprintf(f, "{\n  \"pfedrl_version\": \"%s\",\n  \"status\": ", pfr_version());
    pfr_cli_json_string(f, what->status);
    if (what->error) {
        fputs(",\n  \"error\": ", f);
        pfr_cli_json_string(f, what->error);
    }
    fprintf(f, ",\n  \"rounds_done\": %lld,\n  \"rounds_target\": %lld,\n  \"backend\": ",
            (long long)pfr_sim_round(sim), (long long)what->rounds_target);
    pfr_cli_json_string(f, pfr_sim_backend(sim));
    fprintf(f, ",\n  \"threads\": %d,\n  \"environment\": ", pfr_sim_threads(sim));
    pfr_cli_json_string(f, pfr_sim_env_description(sim));
    fprintf(f, ",\n  \"num_states\": %d,\n  \"num_types\": %d,\n  \"rounds\": %lld,\n  \"agent_steps\": %llu,",
            pfr_sim_num_states(sim), pfr_sim_num_types(sim), (long long)last.round, (unsigned long long)last.agent_steps);
    fputs("\n  \"final_value_error\": ", f);
    num(f, last.value_error, 1);
    fputs(",\n  \"final_td_fixed_point_error\": ", f);
    num(f, last.td_fixed_point_error, 1);
    fputs(",\n  \"final_pooled_value_error\": ", f);
    num(f, last.pooled_value_error, 1);
    fputs(",\n  \"best_rank_d_error\": ", f);
    num(f, last.best_rank_d_error, 1);
    if (!isnan(last.greedy_return)) { /* the neural instance */
        fputs(",\n  \"final_return\": ", f);
        num(f, last.greedy_return, 1);
        fputs(",\n  \"final_success_rate\": ", f);
        num(f, last.success_rate, 1);
        fputs(",\n  \"final_heldout_return\": ", f);
        num(f, last.heldout_return, 1);
        fputs(",\n  \"final_td_loss\": ", f);
        num(f, last.td_loss, 1);
    }
    if (!isnan(last.policy_gap)) { /* control: value_error is the error of Q */
        fputs(",\n  \"final_q_error\": ", f);
        num(f, last.value_error, 1);
        fputs(",\n  \"final_policy_gap\": ", f);
        num(f, last.policy_gap, 1);
        fprintf(f, ",\n  \"policy_gap_agents\": %.0f", last.policy_agents);
    }
    fputs(",\n  \"agent_steps_per_sec\": ", f);
    num(f, last.agent_steps_per_sec, 1);
    fputs(",\n  \"wall_s\": ", f);
    num(f, last.wall_s, 1);
    pfr_federation_totals ft;
    if (pfr_sim_federation_totals(sim, &ft, sizeof ft) == PFR_OK) {
        fprintf(f, ",\n  \"federation\": {\"participations\": %llu, \"mean_participants\": ",
                (unsigned long long)ft.participations);
        num(f, ft.mean_participants, 1);
        fputs(", \"mean_steps\": ", f);
        num(f, ft.mean_steps, 1);
        fputs(", \"mean_staleness\": ", f);
        num(f, ft.mean_staleness, 1);
        fprintf(f, ", \"private_rounds\": %lld, \"epsilon\": ", (long long)ft.private_rounds);
        num(f, ft.epsilon, 1);
        fputs(", \"delta\": ", f);
        num(f, ft.delta, 1);
        fprintf(f, ", \"rdp_order\": %d}", ft.rdp_order);
    }
    pfr_setup_info si;
    if (pfr_sim_setup_info(sim, &si, sizeof si) == PFR_OK) {
        fputs(",\n  \"setup\": {\"setup_s\": ", f);
        num(f, si.setup_s, 1);
        fputs(", \"truth_s\": ", f);
        num(f, si.truth_s, 1);
        fputs(", \"truth_method\": ", f);
        pfr_cli_json_string(f, si.truth_method);
        fputs(", \"truth_residual_v\": ", f);
        num(f, si.truth_resid_v, 1);
        fputs(", \"truth_residual_mu\": ", f);
        num(f, si.truth_resid_mu, 1);
        if (si.cpu_kernel[0]) {
            fputs(", \"cpu_kernel\": ", f);
            pfr_cli_json_string(f, si.cpu_kernel);
        }
        fputs("}", f);
    }
    double sv[PFR_CLI_SINGULAR_VALUES];
    const int nsv = pfr_sim_type_singular_values(sim, sv, PFR_CLI_SINGULAR_VALUES);
    if (nsv > 0) { /* the leading ones; pfedrl export writes them all */
        fputs(",\n  \"type_singular_values\": [", f);
        for (int i = 0; i < nsv && i < PFR_CLI_SINGULAR_VALUES; ++i) {
            fputs(i ? ", " : "", f);
            num(f, sv[i], 1);
        }
        fputs("]", f);
    }
    fputs(",\n  \"config\": ", f);
    json_config(f, pfr_sim_config(sim));
    fputs("\n}\n", f);
}

/* The resolved config as YAML that `pfedrl run` reads back to the same config: sections for the
 * dotted keys, strings in single quotes (a quote doubled), numbers in their shortest exact form. */
void pfr_cli_config_yaml(FILE *f, const pfr_config *cfg)
{
    char group[64] = "";
    fprintf(f, "# pfedrl %s: the resolved config of this run (pfedrl run config.yaml repeats it)\n", pfr_version());
    for (size_t i = 0; i < pfr_config_key_count(); ++i) {
        const char *name = pfr_config_key_name(i), *dot = strchr(name, '.');
        char g[64] = "";
        if (dot)
            snprintf(g, sizeof g, "%.*s", (int)(dot - name), name);
        if (strcmp(g, group) != 0 && g[0])
            fprintf(f, "%s:\n", g);
        snprintf(group, sizeof group, "%s", g);
        char v[PFR_PATH_MAX + 64];
        pfr_config_key_value(cfg, i, v, sizeof v);
        fprintf(f, "%s%s: ", g[0] ? "  " : "", g[0] ? dot + 1 : name);
        if (pfr_config_key_is_text(i)) {
            fputc('\'', f);
            for (const char *c = v; *c; ++c) {
                if (*c == '\'')
                    fputc('\'', f);
                fputc(*c, f);
            }
            fputs("'\n", f);
        } else {
            fprintf(f, "%s\n", v);
        }
    }
}

/* An array of floats as .npy: float32 as it is ('<f4'), or widened to float64. */
static int save_f32(const char *path, const float *a, int ndim, const int64_t *shape, pfr_error *err)
{
    return pfr_npy_save(path, a, "<f4", sizeof(float), ndim, shape, err) == PFR_OK ? 0 : -1;
}

/* The neural instance's networks: body.npy, the shared body [P] (local_dqn: every agent's, [N, P]),
 * and heads.npy [N, A, d], float32 as the engine keeps them. */
static int stage_networks(pfr_stage *sg, const char *dir, pfr_sim *sim, pfr_error *err)
{
    const pfr_config *cfg = pfr_sim_config(sim);
    const int64_t N = cfg->agents, P = pfr_sim_body_size(sim), A = pfr_sim_num_actions(sim), d = cfg->dim;
    char alg[32] = "";
    pfr_config_get(cfg, "algorithm", alg, sizeof alg, NULL);
    const int64_t nb = strcmp(alg, "local_dqn") == 0 ? N : 1;
    float *body = malloc(sizeof(float) * (size_t)(nb * P)), *head = malloc(sizeof(float) * (size_t)(N * A * d));
    int ok = body && head;
    for (int64_t i = 0; ok && i < nb; ++i)
        ok = pfr_sim_get_body(sim, i, body + (size_t)(i * P), (size_t)P) == PFR_OK;
    for (int64_t i = 0; ok && i < N; ++i)
        ok = pfr_sim_get_head(sim, i, head + (size_t)(i * A * d), (size_t)(A * d)) == PFR_OK;
    if (!ok)
        pfr_cli_fail(err, "cannot read the networks: %s", body && head ? pfr_sim_last_error(sim) : "out of memory");
    const int64_t shape_b[2] = {nb, P}, shape_h[3] = {N, A, d};
    ok = ok && save_f32(pfr_stage_path(sg, dir, "body.npy"), body, nb == 1 ? 1 : 2,
                        nb == 1 ? shape_b + 1 : shape_b, err) == 0;
    ok = ok && save_f32(pfr_stage_path(sg, dir, "heads.npy"), head, 3, shape_h, err) == 0;
    free(body);
    free(head);
    return ok ? 0 : -1;
}

int pfr_cli_stage_results(pfr_stage *sg, const char *dir, pfr_sim *sim, const pfr_final *what, pfr_error *err)
{
    int ok = 1;
    FILE *f;
    if ((ok = (f = pfr_stage_open(sg, dir, "summary.json", err)) != NULL)) {
        write_summary_json(f, sim, what);
        ok = pfr_stage_close(sg, f, err) == 0;
    }
    if (ok && (ok = (f = pfr_stage_open(sg, dir, "config.yaml", err)) != NULL)) {
        pfr_cli_config_yaml(f, pfr_sim_config(sim));
        ok = pfr_stage_close(sg, f, err) == 0;
    }
    const int S = pfr_sim_num_states(sim), d = pfr_sim_config(sim)->dim;
    const int64_t N = pfr_sim_config(sim)->agents;
    if (pfr_sim_body_size(sim) > 0) { /* the neural instance: networks instead of Phi and theta */
        if (ok && !what->error)
            ok = stage_networks(sg, dir, sim, err) == 0;
        if (ok && what->checkpoint)
            ok = pfr_sim_save(sim, pfr_stage_path(sg, dir, "checkpoint.pfr"), err) == PFR_OK;
        return ok ? 0 : -1;
    }
    if (ok && !what->error) { /* the final shared Phi (local_rep: agent 0's), [S, d] */
        float *phi = malloc(sizeof(float) * (size_t)S * d);
        double *phid = malloc(sizeof(double) * (size_t)S * d);
        ok = phi && phid && pfr_sim_get_phi(sim, phi, (size_t)S * d) == PFR_OK;
        if (!ok)
            pfr_cli_fail(err, "cannot read Phi: %s", phi && phid ? pfr_sim_last_error(sim) : "out of memory");
        for (size_t e = 0; ok && e < (size_t)S * d; ++e)
            phid[e] = phi[e];
        const int64_t shape[2] = {S, d};
        ok = ok && pfr_npy_save_f64(pfr_stage_path(sg, dir, "phi.npy"), phid, 2, shape, err) == PFR_OK;
        free(phi);
        free(phid);
    }
    if (ok && what->theta) { /* every theta_i, [N, d], float32 as the engines keep them */
        float *th = malloc(sizeof(float) * (size_t)N * d);
        ok = th != NULL;
        for (int64_t i = 0; ok && i < N; ++i)
            ok = pfr_sim_get_theta(sim, i, th + (size_t)i * d, (size_t)d) == PFR_OK;
        if (!ok)
            pfr_cli_fail(err, "cannot read theta: %s", th ? pfr_sim_last_error(sim) : "out of memory");
        const int64_t shape[2] = {N, d};
        ok = ok && save_f32(pfr_stage_path(sg, dir, "theta.npy"), th, 2, shape, err) == 0;
        free(th);
    }
    if (ok && what->checkpoint)
        ok = pfr_sim_save(sim, pfr_stage_path(sg, dir, "checkpoint.pfr"), err) == PFR_OK;
    return ok ? 0 : -1;
}

/* Every type's chain in compressed sparse rows, types one after another: indptr [M, S+1] with
 * offsets into the whole of indices, p, r [nnz]. */
typedef struct csr_all {
    int64_t *indptr, nnz;
    int32_t *indices;
    double *p, *r;
} csr_all;

static int read_csr(const pfr_sim *sim, csr_all *c, pfr_error *err)
{
    const int S = pfr_sim_num_states(sim), M = pfr_sim_num_types(sim);
    memset(c, 0, sizeof *c);
    for (int m = 0; m < M; ++m) {
        int64_t n = 0;
        if (pfr_sim_get_chain_csr(sim, m, NULL, NULL, NULL, NULL, 0, &n) != PFR_OK)
            return pfr_cli_fail(err, "%s", pfr_sim_last_error(sim));
        c->nnz += n;
    }
    c->indptr = malloc(sizeof(int64_t) * (size_t)M * (S + 1));
    c->indices = malloc(sizeof(int32_t) * (size_t)c->nnz);
    c->p = malloc(sizeof(double) * (size_t)c->nnz);
    c->r = malloc(sizeof(double) * (size_t)c->nnz);
    if (!c->indptr || !c->indices || !c->p || !c->r)
        return pfr_cli_fail(err, "out of memory for the environment's %lld transitions", (long long)c->nnz);
    int64_t at = 0;
    for (int m = 0; m < M; ++m) {
        int64_t *ip = c->indptr + (size_t)m * (S + 1), n = 0;
        if (pfr_sim_get_chain_csr(sim, m, ip, c->indices + at, c->p + at, c->r + at, (size_t)(c->nnz - at), &n) !=
            PFR_OK)
            return pfr_cli_fail(err, "%s", pfr_sim_last_error(sim));
        for (int s = 0; s <= S; ++s)
            ip[s] += at;
        at += n;
    }
    return 0;
}

int pfr_cli_write_env_npy(const char *dir, const pfr_sim *sim, int *dense, pfr_error *err)
{
    const int S = pfr_sim_num_states(sim), M = pfr_sim_num_types(sim), n = M <= S ? M : S;
    const size_t ss = (size_t)S * S;
    char control[32] = "none";
    pfr_config_get(pfr_sim_config(sim), "control.kind", control, sizeof control, NULL);
    /* an MDP (control) goes out in CSR only: rows s A + a; V.npy then holds Q* */
    *dense = strcmp(control, "none") == 0 && 2.0 * 8.0 * (double)M * (double)ss <= PFR_CLI_DENSE_EXPORT_BYTES;
    double *P = *dense ? malloc(sizeof(double) * ss * M) : NULL, *R = *dense ? malloc(sizeof(double) * ss * M) : NULL;
    double *V = malloc(sizeof(double) * (size_t)S * M), *mu = malloc(sizeof(double) * (size_t)S * M);
    double *sv = malloc(sizeof(double) * (size_t)n);
    csr_all c;
    int rc = -1;
    if (read_csr(sim, &c, err) != 0)
        goto out;
    if ((*dense && (!P || !R)) || !V || !mu || !sv) {
        pfr_cli_fail(err, "out of memory for the environment's arrays (%d types, %d states)", M, S);
        goto out;
    }
    for (int m = 0; m < M; ++m)
        if ((*dense && pfr_sim_get_chain(sim, m, P + ss * m, R + ss * m, ss) != PFR_OK) ||
            pfr_sim_get_ground_truth(sim, m, V + (size_t)S * m, mu + (size_t)S * m, (size_t)S) != PFR_OK) {
            pfr_cli_fail(err, "%s", pfr_sim_last_error(sim));
            goto out;
        }
    if (pfr_sim_type_singular_values(sim, sv, (size_t)n) != n) {
        pfr_cli_fail(err, "out of memory for the singular values of the types' values");
        goto out;
    }
    const int64_t shape3[3] = {M, S, S}, shape2[2] = {M, S}, shape1[1] = {n}, shape_ip[2] = {M, S + 1},
                  shape_nz[1] = {c.nnz}, three[1] = {3};
    /* S here counts rows: (state, action) pairs with control; P_shape says how many states they have */
    const int64_t p_shape[3] = {M, S, S / pfr_sim_num_actions(sim)};
    pfr_stage sg = {.n = 0};
    int ok = (!*dense || (pfr_npy_save_f64(pfr_stage_path(&sg, dir, "P.npy"), P, 3, shape3, err) == PFR_OK &&
                          pfr_npy_save_f64(pfr_stage_path(&sg, dir, "R.npy"), R, 3, shape3, err) == PFR_OK)) &&
             pfr_npy_save(pfr_stage_path(&sg, dir, "P_shape.npy"), p_shape, "<i8", 8, 1, three, err) == PFR_OK &&
             pfr_npy_save(pfr_stage_path(&sg, dir, "P_indptr.npy"), c.indptr, "<i8", 8, 2, shape_ip, err) == PFR_OK &&
             pfr_npy_save(pfr_stage_path(&sg, dir, "P_indices.npy"), c.indices, "<i4", 4, 1, shape_nz, err) == PFR_OK &&
             pfr_npy_save_f64(pfr_stage_path(&sg, dir, "P_data.npy"), c.p, 1, shape_nz, err) == PFR_OK &&
             pfr_npy_save_f64(pfr_stage_path(&sg, dir, "R_data.npy"), c.r, 1, shape_nz, err) == PFR_OK &&
             pfr_npy_save_f64(pfr_stage_path(&sg, dir, "V.npy"), V, 2, shape2, err) == PFR_OK &&
             pfr_npy_save_f64(pfr_stage_path(&sg, dir, "mu.npy"), mu, 2, shape2, err) == PFR_OK &&
             pfr_npy_save_f64(pfr_stage_path(&sg, dir, "singular_values.npy"), sv, 1, shape1, err) == PFR_OK;
    rc = pfr_stage_finish(&sg, ok, err);
out:
    free(P);
    free(R);
    free(V);
    free(mu);
    free(sv);
    free(c.indptr);
    free(c.indices);
    free(c.p);
    free(c.r);
    return rc;
}

int64_t pfr_cli_config_int(const pfr_config *cfg, const char *key)
{
    char v[64];
    return pfr_config_get(cfg, key, v, sizeof v, NULL) == PFR_OK ? strtoll(v, NULL, 10) : 0;
}
