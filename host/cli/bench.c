/*
 * bench.c — `pfedrl bench`: the standard throughput points on whatever engine and device this
 * machine has, so that people can compare machines with one command (bench/gpu_check.sh calls it;
 * bench/RESULTS.md and bench/results/gpu.json keep what it measured).
 *
 * A point is a configuration (the table below: the cliff walk of the targets and the bench grid
 * world at three sizes). For each: set-up (timed apart, not counted), one warm-up round (one-time
 * costs: kernel modules, first touches), one round to size the repeats (each about --min-seconds
 * long), then --repeats repeats; the figure is the median repeat's agent-steps per second of round
 * time (the library's own clock: evaluations excluded, a device's rounds included up to their end).
 * A point that does not fit the device's (or the host's) memory is reported as such and skipped.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "output.h"
#include "pfr_commit.h"
#include "run.h"

/* The points, one list (the target table; gpu_check.sh names them). `grid`: the bench grid
 * world's side (S = grid^2), 0: the cliff walk. */
typedef struct bench_point {
    const char *name, *what;
    int grid;
    int64_t N;
    int K, d;
    int per_round; /* the figure that matters is the round's time (K = 1) */
} bench_point;

static const bench_point POINTS[] = {
    {"cliff_k100", "cliff walk, N = 1e6, K = 100, d = 8", 0, 1000000, 100, 8, 0},
    {"cliff_k1", "a K = 1 round, N = 1e6 (cliff walk)", 0, 1000000, 1, 8, 1},
    {"grid_1e4", "bench grid world, S = 10^4, N = 1e6, K = 10", 100, 1000000, 10, 8, 0},
    {"grid_2.5e5", "bench grid world, S = 2.5 x 10^5, N = 1e6, K = 10", 500, 1000000, 10, 8, 0},
    {"grid_1e6", "bench grid world, S = 10^6, N = 1e6, K = 10", 1000, 1000000, 10, 8, 0},
};
#define NPOINTS (sizeof POINTS / sizeof POINTS[0])

/* The two environments: examples/cliffwalk.yaml's cliff walk, and the bench grid world of
 * bench/cpu_ab.sh, bench/cpu_throughput.py and the GPU figures since 2026-11-26 (that file's keys with
 * a grid of 16 types, 4 goals each, walls 0.2, 16 start cells, wind per type, alpha 0.05, beta 0.02). */
static const char *const CLIFF_KEYS[] = {"env.kind=cliffwalk", "env.types=4", "env.width=12", "env.height=4",
                                         "env.epsilon=0.1", "env.slip_max=0.3", "env.wind_max=0.2",
                                         "env.reward_spread=0.2", "gamma=0.9", "alpha=0.2", "beta=0.1", NULL};
static const char *const GRID_KEYS[] = {"env.kind=gridworld", "env.types=16", "env.goals=4", "env.walls=0.2",
                                        "env.starts=16", "env.wind_direction=per_type", "env.wind_max=0.2",
                                        "env.epsilon=0.1", "env.slip_max=0.3", "env.reward_spread=0.2",
                                        "gamma=0.9", "alpha=0.05", "beta=0.02", NULL};

typedef struct bench_opts {
    const char *backend, *json, *only, *show;
    int threads, repeats, quick, repeats_given, min_s_given;
    int64_t agents;
    double min_s, budget_s;
} bench_opts;

typedef struct bench_result {
    char status[1100]; /* "ok", "does not fit: ...", "failed: ...", "skipped: ..." (an error message is up to 1 KB) */
    char backend[16];
    int S;
    int64_t N;
    int rounds_per_repeat;
    double setup_s, rate, us_round, spread; /* median rate; (max - min) / median */
} bench_result;

