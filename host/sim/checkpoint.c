/*
 * checkpoint.c — a run's whole state in one file, and a handle rebuilt from it (pfr_sim_save,
 * pfr_sim_load; the contract is in pfedrl.h).
 *
 * Layout (little-endian, every section 8-byte aligned):
 *   "PFRCKPT\n"  u32 version  u32 byte-order mark 0x01020304
 *   sections: u32 tag, u32 0, u64 length, payload, zero padding to 8
 *     CONF  the resolved config: u32 count, then per key u32 length, key, u32 length, value
 *     META  u64 round, agent_steps, N; u32 S, d, M, algorithm; u32 CRC-32 of the chains; u32 CRC-32 of
 *           the availability trace's entries (pfr_fed_trace_crc; 0: no trace, or a checkpoint of
 *           before it was kept, which is then not checked);
 *           u64 evaluations; f64 wall_s, step_s, rate_s; u64 rate_steps
 *     PHI_  f32 [S, d]      THET f32 [N, d]      STAT u32 [N]      APHI f32 [N, S, d] (local_rep)
 *     HIST  per evaluation: i64 round, u64 agent_steps, f64 x 7 (the pfr_metrics fields in order)
 *     HTYP  f64 [evaluations, M] the value error of each type
 *     FEDM  f64 [evaluations, k] the metrics after HIST's (participants, mean_steps, mean_staleness,
 *           epsilon, policy_gap, policy_agents, pooled_value_error; k = 6 in files written before
 *           the last was appended: it reads NaN); u64 since-evaluation participants, steps, age sum;
 *           i64 rounds since; u64 total participants, steps, age sum; i64 private rounds (absent in
 *           older files: NaN, zeros)
 *     FEDA  u8 [N] the availability chains' states (federation.p_drop/p_return only)
 *     FEDH  f32 [H + 1, S, d] the history of Phi (federation.delay/max_delay only)
 *     ACTN  u8 [N] the action each agent takes next (control=sarsa only)
 *   The neural instance (env.kind cartpole, acrobot) has no chains (in their CRC's place the agents'
 *   physical parameters', own then held out, as doubles), S = 0, and in place
 *   of PHI_, THET and STAT the sections pfr_neural_arrays lists (networks, optimizer moments, replay
 *   buffers, episodes, counters: NBOD .. NLMK), each one array.
 *     END_  u32 CRC-32 of every byte before this section (the file's last bytes: no padding)
 * Loading reads the file twice: first only to check the framing and the CRC (fast, before the
 * minutes a large set-up may take), then to rebuild. The CRC is zlib's crc32.
 *
 * Why the state is enough: every random word is a function of (seed, agent, global step), the step
 * sizes of the round, and the CPU engine's pending orthonormalization is applied before saving (the
 * same function on the same numbers as the next round would apply); so a loaded handle continues
 * bit for bit (tests/test_checkpoint.cc).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "engine.h"
#include "federation.h"
#include "neural/neural.h"

#define CK_MAGIC "PFRCKPT\n"
#define CK_VERSION 1u
#define CK_BOM 0x01020304u
#define TAG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
enum {
    T_CONF = TAG('C', 'O', 'N', 'F'),
    T_META = TAG('M', 'E', 'T', 'A'),
    T_PHI = TAG('P', 'H', 'I', '_'),
    T_THETA = TAG('T', 'H', 'E', 'T'),
    T_STATE = TAG('S', 'T', 'A', 'T'),
    T_APHI = TAG('A', 'P', 'H', 'I'),
    T_HIST = TAG('H', 'I', 'S', 'T'),
    T_HTYPE = TAG('H', 'T', 'Y', 'P'),
    T_FEDM = TAG('F', 'E', 'D', 'M'),
    T_FEDA = TAG('F', 'E', 'D', 'A'),
    T_FEDH = TAG('F', 'E', 'D', 'H'),
    T_ACTN = TAG('A', 'C', 'T', 'N'),
    T_END = TAG('E', 'N', 'D', '_'),
};
/* The metrics fields (PFR_METRICS_FIELDS, all 8 bytes) in two sections, as they were appended: HIST
 * the first nine (round .. agent_steps_per_sec), FEDM the rest. */
