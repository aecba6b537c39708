/*
 * main.c — the `pfedrl` command line: run a config, print engines and devices, help.
 * Exit codes: 0 success, 1 the run failed, 2 bad usage, config or input file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "output.h"
#include "pfedrl/pfedrl.h"

#define EXIT_RUN_FAILED 1
#define EXIT_BAD_INPUT 2

static void usage(FILE *f)
{
    fprintf(f,
            "pfedrl %s — personalized federated TD learning with shared representations, at scale\n\n"
            "usage:\n"
            "  pfedrl run CONFIG.yaml [--set key=value]... [--backend auto|cpu|cuda] [--threads N]\n"
            "                         [--out DIR] [--quiet]\n"
            "  pfedrl export CONFIG.yaml [--set key=value]... [--out DIR]\n"
            "                          write the environment as .npy: P, R [M, S, S] (up to 1 GiB),\n"
            "                          V, mu [M, S], the singular values of the types' values\n"
            "  pfedrl info             engines and devices found\n"
            "  pfedrl --help | --version\n\n"
            "run writes DIR/metrics.csv (one row per evaluation) and DIR/summary.json (final metrics\n"
            "and the fully resolved config); DIR defaults to ./pfedrl-out.\n\n"
            "config keys (YAML; nested mappings give the dotted names; each also settable with --set):\n",
            pfr_version());
    pfr_config defaults;
    pfr_config_init(&defaults);
    for (size_t i = 0; i < pfr_config_key_count(); ++i) {
        char v[64];
        pfr_config_key_value(&defaults, i, v, sizeof v);
        fprintf(f, "  %-20s %s (default: %s)\n", pfr_config_key_name(i), pfr_config_key_help(i), v[0] ? v : "none");
    }
}

typedef struct progress_state {
    int tty, quiet;
    int64_t total;
    double last_draw, t0;
    double last_error;
} progress_state;

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void on_progress(void *user, const pfr_sim *sim, int64_t round, const pfr_metrics *m)
{
    progress_state *p = user;
    (void)sim;
    if (p->quiet)
        return;
    const double now = wall_now();
    if (m)
        p->last_error = m->value_error;
    if (p->tty) {
        if (now - p->last_draw < 0.1 && round < p->total && !m)
            return;
        p->last_draw = now;
        const double elapsed = now - p->t0;
        const double frac = p->total > 0 ? (double)round / (double)p->total : 1.0;
        const double eta = frac > 0 ? elapsed * (1.0 - frac) / frac : 0.0;
        pfr_metrics cur;
        size_t n = pfr_sim_metrics_count(sim);
        double rate = 0.0;
        if (n && pfr_sim_metrics_get(sim, n - 1, &cur) == PFR_OK)
            rate = cur.agent_steps_per_sec;
        char bar[31];
        int filled = (int)(frac * 30.0);
        for (int i = 0; i < 30; ++i)
            bar[i] = i < filled ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r[%s] %lld/%lld rounds  %.3g agent-steps/s  value_error %.4g  ETA %.0fs   ", bar,
                (long long)round, (long long)p->total, rate, p->last_error, eta);
        if (round >= p->total && m)
            fputc('\n', stderr);
        fflush(stderr);
    } else if (m) {
        fprintf(stderr, "round %lld/%lld  agent_steps %llu  value_error %.6g  td_fixed_point_error %.6g  %.3g agent-steps/s\n",
                (long long)round, (long long)p->total, (unsigned long long)m->agent_steps, m->value_error,
                m->td_fixed_point_error, m->agent_steps_per_sec);
    }
}

static int cmd_info(void)
{
    char buf[8192];
    printf("pfedrl %s\n", pfr_version());
    pfr_describe_engines(buf, sizeof buf);
    fputs(buf, stdout);
    return 0;
}

/* The arguments `run` and `export` share: CONFIG, then --set/--backend/--threads applied in order,
 * --out, --quiet. Returns 0, or the exit code to leave with (the message is printed). */