void pfr_cli_bench_help(FILE *f)
{
    fputs("usage: pfedrl bench [options]\n\n"
          "Times the standard points on this machine's engine and device and prints, for\n"
          "each, the median agent-steps per second of round time (set-up, the first round\n"
          "and evaluations not counted) and the microseconds of a round; device, driver\n"
          "and commit first. A point that does not fit the memory is reported and\n"
          "skipped.\n\npoints:\n",
          f);
    for (size_t i = 0; i < NPOINTS; ++i)
        fprintf(f, "  %-11s %s\n", POINTS[i].name, POINTS[i].what);
    fputs("\noptions:\n"
          "  -b, --backend B       auto (default), cpu or cuda\n"
          "  -t, --threads N       CPU engine threads, 0 = all cores\n"
          "  -p, --points A,B,...  only these points\n"
          "  -n, --agents N        this many agents at every point (a smaller machine)\n"
          "  -r, --repeats R       repeats of each point (default 5)\n"
          "      --min-seconds T   each repeat at least this long (default 1)\n"
          "      --budget T        start no point after T seconds (default: no limit)\n"
          "      --quick           a smoke run: 16,384 agents, grids of at most 100 x 100,\n"
          "                        3 repeats of 0.1 s (not a measurement to quote)\n"
          "  -j, --json FILE       also write the results as JSON\n"
          "      --show-config P   print point P's config as YAML (for pfedrl run), time\n"
          "                        nothing\n"
          "  -h, --help            this text\n",
          f);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* This CPU's model and the vector extensions the CPU engine's paths depend on (/proc/cpuinfo). */
static void cpu_description(char *model, size_t nm, char *flags, size_t nf)
{
    snprintf(model, nm, "unknown");
    flags[0] = '\0';
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[8192];
    int got_model = 0, got_flags = 0;
    while (fgets(line, sizeof line, f) && !(got_model && got_flags)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        char *v = colon + 1 + (colon[1] == ' ');
        v[strcspn(v, "\n")] = '\0';
        if (!got_model && strncmp(line, "model name", 10) == 0) {
            snprintf(model, nm, "%s", v);
            got_model = 1;
        } else if (!got_flags && (strncmp(line, "flags", 5) == 0 || strncmp(line, "Features", 8) == 0)) {
            static const char *const want[] = {"avx512f", "avx512vl", "avx2", "fma", "asimd", "sve", NULL};
            size_t used = 0;
            for (int i = 0; want[i]; ++i) {
                const size_t n = strlen(want[i]);
                for (char *p = strstr(v, want[i]); p; p = strstr(p + 1, want[i]))
                    if ((p == v || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) {
                        used += (size_t)snprintf(flags + used, used < nf ? nf - used : 0, "%s%s", used ? " " : "",
                                                 want[i]);
                        break;
                    }
            }
            got_flags = 1;
        }
    }
    fclose(f);
    if (!flags[0])
        snprintf(flags, nf, "none of avx512f, avx2, fma, asimd, sve");
}

/* The point's config; 0 or a message in err. */
static int point_config(const bench_point *p, const bench_opts *o, int64_t N, int side, pfr_config **out,
                        pfr_error *err)
{
    if (pfr_config_create(out, err) != PFR_OK)
        return -1;
    char kv[64];
    const char *const *keys = side ? GRID_KEYS : CLIFF_KEYS;
    for (int i = 0; keys[i]; ++i) {
        const char *eq = strchr(keys[i], '=');
        snprintf(kv, sizeof kv, "%.*s", (int)(eq - keys[i]), keys[i]);
        if (pfr_config_set(*out, kv, eq + 1, err) != PFR_OK)
            return -1;
    }
    char sides[16], agents[32], ks[16], ds[16], threads[16];
    snprintf(sides, sizeof sides, "%d", side);
    snprintf(agents, sizeof agents, "%lld", (long long)N);
    snprintf(ks, sizeof ks, "%d", p->K);
    snprintf(ds, sizeof ds, "%d", p->d);
    snprintf(threads, sizeof threads, "%d", o->threads);
    const char *rest[][2] = {{"env.width", sides},     {"env.height", sides},       {"agents", agents},
                             {"local_steps", ks},      {"dim", ds},                 {"algorithm", "pfedtd_rep"},
                             {"orthonormalize", "false"}, {"eval_every", "1000000000000"},
                             {"backend", o->backend},  {"threads", threads}};
    for (size_t i = 0; i < sizeof rest / sizeof rest[0]; ++i) {
        if (!side && i < 2)
            continue;
        if (pfr_config_set(*out, rest[i][0], rest[i][1], err) != PFR_OK)
            return -1;
    }
    return 0;
}

/* Seconds of round time the handle has counted (its first round excluded), from its rate. */
static double counted_s(const pfr_sim *sim, int64_t N, int K)
{
    const double steps = (double)(pfr_sim_round(sim) - 1) * (double)N * K, rate = pfr_sim_steps_per_sec(sim);
    return rate > 0 ? steps / rate : 0.0;
}

static void run_point(const bench_point *p, const bench_opts *o, bench_result *r)
{
    memset(r, 0, sizeof *r);
    const int side = o->quick && p->grid > 100 ? 100 : p->grid;
    r->N = o->agents ? o->agents : o->quick && p->N > 16384 ? 16384 : p->N;
    pfr_config *cfg = NULL;
    pfr_error err = {{0}};
    pfr_sim *sim = NULL;
    if (point_config(p, o, r->N, side, &cfg, &err) != 0) {
        snprintf(r->status, sizeof r->status, "failed: %s", err.msg);
        pfr_config_destroy(cfg);
        return;
    }
    const double t0 = now_s();
    const pfr_status st = pfr_sim_create(cfg, &sim, &err);
    pfr_config_destroy(cfg);
    r->setup_s = now_s() - t0;
    if (st == PFR_ERR_DEVICE_MEMORY || st == PFR_ERR_NO_MEMORY || st == PFR_ERR_TOO_LARGE) {
        snprintf(r->status, sizeof r->status, "does not fit: %s", err.msg);
        return;
    }
    if (st != PFR_OK) {
        snprintf(r->status, sizeof r->status, "failed: %s", err.msg);
        return;
    }
    snprintf(r->backend, sizeof r->backend, "%s", pfr_sim_backend(sim));
    r->S = pfr_sim_num_states(sim);
    const int K = p->K;
    double rates[64];
    const int reps = o->repeats < 64 ? o->repeats : 64;
    /* the warm-up round, then one to size the repeats */
    pfr_status rs = pfr_sim_run(sim, 1);
    double before = counted_s(sim, r->N, K);
    if (rs == PFR_OK)
        rs = pfr_sim_run(sim, 1);
    const double one = counted_s(sim, r->N, K) - before;
    r->rounds_per_repeat = one > 0 ? (int)ceil(o->min_s / one) : 1;
    if (r->rounds_per_repeat < 1)
        r->rounds_per_repeat = 1;
    for (int k = 0; k < reps && rs == PFR_OK; ++k) {
        before = counted_s(sim, r->N, K);
        rs = pfr_sim_run(sim, r->rounds_per_repeat);
        const double dt = counted_s(sim, r->N, K) - before;
        rates[k] = dt > 0 ? (double)r->rounds_per_repeat * (double)r->N * K / dt : 0.0;
    }
    if (rs != PFR_OK) {
        snprintf(r->status, sizeof r->status, "failed: %s", pfr_sim_last_error(sim));
        pfr_sim_destroy(sim);
        return;
    }
    pfr_sim_destroy(sim);
    qsort(rates, (size_t)reps, sizeof rates[0], cmp_double);
    r->rate = rates[reps / 2];
    r->us_round = r->rate > 0 ? 1e6 * (double)r->N * K / r->rate : NAN;
    r->spread = r->rate > 0 ? (rates[reps - 1] - rates[0]) / r->rate : NAN;
    snprintf(r->status, sizeof r->status, "ok");
}

static int parse_opts(int argc, char **argv, bench_opts *o)
{
    enum { OPT_MIN_S = 1000, OPT_BUDGET, OPT_QUICK, OPT_SHOW };
    static const struct option longs[] = {
        {"backend", required_argument, NULL, 'b'}, {"threads", required_argument, NULL, 't'},
        {"points", required_argument, NULL, 'p'},  {"agents", required_argument, NULL, 'n'},
        {"repeats", required_argument, NULL, 'r'}, {"min-seconds", required_argument, NULL, OPT_MIN_S},
        {"budget", required_argument, NULL, OPT_BUDGET}, {"quick", no_argument, NULL, OPT_QUICK},
        {"json", required_argument, NULL, 'j'},    {"show-config", required_argument, NULL, OPT_SHOW},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->backend = "auto";
    o->repeats = 5;
    o->min_s = 1.0;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":b:t:p:n:r:j:h", longs, NULL)) != -1) {
        char *end = NULL;
        errno = 0;
        switch (c) {
        case 'b': o->backend = optarg; break;
        case 'p': o->only = optarg; break;
        case 'j': o->json = optarg; break;
        case OPT_QUICK: o->quick = 1; break;
        case OPT_SHOW: o->only = o->show = optarg; break;
        case 't':
        case 'n':
        case 'r': {
            const long long v = strtoll(optarg, &end, 10);
            const long long lo = c == 't' ? 0 : 1, hi = c == 'r' ? 64 : c == 't' ? 4096 : (long long)1e12;
            if (errno || !end || *end || v < lo || v > hi) {
                fprintf(stderr, "pfedrl bench: %s '%s': allowed: an integer from %lld to %lld\n",
                        c == 't' ? "--threads" : c == 'n' ? "--agents" : "--repeats", optarg, lo, hi);
                return PFR_EXIT_BAD_INPUT;
            }
            if (c == 't')
                o->threads = (int)v;
            else if (c == 'n')
                o->agents = v;
            else {
                o->repeats = (int)v;
                o->repeats_given = 1;
            }
            break;
        }
        case OPT_MIN_S:
        case OPT_BUDGET: {
            const double v = strtod(optarg, &end);
            if (errno || !end || *end || !(v > 0.0) || v > 1e9) {
                fprintf(stderr, "pfedrl bench: %s '%s': allowed: seconds, more than 0\n",
                        c == OPT_MIN_S ? "--min-seconds" : "--budget", optarg);
                return PFR_EXIT_BAD_INPUT;
            }
            if (c == OPT_MIN_S) {
                o->min_s = v;
                o->min_s_given = 1;
            } else
                o->budget_s = v;
            break;
        }
        case 'h': pfr_cli_bench_help(stdout); return -1;
        case ':':
            fprintf(stderr, "pfedrl bench: %s needs a value; see pfedrl bench --help\n", argv[optind - 1]);
            return PFR_EXIT_BAD_INPUT;
        default:
            fprintf(stderr, "pfedrl bench: unknown option '%s'; see pfedrl bench --help\n", argv[optind - 1]);
            return PFR_EXIT_BAD_INPUT;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pfedrl bench: unexpected argument '%s'; see pfedrl bench --help\n", argv[optind]);
        return PFR_EXIT_BAD_INPUT;
    }
    if (strcmp(o->backend, "auto") && strcmp(o->backend, "cpu") && strcmp(o->backend, "cuda")) {
        fprintf(stderr, "pfedrl bench: --backend '%s': allowed: auto, cpu, cuda\n", o->backend);
        return PFR_EXIT_BAD_INPUT;
    }
    if (o->quick && !o->repeats_given)
        o->repeats = 3;
    if (o->quick && !o->min_s_given)
        o->min_s = 0.1;
    return 0;
}

/* Whether point p is among --points (all when none given); unknown names are refused first. */
static int selected(const bench_opts *o, const char *name)
{
    if (!o->only)
        return 1;
    const size_t n = strlen(name);
    for (const char *q = o->only; *q;) {
        const size_t len = strcspn(q, ",");
        if (len == n && strncmp(q, name, n) == 0)
            return 1;
        q += len + (q[len] == ',');
    }
    return 0;
}

static int check_points(const bench_opts *o)
{
    for (const char *q = o->only; q && *q;) {
        const size_t len = strcspn(q, ",");
        int known = 0;
        for (size_t i = 0; i < NPOINTS; ++i)
            known |= strlen(POINTS[i].name) == len && strncmp(q, POINTS[i].name, len) == 0;
        if (!known) {
            fprintf(stderr, "pfedrl bench: --points: no point '%.*s'; allowed:", (int)len, q);
            for (size_t i = 0; i < NPOINTS; ++i)
                fprintf(stderr, " %s", POINTS[i].name);
            fputc('\n', stderr);
            return PFR_EXIT_BAD_INPUT;
        }
        q += len + (q[len] == ',');
    }
    return 0;
}

static void json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.6g", v);
    else
        fputs("null", f);
}