#define PFR_METRICS_OFFSET(type, name, doc) offsetof(pfr_metrics, name),
static const size_t METRIC_AT[] = {PFR_METRICS_FIELDS(PFR_METRICS_OFFSET)};
#undef PFR_METRICS_OFFSET
#define PFR_METRICS_SIZE(type, name, doc) _Static_assert(sizeof(type) == 8, #name " is not 8 bytes");
PFR_METRICS_FIELDS(PFR_METRICS_SIZE)
#undef PFR_METRICS_SIZE
#define METRIC_FIELDS (sizeof METRIC_AT / sizeof METRIC_AT[0])
#define HIST_FIELDS 9
#define FEDM_FIELDS (METRIC_FIELDS - HIST_FIELDS)
#define FEDM_FIRST 6 /* FEDM's fields in the files of its first version (to policy_agents) */
#define HIST_ROW_BYTES (8 * HIST_FIELDS)

/* Keys a resume may change: none of them changes the numbers a run computes. */
static const char *const RUNTIME_KEYS[] = {"rounds",      "threads",    "backend",    "eval_every", "checkpoint_every",
                                           "cpu_kernel", "cuda_kernel", "cuda_graph", "cuda_max_chunk", NULL};

/* A fingerprint of the chains, so a file environment changed since the checkpoint is noticed. */
static uint32_t chains_crc(const pfr_env *env)
{
    if (!env) /* the neural instance: no chains */
        return 0;
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32_z(c, (const Bytef *)env->row_ptr, sizeof(uint64_t) * (size_t)env->M * ((size_t)env->S * env->A + 1));
    c = crc32_z(c, (const Bytef *)env->next, sizeof(uint32_t) * env->nnz);
    c = crc32_z(c, (const Bytef *)env->prob, sizeof(double) * env->nnz);
    c = crc32_z(c, (const Bytef *)env->rewardd, sizeof(double) * env->nnz);
    return (uint32_t)c;
}

/* The environment's fingerprint: the chains' CRC, or the neural instance's agents' parameters (own
 * and held out; env.param_file may have changed). */
static uint32_t env_crc(const pfr_sim *sim)
{
    if (!sim->neural)
        return chains_crc(sim->env);
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32_z(c, (const Bytef *)sim->neural->param, sizeof(double) * (size_t)sim->N);
    c = crc32_z(c, (const Bytef *)sim->neural->heldout, sizeof(double) * (size_t)sim->N);
    return (uint32_t)c;
}

/* ---- writing ---------------------------------------------------------------------------------- */
typedef struct writer {
    FILE *f;
    uLong crc;
    int ok, e; /* e: errno of the first failure (a full disk: ENOSPC) */
} writer;

static void put(writer *w, const void *p, size_t n)
{
    if (!w->ok || n == 0)
        return;
    w->ok = fwrite(p, 1, n, w->f) == n;
    w->e = w->ok ? 0 : errno;
    w->crc = crc32_z(w->crc, (const Bytef *)p, n);
}

static void put_u32(writer *w, uint32_t v) { put(w, &v, 4); }
static void put_u64(writer *w, uint64_t v) { put(w, &v, 8); }
static void put_f64(writer *w, double v) { put(w, &v, 8); }

static void section(writer *w, uint32_t tag, uint64_t len)
{
    put_u32(w, tag);
    put_u32(w, 0);
    put_u64(w, len);
}

static void pad(writer *w, uint64_t len)
{
    static const char zeros[8] = {0};
    put(w, zeros, (size_t)((8 - len % 8) % 8));
}

static void put_section(writer *w, uint32_t tag, const void *p, uint64_t len)
{
    section(w, tag, len);
    put(w, p, (size_t)len);
    pad(w, len);
}

static int put_array(void *ctx, uint32_t tag, void *data, uint64_t bytes)
{
    put_section(ctx, tag, data, bytes);
    return 0;
}