static int parse_run_args(const char *cmd, int argc, char **argv, pfr_config *cfg, const char **out_dir, int *quiet)
{
    const char *config_path = NULL;
    pfr_error err = {{0}};
    pfr_config_init(cfg);

    /* First pass: find the config file, so --set and flags apply on top of it in order. */
    for (int i = 0; i < argc; ++i) {
        const char *a = argv[i];
        if (strcmp(a, "--set") == 0 || strcmp(a, "--backend") == 0 || strcmp(a, "--out") == 0 ||
            strcmp(a, "--threads") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "pfedrl %s: %s needs a value\n", cmd, a);
                return EXIT_BAD_INPUT;
            }
            ++i;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            *quiet = 1;
        } else if (a[0] == '-') {
            fprintf(stderr, "pfedrl %s: unknown option '%s'; allowed: --set key=value, --backend auto|cpu|cuda, "
                            "--threads N, --out DIR, --quiet\n", cmd, a);
            return EXIT_BAD_INPUT;
        } else if (config_path) {
            fprintf(stderr, "pfedrl %s: more than one config file given ('%s' and '%s')\n", cmd, config_path, a);
            return EXIT_BAD_INPUT;
        } else {
            config_path = a;
        }
    }
    if (!config_path) {
        fprintf(stderr, "pfedrl %s: no config file given; usage: pfedrl %s CONFIG.yaml [--set key=value]...\n", cmd, cmd);
        return EXIT_BAD_INPUT;
    }
    if (pfr_config_load_yaml(cfg, config_path, &err) != PFR_OK) {
        fprintf(stderr, "pfedrl: %s\n", err.msg);
        return EXIT_BAD_INPUT;
    }
    for (int i = 0; i < argc; ++i) {
        const char *a = argv[i];
        pfr_status st = PFR_OK;
        if (strcmp(a, "--set") == 0) {
            const char *kv = argv[++i];
            const char *eq = strchr(kv, '=');
            if (!eq || eq == kv) {
                fprintf(stderr, "pfedrl %s: --set '%s': expected key=value\n", cmd, kv);
                return EXIT_BAD_INPUT;
            }
            char key[256];
            snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
            st = pfr_config_set(cfg, key, eq + 1, &err);
        } else if (strcmp(a, "--backend") == 0) {
            st = pfr_config_set(cfg, "backend", argv[++i], &err);
        } else if (strcmp(a, "--threads") == 0) {
            st = pfr_config_set(cfg, "threads", argv[++i], &err);
        } else if (strcmp(a, "--out") == 0) {
            *out_dir = argv[++i];
        }
        if (st != PFR_OK) {
            fprintf(stderr, "pfedrl: %s\n", err.msg);
            return EXIT_BAD_INPUT;
        }
    }
    return 0;
}

static int create_exit_code(pfr_status st)
{
    return st == PFR_ERR_CONFIG || st == PFR_ERR_FORMAT || st == PFR_ERR_IO || st == PFR_ERR_NO_DEVICE ||
                   st == PFR_ERR_TOO_LARGE || st == PFR_ERR_DEVICE_MEMORY
               ? EXIT_BAD_INPUT
               : EXIT_RUN_FAILED;
}

/* Set-up progress on a terminal: one line, redrawn. */
typedef struct setup_state {
    int tty;
    double t0, last;
    int drawn;
} setup_state;

static void on_setup(void *user, const char *stage, double fraction)
{
    setup_state *s = user;
    const double now = wall_now();
    if (!s->tty || (now - s->last < 0.2 && fraction < 1.0))
        return;
    s->last = now;
    fprintf(stderr, "\rsetting up: %-22s %3.0f%%  %5.1f s", stage, 100.0 * fraction, now - s->t0);
    s->drawn = 1;
    if (strcmp(stage, "ready") == 0)
        fputs("\r\033[K", stderr); /* clear the line for what follows */
    fflush(stderr);
}

/* Create the simulation and the output directory (checked before any time is spent running);
 * returns 0 or the exit code, with the message printed. */
static int open_sim(const pfr_config *cfg, const char *out_dir, pfr_sim **sim, int quiet)
{
    pfr_error err = {{0}};
    setup_state ss = {isatty(STDERR_FILENO) && !quiet, wall_now(), 0.0, 0};
    pfr_status st = pfr_sim_create_ex(cfg, on_setup, &ss, sim, &err);
    if (st != PFR_OK && ss.drawn)
        fputs("\r\033[K", stderr);
    if (st != PFR_OK) {
        fprintf(stderr, "pfedrl: %s\n", err.msg);
        return create_exit_code(st);
    }
    if (pfr_cli_make_dir(out_dir, &err) != 0) {
        fprintf(stderr, "pfedrl: %s\n", err.msg);
        pfr_sim_destroy(*sim);
        *sim = NULL;
        return EXIT_BAD_INPUT;
    }
    for (const char *w = pfr_sim_warnings(*sim); *w;) { /* one line each */
        const char *nl = strchr(w, '\n');
        const int len = nl ? (int)(nl - w) : (int)strlen(w);
        fprintf(stderr, "pfedrl: warning: %.*s\n", len, w);
        w += len + (nl ? 1 : 0);
    }
    return 0;
}