/* The results as JSON, written under a temporary name and renamed: a reader never sees half a file. */
static int write_json(const bench_opts *o, const char *engines, const char *model, const char *flags,
                      const bench_result *res, const int *which, int n)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", o->json);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "pfedrl bench: cannot write %s: %s\n", tmp, strerror(errno));
        return PFR_EXIT_RUN_FAILED;
    }
    char date[32];
    const time_t t = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    fputs("{\n  \"pfedrl\": ", f);
    pfr_cli_json_string(f, pfr_version());
    fputs(",\n  \"commit\": ", f);
    pfr_cli_json_string(f, PFR_COMMIT);
    fprintf(f, ",\n  \"date\": \"%s\",\n  \"backend_asked\": ", date);
    pfr_cli_json_string(f, o->backend);
    fputs(",\n  \"engines\": ", f);
    pfr_cli_json_string(f, engines);
    fputs(",\n  \"cpu\": ", f);
    pfr_cli_json_string(f, model);
    fputs(",\n  \"cpu_flags\": ", f);
    pfr_cli_json_string(f, flags);
    fprintf(f, ",\n  \"quick\": %s,\n  \"repeats\": %d,\n  \"points\": [", o->quick ? "true" : "false", o->repeats);
    for (int k = 0; k < n; ++k) {
        const bench_point *p = &POINTS[which[k]];
        const bench_result *r = &res[k];
        fprintf(f, "%s\n    {\"name\": \"%s\", \"what\": ", k ? "," : "", p->name);
        pfr_cli_json_string(f, p->what);
        fputs(", \"status\": ", f);
        pfr_cli_json_string(f, r->status);
        fputs(", \"backend\": ", f);
        pfr_cli_json_string(f, r->backend);
        fprintf(f, ", \"states\": %d, \"agents\": %lld, \"local_steps\": %d, \"dim\": %d, \"rounds_per_repeat\": %d, "
                   "\"setup_s\": ",
                r->S, (long long)r->N, p->K, p->d, r->rounds_per_repeat);
        json_num(f, r->setup_s);
        fputs(", \"agent_steps_per_sec\": ", f);
        json_num(f, r->rate);
        fputs(", \"us_per_round\": ", f);
        json_num(f, r->us_round);
        fputs(", \"spread\": ", f);
        json_num(f, r->spread);
        fputs("}", f);
    }
    fputs("\n  ]\n}\n", f);
    if (fclose(f) != 0 || rename(tmp, o->json) != 0) {
        fprintf(stderr, "pfedrl bench: cannot write %s: %s\n", o->json, strerror(errno));
        remove(tmp);
        return PFR_EXIT_RUN_FAILED;
    }
    return 0;
}