pfr_status pfr_sim_save(pfr_sim *sim, const char *path, pfr_error *err)
{
    if (!sim || !path)
        return pfr_fail(err, PFR_ERR_INVALID_ARGUMENT, "pfr_sim_save: NULL argument");
    /* the CPU engine applies its pending theta map here; over MPI ranks every rank gathers the
     * others' agents (a collective: all ranks call this, or have synced already), and rank 0 writes */
    pfr_status st = sim->engine->sync_host(sim);
    if (st != PFR_OK)
        return pfr_fail(err, st, "%s", sim->errmsg);
    if (sim->drank != 0)
        return PFR_OK;
    char tmp[PFR_PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    writer w = {fopen(tmp, "wb"), crc32(0L, Z_NULL, 0), 1, 0};
    if (!w.f)
        return pfr_fail(err, PFR_ERR_IO, "checkpoint %s: cannot create %s: %s", path, tmp, strerror(errno));
    const size_t S = (size_t)sim->S, d = (size_t)sim->d, N = (size_t)sim->N, M = (size_t)sim->M;
    put(&w, CK_MAGIC, 8);
    put_u32(&w, CK_VERSION);
    put_u32(&w, CK_BOM);

    /* CONF */
    uint64_t conf_len = 4;
    char v[PFR_PATH_MAX + 64];
    const size_t nk = pfr_config_key_count();
    for (size_t i = 0; i < nk; ++i) {
        pfr_config_key_value(&sim->cfg, i, v, sizeof v);
        conf_len += 8 + strlen(pfr_config_key_name(i)) + strlen(v);
    }
    section(&w, T_CONF, conf_len);
    put_u32(&w, (uint32_t)nk);
    for (size_t i = 0; i < nk; ++i) {
        const char *k = pfr_config_key_name(i);
        pfr_config_key_value(&sim->cfg, i, v, sizeof v);
        put_u32(&w, (uint32_t)strlen(k));
        put(&w, k, strlen(k));
        put_u32(&w, (uint32_t)strlen(v));
        put(&w, v, strlen(v));
    }
    pad(&w, conf_len);

    /* META */
    section(&w, T_META, 88);
    put_u64(&w, (uint64_t)sim->round);
    put_u64(&w, sim->agent_steps);
    put_u64(&w, (uint64_t)N);
    put_u32(&w, (uint32_t)S);
    put_u32(&w, (uint32_t)d);
    put_u32(&w, (uint32_t)M);
    put_u32(&w, (uint32_t)sim->cfg.algorithm);
    put_u32(&w, env_crc(sim));
    put_u32(&w, pfr_fed_trace_crc(sim->fed));
    put_u64(&w, (uint64_t)sim->nhist);
    put_f64(&w, sim->wall_s);
    put_f64(&w, sim->step_s);
    put_f64(&w, sim->rate_s);
    put_u64(&w, sim->rate_steps);

    if (sim->neural) {
        pfr_neural_arrays(sim->neural, sim->N, put_array, &w);
    } else {
        put_section(&w, T_PHI, sim->phi, sizeof(float) * S * d);
        put_section(&w, T_THETA, sim->theta, sizeof(float) * N * d);
        put_section(&w, T_STATE, sim->state, sizeof(uint32_t) * N);
    }
    if (sim->own_phi && !sim->neural)
        put_section(&w, T_APHI, sim->agent_phi, sizeof(float) * N * S * d);
    section(&w, T_HIST, (uint64_t)sim->nhist * HIST_ROW_BYTES);
    for (size_t i = 0; i < sim->nhist; ++i)
        for (size_t k = 0; k < HIST_FIELDS; ++k)
            put(&w, (const char *)&sim->hist[i] + METRIC_AT[k], 8);
    put_section(&w, T_HTYPE, sim->hist_type, sizeof(double) * sim->nhist * M);
    section(&w, T_FEDM, (uint64_t)sim->nhist * 8 * FEDM_FIELDS + 64);
    for (size_t i = 0; i < sim->nhist; ++i)
        for (size_t k = HIST_FIELDS; k < METRIC_FIELDS; ++k)
            put(&w, (const char *)&sim->hist[i] + METRIC_AT[k], 8);
    put_u64(&w, sim->since_eval.participants);
    put_u64(&w, sim->since_eval.steps);
    put_u64(&w, sim->since_eval.age_sum);
    put_u64(&w, (uint64_t)sim->rounds_since_eval);
    put_u64(&w, sim->total.participants);
    put_u64(&w, sim->total.steps);
    put_u64(&w, sim->total.age_sum);
    put_u64(&w, (uint64_t)sim->private_rounds);
    if (pfr_fed_availability(sim->fed))
        put_section(&w, T_FEDA, pfr_fed_availability(sim->fed), N);
    int slots = 0;
    float *fh = pfr_fed_history(sim->fed, &slots);
    if (fh)
        put_section(&w, T_FEDH, fh, sizeof(float) * (size_t)slots * S * d);
    if (sim->action)
        put_section(&w, T_ACTN, sim->action, N);
    const uint32_t crc = (uint32_t)w.crc;
    section(&w, T_END, 4);
    put_u32(&w, crc); /* the last bytes of the file */
    if (w.ok && (fflush(w.f) != 0 || fsync(fileno(w.f)) != 0))
        w.ok = 0, w.e = errno;
    if (fclose(w.f) != 0 && w.ok)
        w.ok = 0, w.e = errno;
    const int renamed = w.ok && rename(tmp, path) == 0;
    if (!renamed) {
        const int e = w.ok ? errno : w.e;
        remove(tmp);
        return pfr_fail(err, PFR_ERR_IO, "checkpoint %s: %s: %s", path, w.ok ? "cannot rename it into place" :
                        "write failed", e ? strerror(e) : "unknown cause");
    }
    return PFR_OK;
}

/* ---- reading ---------------------------------------------------------------------------------- */
typedef struct reader {
    FILE *f;
    const char *path;
    uLong crc;
    pfr_error *err;
} reader;

static pfr_status bad(reader *r, const char *what)
{
    return pfr_fail(r->err, PFR_ERR_FORMAT, "checkpoint %s: %s; allowed: a checkpoint.pfr written by pfedrl %s",
                    r->path, what, PFR_VERSION_STRING);
}

static int get(reader *r, void *p, size_t n)
{
    if (n && fread(p, 1, n, r->f) != n)
        return 0;
    r->crc = crc32_z(r->crc, (const Bytef *)p, n);
    return 1;
}

static int skip(reader *r, uint64_t n) /* read and checksum n bytes */
{
    char buf[65536];
    while (n > 0) {
        const size_t k = n < sizeof buf ? (size_t)n : sizeof buf;
        if (!get(r, buf, k))
            return 0;
        n -= k;
    }
    return 1;
}

/* The header: magic, version, byte order. */
static pfr_status header(reader *r)
{
    char magic[8];
    uint32_t version, bom;
    if (!get(r, magic, 8) || memcmp(magic, CK_MAGIC, 8) != 0)
        return bad(r, "not a pfedrl checkpoint (its first bytes are not \"PFRCKPT\")");
    if (!get(r, &version, 4) || !get(r, &bom, 4))
        return bad(r, "truncated in its header");
    if (bom != CK_BOM)
        return bad(r, "written on a machine of the other byte order");
    if (version != CK_VERSION) {
        char m[96];
        snprintf(m, sizeof m, "format version %u, this build reads version %u", version, CK_VERSION);
        return bad(r, m);
    }
    return PFR_OK;
}

static int section_head(reader *r, uint32_t *tag, uint64_t *len)
{
    uint32_t zero;
    return get(r, tag, 4) && get(r, &zero, 4) && get(r, len, 8);
}

/* Pass 1: the framing and the CRC of the whole file, nothing kept. */
static pfr_status verify(reader *r)
{
    pfr_status st = header(r);
    if (st != PFR_OK)
        return st;
    for (;;) {
        uint32_t tag;
        uint64_t len;
        const uLong before = r->crc;
        if (!section_head(r, &tag, &len))
            return bad(r, "truncated (no end marker)");
        if (tag == T_END) {
            uint32_t want;
            char extra;
            if (len != 4 || !get(r, &want, 4))
                return bad(r, "truncated in its end marker");
            if (fread(&extra, 1, 1, r->f) == 1)
                return bad(r, "it has bytes after its end marker");
            return want == (uint32_t)before ? PFR_OK : bad(r, "its CRC-32 does not match its contents (corrupted)");
        }
        if (!skip(r, len + (8 - len % 8) % 8))
            return bad(r, "truncated");
    }
}

typedef struct restore_ctx {
    reader *r;
    uint64_t round, agent_steps, nhist, rate_steps;
    uint32_t chains, trace; /* CRC-32s: the chains, the availability trace (0: none, or not kept) */
    double wall_s, step_s, rate_s;
} restore_ctx;

/* Read the section that must come next: its payload into dst (len bytes expected). */
static pfr_status expect(reader *r, uint32_t tag, const char *name, void *dst, uint64_t want)
{
    uint32_t t;
    uint64_t len;
    if (!section_head(r, &t, &len) || t != tag) {
        char m[96];
        snprintf(m, sizeof m, "section %s missing", name);
        return bad(r, m);
    }
    if (len != want) {
        char m[160];
        snprintf(m, sizeof m, "section %s holds %llu bytes, its config needs %llu", name, (unsigned long long)len,
                 (unsigned long long)want);
        return bad(r, m);
    }
    if (!get(r, dst, (size_t)len) || !skip(r, (8 - len % 8) % 8))
        return bad(r, "truncated");
    return PFR_OK;
}

/* The neural instance's arrays in pfr_neural_arrays' order, then what they must hold to be a state
 * the round can go on from (indices inside the buffers, actions below A). */
typedef struct neural_read {
    reader *r;
    pfr_status st;
} neural_read;

static int get_array(void *ctx, uint32_t tag, void *data, uint64_t bytes)
{
    neural_read *nr = ctx;
    char name[5];
    memcpy(name, &tag, 4);
    name[4] = '\0';
    nr->st = expect(nr->r, tag, name, data, bytes);
    return nr->st == PFR_OK ? 0 : -1;
}

static pfr_status restore_neural(pfr_sim *sim, reader *r)
{
    pfr_neural *nn = sim->neural;
    neural_read nr = {r, PFR_OK};
    if (pfr_neural_arrays(nn, sim->N, get_array, &nr) != 0)
        return nr.st;
    for (int64_t i = 0; i < sim->N; ++i) {
        if (nn->rb_size[i] < 0 || nn->rb_size[i] > nn->C || nn->rb_head[i] < 0 || nn->rb_head[i] >= nn->C)
            return bad(r, "an agent's replay buffer position is outside its capacity");
        if (nn->ep_t[i] < 0 || nn->ep_t[i] >= nn->max_steps || nn->adam_t[i] < 0 || nn->grad[i] < 0 || nn->episode[i] < 0)
            return bad(r, "an agent's episode or step counters are out of range");
        for (int k = 0; k < nn->C; ++k)
            if (nn->action[(size_t)i * nn->C + (size_t)k] >= (uint8_t)nn->A)
                return bad(r, "an action in a replay buffer is not below A");
    }
    return PFR_OK;
}

/* The federation sections after HTYP (older files have none: the metrics NaN, the counts zero). */
static pfr_status restore_federation(pfr_sim *sim, const restore_ctx *c, reader *r)
{
    const size_t S = (size_t)sim->S, d = (size_t)sim->d, N = (size_t)sim->N;
    for (size_t i = 0; i < c->nhist; ++i) {
        pfr_metrics *m = &sim->hist[i];
        m->participants = m->mean_steps = m->mean_staleness = m->epsilon = m->policy_gap = m->pooled_value_error = NAN;
        m->policy_agents = 0.0;
    }
    uint8_t *avail = pfr_fed_availability(sim->fed);
    int slots = 0;
    float *fh = pfr_fed_history(sim->fed, &slots);
    int have_a = 0, have_h = 0, have_act = 0;
    for (;;) {
        uint32_t t;
        uint64_t len;
        if (!section_head(r, &t, &len))
            return bad(r, "truncated");
        if (t == T_END)
            break;
        if (t == T_FEDM) {
            /* the fields a file has: FEDM_FIELDS, or as few as FEDM_FIRST (before fields were appended) */
            size_t have = 0;
            for (size_t k = FEDM_FIRST; k <= FEDM_FIELDS && !have; ++k)
                have = len == c->nhist * 8 * k + 64 ? k : 0;
            if (!have)
                return bad(r, "section FEDM of the wrong size");
            for (size_t i = 0; i < c->nhist; ++i)
                for (size_t k = HIST_FIELDS; k < METRIC_FIELDS; ++k) {
                    char *at = (char *)&sim->hist[i] + METRIC_AT[k];
                    const double nan = NAN;
                    if (k >= HIST_FIELDS + have)
                        memcpy(at, &nan, 8);
                    else if (!get(r, at, 8))
                        return bad(r, "truncated");
                }
            uint64_t u[8];
            if (!get(r, u, 64))
                return bad(r, "truncated");
            sim->since_eval = (pfr_round_stats){u[0], u[1], u[2]};
            sim->rounds_since_eval = (int64_t)u[3];
            sim->total = (pfr_round_stats){u[4], u[5], u[6]};
            sim->private_rounds = (int64_t)u[7];
        } else if (t == T_FEDA && avail && len == N) {
            if (!get(r, avail, N))
                return bad(r, "truncated");
            have_a = 1;
        } else if (t == T_ACTN && sim->action && len == N) {
            if (!get(r, sim->action, N))
                return bad(r, "truncated");
            for (size_t i = 0; i < N; ++i)
                if (sim->action[i] >= (uint8_t)sim->A)
                    return bad(r, "an agent's action is not below A");
            have_act = 1;
        } else if (t == T_FEDH && fh && len == sizeof(float) * (size_t)slots * S * d) {
            if (!get(r, fh, len))
                return bad(r, "truncated");
            have_h = 1;
        } else {
            return bad(r, "an unexpected section after HTYP, or one of the wrong size for its config");
        }
        if (!skip(r, (8 - len % 8) % 8))
            return bad(r, "truncated");
    }
    if (avail && !have_a)
        return bad(r, "section FEDA (the availability chains) missing");
    if (fh && !have_h)
        return bad(r, "section FEDH (the history of Phi) missing");
    if (sim->action && !have_act)
        return bad(r, "section ACTN (the agents' next actions) missing");
    return PFR_OK;
}

/* Called by pfr_sim_build on the new handle, before its engine starts. */
static pfr_status restore(pfr_sim *sim, void *p, pfr_error *err)
{
    restore_ctx *c = p;
    reader *r = c->r;
    r->err = err;
    const size_t S = (size_t)sim->S, d = (size_t)sim->d, N = (size_t)sim->N, M = (size_t)sim->M;
    if (env_crc(sim) != c->chains)
        return pfr_fail(err, PFR_ERR_FORMAT,
                        "checkpoint %s: the environment built from its config (%s) is not the one it was saved with "
                        "(an env.p_file, env.r_file, env.dir or env.param_file changed since?); allowed: the same "
                        "environment", r->path,
                        pfr_sim_env_description(sim));
    if (c->trace && pfr_fed_trace_crc(sim->fed) != c->trace)
        return pfr_fail(err, PFR_ERR_FORMAT,
                        "checkpoint %s: federation.availability_trace %s is not the trace the run was saved with (it "
                        "changed since: its entries' CRC-32 is %08x, the checkpoint's %08x); allowed: the same trace",
                        r->path, sim->cfg.federation.availability_trace, pfr_fed_trace_crc(sim->fed), c->trace);
    pfr_status st = sim->neural ? restore_neural(sim, r) : expect(r, T_PHI, "PHI_", sim->phi, sizeof(float) * S * d);
    if (st == PFR_OK && !sim->neural)
        st = expect(r, T_THETA, "THET", sim->theta, sizeof(float) * N * d);
    if (st == PFR_OK && !sim->neural)
        st = expect(r, T_STATE, "STAT", sim->state, sizeof(uint32_t) * N);
    if (st == PFR_OK && sim->own_phi && !sim->neural)
        st = expect(r, T_APHI, "APHI", sim->agent_phi, sizeof(float) * N * S * d);
    if (st == PFR_OK && (st = pfr_sim_reserve_history(sim, c->nhist)) != PFR_OK)
        return pfr_fail(err, st, "%s", sim->errmsg);
    if (st != PFR_OK)
        return st;
    uint32_t t;
    uint64_t len;
    if (!section_head(r, &t, &len) || t != T_HIST || len != c->nhist * HIST_ROW_BYTES)
        return bad(r, "section HIST missing or of the wrong size");
    for (size_t i = 0; i < c->nhist; ++i)
        for (size_t k = 0; k < HIST_FIELDS; ++k)
            if (!get(r, (char *)&sim->hist[i] + METRIC_AT[k], 8))
                return bad(r, "truncated");
    if ((st = expect(r, T_HTYPE, "HTYP", sim->hist_type, sizeof(double) * c->nhist * M)) != PFR_OK)
        return st;
    if ((st = restore_federation(sim, c, r)) != PFR_OK)
        return st;
    for (size_t s = 0; !sim->neural && s < N; ++s)
        if (sim->state[s] >= (uint32_t)sim->states)
            return bad(r, "an agent's state is not below S");
    sim->nhist = (size_t)c->nhist;
    sim->round = (int64_t)c->round;
    sim->agent_steps = c->agent_steps;
    sim->wall_s = c->wall_s;
    sim->step_s = c->step_s;
    sim->rate_s = c->rate_s;
    sim->rate_steps = c->rate_steps;
    return PFR_OK;
}

int pfr_checkpoint_runtime_key(const char *key)
{
    for (int i = 0; RUNTIME_KEYS[i]; ++i)
        if (strcmp(key, RUNTIME_KEYS[i]) == 0)
            return 1;
    return 0;
}

/* CONF, after the header: the saved config into *cfg (over its defaults). */
static pfr_status read_conf(reader *r, pfr_config *cfg)
{
    uint32_t tag, nk = 0;
    uint64_t len;
    if (!section_head(r, &tag, &len) || tag != T_CONF || !get(r, &nk, 4))
        return bad(r, "section CONF missing");
    char key[256], val[PFR_PATH_MAX + 64];
    for (uint32_t i = 0; i < nk; ++i) {
        uint32_t kl, vl;
        if (!get(r, &kl, 4) || kl >= sizeof key || !get(r, key, kl) || !get(r, &vl, 4) || vl >= sizeof val ||
            !get(r, val, vl))
            return bad(r, "section CONF is malformed");
        key[kl] = val[vl] = '\0';
        pfr_error e2;
        if (pfr_config_set(cfg, key, val, &e2) != PFR_OK) {
            char m[sizeof e2.msg + 32];
            snprintf(m, sizeof m, "its config does not load here (%s)", e2.msg);
            return bad(r, m);
        }
    }
    return skip(r, (8 - len % 8) % 8) ? PFR_OK : bad(r, "truncated");
}

pfr_status pfr_checkpoint_config(const char *path, pfr_config *cfg, pfr_error *err)
{
    reader r = {fopen(path, "rb"), path, crc32(0L, Z_NULL, 0), err};
    if (!r.f)
        return pfr_fail(err, PFR_ERR_IO, "checkpoint %s: cannot open: %s", path, strerror(errno));
    pfr_config_init(cfg);
    pfr_status st = header(&r);
    if (st == PFR_OK)
        st = read_conf(&r, cfg);
    fclose(r.f);
    return st;
}

pfr_status pfr_sim_load(const char *path, const char *const *overrides, size_t count, pfr_setup_progress_fn fn,
                        void *user, pfr_sim **out, pfr_error *err)
{
    return pfr_sim_load_stoppable(path, overrides, count, fn, user, NULL, out, err);
}

pfr_status pfr_sim_load_stoppable(const char *path, const char *const *overrides, size_t count,
                                  pfr_setup_progress_fn fn, void *user, const volatile int *stop, pfr_sim **out,
                                  pfr_error *err)
{
    if (!path || !out || (count && !overrides))
        return pfr_fail(err, PFR_ERR_INVALID_ARGUMENT, "pfr_sim_load: NULL argument");
    *out = NULL;
    reader r = {fopen(path, "rb"), path, crc32(0L, Z_NULL, 0), err};
    if (!r.f)
        return pfr_fail(err, PFR_ERR_IO, "checkpoint %s: cannot open: %s", path, strerror(errno));
    pfr_status st = verify(&r);
    if (st == PFR_OK && fseek(r.f, 0, SEEK_SET) != 0)
        st = pfr_fail(err, PFR_ERR_IO, "checkpoint %s: cannot read it again: %s", path, strerror(errno));
    r.crc = crc32(0L, Z_NULL, 0);
    if (st == PFR_OK)
        st = header(&r);
    /* CONF: the saved config, then the overrides */
    pfr_config cfg;
    pfr_config_init(&cfg);
    if (st == PFR_OK)
        st = read_conf(&r, &cfg);
    char key[256];
    uint32_t tag;
    uint64_t len;
    for (size_t i = 0; st == PFR_OK && i < count; ++i) {
        const char *eq = strchr(overrides[i], '=');
        if (!eq || eq == overrides[i] || (size_t)(eq - overrides[i]) >= sizeof key) {
            st = pfr_fail(err, PFR_ERR_CONFIG, "resume: '%s': expected key=value", overrides[i]);
            break;
        }
        snprintf(key, sizeof key, "%.*s", (int)(eq - overrides[i]), overrides[i]);
        if (!pfr_checkpoint_runtime_key(key))
            st = pfr_fail(err, PFR_ERR_CONFIG,
                          "resume: %s cannot change when a run goes on (its results would no longer follow from the "
                          "checkpoint); allowed: rounds, threads, backend, eval_every, checkpoint_every, cpu_kernel, cuda_kernel, "
                          "cuda_graph, cuda_max_chunk",
                          key);
        else
            st = pfr_config_set(&cfg, key, eq + 1, err);
    }
    /* META */
    restore_ctx c;
    memset(&c, 0, sizeof c);
    c.r = &r;
    uint64_t n64 = 0;
    uint32_t S = 0, d = 0, M = 0, alg = 0;
    if (st == PFR_OK && (!section_head(&r, &tag, &len) || tag != T_META || len != 88 || !get(&r, &c.round, 8) ||
                         !get(&r, &c.agent_steps, 8) || !get(&r, &n64, 8) || !get(&r, &S, 4) || !get(&r, &d, 4) ||
                         !get(&r, &M, 4) || !get(&r, &alg, 4) || !get(&r, &c.chains, 4) || !get(&r, &c.trace, 4) ||
                         !get(&r, &c.nhist, 8) || !get(&r, &c.wall_s, 8) || !get(&r, &c.step_s, 8) ||
                         !get(&r, &c.rate_s, 8) || !get(&r, &c.rate_steps, 8)))
        st = bad(&r, "section META missing or malformed");
    if (st == PFR_OK && (n64 != (uint64_t)cfg.agents || d != (uint32_t)cfg.dim || alg != (uint32_t)cfg.algorithm))
        st = bad(&r, "its sizes do not match its own config");
    if (st == PFR_OK && c.nhist > c.round + 1)
        st = bad(&r, "more evaluations than rounds");
    if (st == PFR_OK) {
        st = pfr_sim_build(&cfg, fn, user, stop, restore, &c, out, err);
        if (st == PFR_OK && ((uint32_t)(*out)->S != S || (uint32_t)(*out)->M != M)) {
            pfr_sim_destroy(*out);
            *out = NULL;
            st = bad(&r, "its environment's size differs from the one its config builds");
        }
    }
    fclose(r.f);
    return st;
}