/* Write the environment's chains and ground truth as .npy: P, R [M, S, S], V, mu [M, S]. */
static int cmd_export(int argc, char **argv)
{
    const char *out_dir = "pfedrl-env";
    int quiet = 0;
    pfr_config cfg;
    pfr_error err = {{0}};
    int rc = parse_run_args("export", argc, argv, &cfg, &out_dir, &quiet);
    if (rc)
        return rc;
    cfg.agents = 1; /* only the environment is needed */
    pfr_sim *sim = NULL;
    if ((rc = open_sim(&cfg, out_dir, &sim, quiet)) != 0)
        return rc;
    int dense = 0;
    rc = pfr_cli_write_env_npy(out_dir, sim, &dense, &err) == 0 ? 0 : EXIT_RUN_FAILED;
    const int S = pfr_sim_num_states(sim), M = pfr_sim_num_types(sim);
    if (rc)
        fprintf(stderr, "pfedrl: %s\n", err.msg);
    else {
        if (!dense)
            fprintf(stderr,
                    "pfedrl: warning: P.npy and R.npy not written: dense [%d, %d, %d] arrays would take %.3g GB "
                    "(at most %.3g GB are written)\n",
                    M, S, S, 16.0 * M * (double)S * S / 1e9, PFR_CLI_DENSE_EXPORT_BYTES / 1e9);
        if (!quiet) {
            printf("wrote in %s: %sP_indptr, P_indices, P_data, R_data (sparse rows), V, mu, singular_values .npy\n"
                   "  (%s)\n", out_dir, dense ? "P, R (dense), " : "", pfr_sim_env_description(sim));
            double sv[8];
            const int n = pfr_sim_type_singular_values(sim, sv, 8);
            printf("singular values of the types' values (mu-weighted, normalized):");
            for (int i = 0; i < n && i < 8; ++i)
                printf(" %.3g", sv[i]);
            printf("%s\n", n > 8 ? " ..." : "");
        }
    }
    pfr_sim_destroy(sim);
    return rc;
}

static int cmd_run(int argc, char **argv)
{
    const char *out_dir = "pfedrl-out";
    int quiet = 0;
    pfr_config cfg;
    pfr_error err = {{0}};
    int rc = parse_run_args("run", argc, argv, &cfg, &out_dir, &quiet);
    if (rc)
        return rc;

    pfr_sim *sim = NULL;
    if ((rc = open_sim(&cfg, out_dir, &sim, quiet)) != 0)
        return rc;
    if (!quiet)
        fprintf(stderr, "pfedrl %s: %s, %s, N=%lld agents, d=%d, K=%d, %lld rounds, backend %s (%d threads)\n",
                pfr_version(), pfr_algorithm_name(cfg.algorithm), pfr_sim_env_description(sim), (long long)cfg.agents,
                cfg.dim, cfg.local_steps, (long long)cfg.rounds, pfr_sim_backend(sim), pfr_sim_threads(sim));
    progress_state ps = {isatty(STDERR_FILENO), quiet, cfg.rounds, 0.0, wall_now(), 0.0};
    pfr_sim_set_progress(sim, on_progress, &ps);
    pfr_status st = pfr_sim_run(sim, cfg.rounds);
    if (st != PFR_OK) {
        if (ps.tty && !quiet)
            fputc('\n', stderr);
        fprintf(stderr, "pfedrl: run failed: %s (%s); no output written\n", pfr_sim_last_error(sim), pfr_status_string(st));
        pfr_sim_destroy(sim);
        return EXIT_RUN_FAILED;
    }
    if (pfr_cli_write_results(out_dir, sim, &err) != 0) {
        fprintf(stderr, "pfedrl: %s; no output written\n", err.msg);
        pfr_sim_destroy(sim);
        return EXIT_RUN_FAILED;
    }
    pfr_metrics last;
    pfr_sim_metrics_get(sim, pfr_sim_metrics_count(sim) - 1, &last);
    printf("final value_error %.6g (best rank-%d: %.3g) after %llu agent-steps, %.3g agent-steps/s, %.2f s; wrote metrics.csv, summary.json, phi.npy in %s\n",
           last.value_error, cfg.dim, last.best_rank_d_error, (unsigned long long)last.agent_steps,
           last.agent_steps_per_sec, last.wall_s, out_dir);
    pfr_sim_destroy(sim);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_BAD_INPUT;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("pfedrl %s\n", pfr_version());
        return 0;
    }
    if (strcmp(cmd, "info") == 0)
        return cmd_info();
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 2, argv + 2);
    if (strcmp(cmd, "export") == 0)
        return cmd_export(argc - 2, argv + 2);
    fprintf(stderr, "pfedrl: unknown command '%s'; allowed: run, export, info, --help, --version\n", cmd);
    return EXIT_BAD_INPUT;
}