int pfr_cli_bench(int argc, char **argv)
{
    bench_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    if ((rc = check_points(&o)) != 0)
        return rc;
    if (o.show) /* the point's config, for a run of it (bench/gpu_check.sh scale) */
        for (size_t i = 0; i < NPOINTS; ++i)
            if (selected(&o, POINTS[i].name)) {
                pfr_config *cfg = NULL;
                pfr_error err = {{0}};
                const int bad = point_config(&POINTS[i], &o, o.agents ? o.agents : POINTS[i].N, POINTS[i].grid, &cfg, &err);
                if (!bad)
                    pfr_cli_config_yaml(stdout, cfg);
                else
                    fprintf(stderr, "pfedrl bench: %s\n", err.msg);
                pfr_config_destroy(cfg);
                return bad ? PFR_EXIT_RUN_FAILED : 0;
            }
    char engines[8192], model[256], flags[256];
    pfr_describe_engines(engines, sizeof engines);
    cpu_description(model, sizeof model, flags, sizeof flags);
    printf("pfedrl %s, commit %s\ncpu: %s (%s)\n%s", pfr_version(), PFR_COMMIT, model, flags, engines);
    printf("backend asked: %s; %d repeats of at least %.3g s each, the median%s\n\n", o.backend, o.repeats, o.min_s,
           o.quick ? "; --quick: a smoke run, not a measurement to quote" : "");
    printf("%-11s %-7s %9s %9s %4s %7s %15s %12s %7s\n", "point", "backend", "S", "N", "K", "setup_s", "agent-steps/s",
           "us/round", "spread");
    fflush(stdout);
    bench_result res[NPOINTS];
    int which[NPOINTS], n = 0, failed = 0;
    const double t_start = now_s();
    for (size_t i = 0; i < NPOINTS; ++i) {
        if (!selected(&o, POINTS[i].name))
            continue;
        bench_result *r = &res[n];
        which[n++] = (int)i;
        if (o.budget_s > 0 && now_s() - t_start > o.budget_s) {
            memset(r, 0, sizeof *r);
            r->rate = r->us_round = r->spread = NAN;
            snprintf(r->status, sizeof r->status, "skipped: the --budget of %.0f s was spent", o.budget_s);
        } else {
            run_point(&POINTS[i], &o, r);
        }
        if (strcmp(r->status, "ok") == 0)
            printf("%-11s %-7s %9d %9lld %4d %7.1f %15.4g %12.1f %6.1f%%\n", POINTS[i].name, r->backend, r->S,
                   (long long)r->N, POINTS[i].K, r->setup_s, r->rate, r->us_round, 100.0 * r->spread);
        else
            printf("%-11s %s\n", POINTS[i].name, r->status);
        fflush(stdout);
        failed |= strncmp(r->status, "failed", 6) == 0;
    }
    if (o.json && (rc = write_json(&o, engines, model, flags, res, which, n)) != 0)
        return rc;
    return failed ? PFR_EXIT_RUN_FAILED : 0;
}
