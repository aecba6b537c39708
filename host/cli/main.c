/*
 * main.c — the `pfedrl` command line: its commands (run, resume, export, bench, info, help), options
 * parsed with getopt_long, help texts. Exit codes: 0 success, 1 the run failed, 2 bad usage,
 * config or input file, 128 + signal when a run was stopped by a signal (its outputs so far and a
 * checkpoint written).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "dist.h"
#include "output.h"
#include "pfedrl/pfedrl.h"
#include "progress.h"
#include "run.h"

/* ---- help ---------------------------------------------------------------------------------------- */
static const char *const SUMMARY =
    "usage:\n"
    "  pfedrl run CONFIG.yaml [-s K=V]... [-o DIR]     run a config\n"
    "  pfedrl resume DIR [-r ROUNDS]                   go on from DIR/checkpoint.pfr\n"
    "  pfedrl export CONFIG.yaml [-s K=V]... [-o DIR]  write the environment as .npy\n"
    "  pfedrl bench [--backend B] [--json FILE]        time the standard points here\n"
    "  pfedrl info                                     engines and devices found\n"
    "  pfedrl help [COMMAND] | COMMAND --help | --version\n";

static void help_keys(FILE *f)
{
    fputs("\nconfig keys (YAML; nested mappings give the dotted names; each also settable with --set):\n", f);
    for (size_t i = 0; i < pfr_config_key_count(); ++i) {
        char v[64], allowed[256];
        pfr_config_key_default(i, v, sizeof v);
        pfr_config_key_allowed(i, allowed, sizeof allowed);
        const char *name = pfr_config_key_name(i);
        if (strlen(name) > 20) /* the description keeps its column */
            fprintf(f, "  %s\n  %-20s %s\n", name, "", pfr_config_key_help(i));
        else
            fprintf(f, "  %-20s %s\n", name, pfr_config_key_help(i));
        fprintf(f, "  %-20s   default: %s; allowed: %s\n", "", v[0] ? v : "none", allowed);
    }
}

/* Characters (not bytes) of UTF-8 text s[0, n). */
static size_t columns(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; ++i)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* text with every line cut at a space to fit 80 columns, continued under the line's description
 * column (after its first gap of two or more spaces, within 40 columns) or else its indent. */
static void put_fitted(FILE *f, const char *text)
{
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        size_t lead = 0, col = 0;
        while (lead < n && line[lead] == ' ')
            ++lead;
        for (size_t i = lead; i + 2 < n && !col; ++i)
            if (line[i] != ' ' && line[i + 1] == ' ' && line[i + 2] == ' ') {
                size_t j = i + 1;
                while (j < n && line[j] == ' ')
                    ++j;
                col = j <= 40 ? j : lead;
            }
        col = col ? col : lead;
        size_t indent = 0;
        while (columns(line, n) + indent > 80) {
            size_t cut = 0; /* the last space at which the piece fits */
            for (size_t i = 1; i < n && columns(line, i) + indent <= 80; ++i)
                if (line[i] == ' ' && line[i - 1] != ' ' && i > col)
                    cut = i;
            if (!cut)
                break; /* one word wider than the room: left as it is */
            fprintf(f, "%*s%.*s\n", (int)indent, "", (int)cut, line);
            while (cut < n && line[cut] == ' ')
                ++cut;
            line += cut;
            n -= cut;
            indent = col;
        }
        fprintf(f, "%*s%.*s\n", (int)indent, "", (int)n, line);
        line += n + (end ? 1 : 0);
    }
}

static void help_text(FILE *f, const char *cmd)
{
    fprintf(f, "pfedrl %s — personalized federated RL with shared representations, at scale\n\n",
            pfr_version());
    if (cmd && strcmp(cmd, "run") == 0) {
        fputs("usage: pfedrl run CONFIG.yaml [options]\n\n"
              "Runs CONFIG (with the --set changes, applied in order after it) and writes\n"
              "into DIR:\n"
              "  metrics.csv          one row per evaluation, appended as the run goes\n"
              "                       (round 0, every eval_every rounds, the last)\n"
              "  metrics_by_type.csv  each environment type's value error at each evaluation\n"
              "  summary.json         final metrics, status, set-up facts, the resolved config\n"
              "  config.yaml          the resolved config: `pfedrl run DIR/config.yaml`\n"
              "                       repeats the run\n"
              "  phi.npy, theta.npy   the shared Phi [S, d] and every theta_i [N, d]\n"
              "  checkpoint.pfr       the run's state: `pfedrl resume DIR --rounds R` goes on\n"
              "The final files appear together when the run ends; a failed run leaves\n"
              "nothing new (a diverged one: its metrics and summary.json, status failed).\n"
              "A DIR that holds an earlier run is refused (resume it, or\n"
              "--force to replace it). Ctrl-C (SIGINT) or SIGTERM stops at the end of the\n"
              "round and writes the outputs so far and a checkpoint (exit 130 or 143); a\n"
              "second one stops at once.\n\n"
              "options:\n"
              "  -s, --set KEY=VALUE   change a config key (repeatable)\n"
              "  -o, --out DIR         output directory (default ./pfedrl-out; made if missing)\n"
              "      --force           replace the results of an earlier run in DIR\n"
              "  -b, --backend B       auto, cpu or cuda (the key `backend`)\n"
              "  -t, --threads N       CPU engine threads, 0 = all cores (the key `threads`)\n"
              "  -q, --quiet           no progress display\n"
              "      --theta           write theta.npy whatever its size\n"
              "      --no-theta        never write theta.npy (default: up to 1 GiB)\n"
              "      --no-checkpoint   no checkpoint.pfr at the end (one is written if stopped)\n"
              "  -h, --help            this text\n",
              f);
        help_keys(f);
    } else if (cmd && strcmp(cmd, "resume") == 0) {
        fputs("usage: pfedrl resume DIR [options]\n\n"
              "Goes on with the run in DIR from DIR/checkpoint.pfr, to the config's `rounds`\n"
              "in total (or --rounds), as if it had never stopped: the same Phi, theta,\n"
              "states and metrics, bit for bit. Only what does not change the results may\n"
              "change: rounds, threads, backend, eval_every, checkpoint_every, cpu_kernel,\n"
              "cuda_kernel, cuda_graph, cuda_max_chunk.\n\n"
              "options:\n"
              "  -r, --rounds R        rounds in total (more than the checkpoint's)\n"
              "  -s, --set KEY=VALUE   change one of the keys above (repeatable)\n"
              "  -b, --backend B       auto, cpu or cuda\n"
              "  -t, --threads N       CPU engine threads, 0 = all cores\n"
              "  -q, --quiet           no progress display\n"
              "      --theta, --no-theta, --no-checkpoint   as for run\n"
              "  -h, --help            this text\n",
              f);
    } else if (cmd && strcmp(cmd, "export") == 0) {
        fputs("usage: pfedrl export CONFIG.yaml [options]\n\n"
              "Writes the environment of CONFIG into DIR (default ./pfedrl-env): V.npy and\n"
              "mu.npy [M, S] (values and stationary distributions), singular_values.npy (of\n"
              "the types' values), the chains as sparse rows (P_shape, P_indptr, P_indices,\n"
              "P_data, R_data .npy; a config reads them back with env.kind: file and\n"
              "env.dir: DIR) and, up to 1 GiB and without control, dense P.npy and R.npy\n"
              "[M, S, S] (env.p_file and env.r_file read those).\n\n"
              "options:\n"
              "  -s, --set KEY=VALUE   change a config key (repeatable)\n"
              "  -o, --out DIR         output directory\n"
              "  -q, --quiet           print nothing but errors\n"
              "  -h, --help            this text\n",
              f);
    } else if (cmd && strcmp(cmd, "bench") == 0) {
        pfr_cli_bench_help(f);
    } else {
        fputs(SUMMARY, f);
        fputs("\n`pfedrl help run` (or `pfedrl run --help`) explains a run's options and files.\n", f);
        help_keys(f);
    }
}

/* The help of cmd (NULL: the summary) into f, fitted to 80 columns. */
static void help(FILE *f, const char *cmd)
{
    char *text = NULL;
    size_t size = 0;
    FILE *m = open_memstream(&text, &size);
    if (!m) {
        help_text(f, cmd);
        return;
    }
    help_text(m, cmd);
    fclose(m);
    put_fitted(f, text);
    free(text);
}

/* ---- options ------------------------------------------------------------------------------------- */
enum { OPT_THETA = 1000, OPT_NO_THETA, OPT_NO_CHECKPOINT, OPT_FORCE };

typedef struct opts {
    const char *arg;      /* CONFIG.yaml or DIR */
    const char *out;
    const char *sets[256]; /* key=value, in the order given (--backend and --threads too) */
    char owned[256][64];   /* text of the ones built here */
    int nsets, quiet, theta, checkpoint, force;
} opts;

static int add_set(opts *o, const char *cmd, const char *key, const char *value)
{
    if (o->nsets >= 256) {
        fprintf(stderr, "pfedrl %s: more than 256 settings\n", cmd);
        return 0;
    }
    if (key) {
        snprintf(o->owned[o->nsets], sizeof o->owned[0], "%s=%s", key, value);
        o->sets[o->nsets] = o->owned[o->nsets];
    } else {
        o->sets[o->nsets] = value;
    }
    o->nsets++;
    return 1;
}

/* Parse a command's options; 0, or the exit code to leave with (the message printed). -1: help
 * was asked for and printed. */
static int parse(const char *cmd, int argc, char **argv, opts *o)
{
    static const struct option longs[] = {
        {"set", required_argument, NULL, 's'},      {"out", required_argument, NULL, 'o'},
        {"backend", required_argument, NULL, 'b'},  {"threads", required_argument, NULL, 't'},
        {"rounds", required_argument, NULL, 'r'},   {"quiet", no_argument, NULL, 'q'},
        {"theta", no_argument, NULL, OPT_THETA},    {"no-theta", no_argument, NULL, OPT_NO_THETA},
        {"no-checkpoint", no_argument, NULL, OPT_NO_CHECKPOINT}, {"help", no_argument, NULL, 'h'},
        {"force", no_argument, NULL, OPT_FORCE},    {NULL, 0, NULL, 0}};
    const int is_run = strcmp(cmd, "run") == 0, is_resume = strcmp(cmd, "resume") == 0;
    memset(o, 0, sizeof *o);
    o->theta = -1;
    o->checkpoint = 1;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":s:o:b:t:r:qh", longs, NULL)) != -1) {
        const int run_like = is_run || is_resume;
        switch (c) {
        case 's':
            if (!add_set(o, cmd, NULL, optarg))
                return PFR_EXIT_BAD_INPUT;
            break;
        case 'o':
            if (is_resume)
                goto not_here;
            o->out = optarg;
            break;
        case 'b':
        case 't':
            if (!run_like)
                goto not_here;
            if (!add_set(o, cmd, c == 'b' ? "backend" : "threads", optarg))
                return PFR_EXIT_BAD_INPUT;
            break;
        case 'r':
            if (!is_resume)
                goto not_here;
            if (!add_set(o, cmd, "rounds", optarg))
                return PFR_EXIT_BAD_INPUT;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case OPT_THETA:
        case OPT_NO_THETA:
        case OPT_NO_CHECKPOINT:
            if (!run_like)
                goto not_here;
            if (c == OPT_NO_CHECKPOINT)
                o->checkpoint = 0;
            else
                o->theta = c == OPT_THETA;
            break;
        case OPT_FORCE:
            if (!is_run)
                goto not_here;
            o->force = 1;
            break;
        case 'h':
            help(stdout, cmd);
            return -1;
        case ':':
            fprintf(stderr, "pfedrl %s: %s needs a value; see pfedrl %s --help\n", cmd, argv[optind - 1], cmd);
            return PFR_EXIT_BAD_INPUT;
        default:
            fprintf(stderr, "pfedrl %s: unknown option '%s'; see pfedrl %s --help\n", cmd, argv[optind - 1], cmd);
            return PFR_EXIT_BAD_INPUT;
        }
        continue;
    not_here:
        for (int i = 0; longs[i].name; ++i)
            if (longs[i].val == c)
                fprintf(stderr, "pfedrl %s: option '--%s' does not apply to %s; see pfedrl %s --help\n", cmd,
                        longs[i].name, cmd, cmd);
        return PFR_EXIT_BAD_INPUT;
    }
    if (optind >= argc) {
        fprintf(stderr, "pfedrl %s: no %s given; usage: pfedrl %s %s [options]\n", cmd,
                is_resume ? "directory" : "config file", cmd, is_resume ? "DIR" : "CONFIG.yaml");
        return PFR_EXIT_BAD_INPUT;
    }
    if (optind + 1 < argc) {
        fprintf(stderr, "pfedrl %s: more than one %s given ('%s' and '%s')\n", cmd, is_resume ? "directory" : "config file",
                argv[optind], argv[optind + 1]);
        return PFR_EXIT_BAD_INPUT;
    }
    o->arg = argv[optind];
    return 0;
}

/* `-s env.kind=K` switches the family the file chose: the file's settings that only the old family
 * reads go back to their defaults, with a note (else the config would be refused for keys that do
 * nothing with K). Later --set values still apply. */
static void drop_other_family_keys(pfr_config *cfg, const char *before)
{
    char now[64] = "", dropped[512] = "";
    pfr_error err = {{0}};
    pfr_config_get(cfg, "env.kind", now, sizeof now, &err);
    if (strcmp(now, before) == 0)
        return;
    for (size_t i = 0; i < pfr_config_key_count(); ++i) {
        char v[64], d[64];
        pfr_config_key_value(cfg, i, v, sizeof v);
        pfr_config_key_default(i, d, sizeof d);
        if (pfr_config_key_applies(cfg, i) || strcmp(v, d) == 0)
            continue;
        pfr_config_set(cfg, pfr_config_key_name(i), d, &err);
        const size_t used = strlen(dropped);
        snprintf(dropped + used, sizeof dropped - used, "%s%s=%s", used ? ", " : "", pfr_config_key_name(i), v);
    }
    if (dropped[0])
        fprintf(stderr, "pfedrl: note: env.kind %s -> %s: left out the settings %s does not read (%s)\n", before, now,
                now, dropped);
}

/* The config: the file, then every --set in order, into *cfg (created here; the caller destroys it,
 * also on failure). 0 or the exit code (message printed). */
static int load_config(const opts *o, pfr_config **out)
{
    pfr_error err = {{0}};
    if (pfr_config_create(out, &err) != PFR_OK) {
        fprintf(stderr, "pfedrl: %s\n", err.msg);
        return PFR_EXIT_RUN_FAILED;
    }
    pfr_config *cfg = *out;
    if (pfr_config_load_yaml(cfg, o->arg, &err) != PFR_OK) {
        fprintf(stderr, "pfedrl: %s\n", err.msg);
        return PFR_EXIT_BAD_INPUT;
    }
    for (int i = 0; i < o->nsets; ++i) {
        const char *kv = o->sets[i], *eq = strchr(kv, '=');
        if (!eq || eq == kv) {
            fprintf(stderr, "pfedrl: --set '%s': expected key=value\n", kv);
            return PFR_EXIT_BAD_INPUT;
        }
        char key[256], before[64] = "";
        snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
        const int kind = strcmp(key, "env.kind") == 0;
        if (kind)
            pfr_config_get(cfg, "env.kind", before, sizeof before, &err);
        if (pfr_config_set(cfg, key, eq + 1, &err) != PFR_OK) {
            fprintf(stderr, "pfedrl: %s\n", err.msg);
            return PFR_EXIT_BAD_INPUT;
        }
        if (kind)
            drop_other_family_keys(cfg, before);
    }
    return 0;
}

/* ---- commands ------------------------------------------------------------------------------------ */
static int cmd_run(int argc, char **argv, int resume)
{
    opts o;
    int rc = parse(resume ? "resume" : "run", argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    pfr_config *cfg = NULL;
    if (!resume && (rc = load_config(&o, &cfg)) != 0) {
        pfr_config_destroy(cfg);
        return rc;
    }
    pfr_run_request q = {resume ? o.arg : (o.out ? o.out : "pfedrl-out"),
                         cfg,
                         resume,
                         resume ? o.sets : NULL,
                         resume ? (size_t)o.nsets : 0,
                         o.quiet,
                         o.theta,
                         o.checkpoint,
                         o.force};
    rc = pfr_cli_run(&q);
    pfr_config_destroy(cfg);
    return rc;
}

static int cmd_export(int argc, char **argv)
{
    opts o;
    int rc = parse("export", argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    pfr_config *cfg = NULL;
    pfr_error err = {{0}};
    /* only the environment is needed: one agent */
    if ((rc = load_config(&o, &cfg)) != 0 || pfr_config_set(cfg, "agents", "1", &err) != PFR_OK) {
        pfr_config_destroy(cfg);
        return rc ? rc : PFR_EXIT_RUN_FAILED;
    }
    const char *out_dir = o.out ? o.out : "pfedrl-env";
    pfr_progress bar;
    pfr_progress_init(&bar, o.quiet, 0, 0);
    pfr_rundir *dir = pfr_rundir_prepare(out_dir, &err);
    if (!dir) {
        fprintf(stderr, "pfedrl: %s\n", err.msg);
        pfr_config_destroy(cfg);
        return PFR_EXIT_BAD_INPUT;
    }
    pfr_sim *sim = NULL;
    pfr_status st = pfr_sim_create_ex(cfg, pfr_progress_setup, &bar, &sim, &err);
    pfr_config_destroy(cfg);
    pfr_progress_clear(&bar);
    int dense = 0;
    if (st != PFR_OK) {
        fprintf(stderr, "pfedrl: %s\n", err.msg);
        rc = st == PFR_ERR_NO_MEMORY || st == PFR_ERR_NUMERIC || st == PFR_ERR_INTERNAL ? PFR_EXIT_RUN_FAILED
                                                                                        : PFR_EXIT_BAD_INPUT;
    } else if (pfr_cli_write_env_npy(out_dir, sim, &dense, &err) != 0) {
        fprintf(stderr, "pfedrl: %s\n", err.msg);
        rc = PFR_EXIT_RUN_FAILED;
    }
    if (rc) {
        pfr_rundir_abandon(dir);
        pfr_rundir_free(dir);
        pfr_sim_destroy(sim);
        return rc;
    }
    pfr_rundir_free(dir);
    const int S = pfr_sim_num_states(sim), M = pfr_sim_num_types(sim), A = pfr_sim_num_actions(sim);
    if (!dense && A > 1 && !o.quiet) /* control: not too large, but MDP rows that the dense form cannot hold */
        printf("pfedrl: with control the environment is %d MDPs of %d states and %d actions: written as sparse rows "
               "only (rows s A + a; V.npy holds Q* [M, S A])\n", M, S / A, A);
    else if (!dense)
        fprintf(stderr,
                "pfedrl: warning: P.npy and R.npy not written: dense [%d, %d, %d] arrays would take %.3g GB "
                "(at most %.3g GB are written)\n",
                M, S, S, 16.0 * M * (double)S * S / 1e9, PFR_CLI_DENSE_EXPORT_BYTES / 1e9);
    if (!o.quiet) {
        printf("wrote in %s: %sP_shape, P_indptr, P_indices, P_data, R_data (sparse rows), V, mu, singular_values .npy\n"
               "  (%s)\n",
               out_dir, dense ? "P, R (dense), " : "", pfr_sim_env_description(sim));
        double sv[8];
        const int n = pfr_sim_type_singular_values(sim, sv, 8);
        printf("singular values of the types' values (mu-weighted, normalized):");
        for (int i = 0; i < n && i < 8; ++i)
            printf(" %.3g", sv[i]);
        printf("%s\n", n > 8 ? " ..." : "");
    }
    pfr_sim_destroy(sim);
    return 0;
}

static int cmd_info(void)
{
    char buf[8192];
    printf("pfedrl %s\n", pfr_version());
    pfr_describe_engines(buf, sizeof buf);
    fputs(buf, stdout);
    return 0;
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        help(stderr, NULL);
        return PFR_EXIT_BAD_INPUT;
    }
    const char *cmd = argv[1];
    const int run_like = strcmp(cmd, "run") == 0 || strcmp(cmd, "resume") == 0;
    if (pfr_dist_size() > 1 && !run_like) {
        if (pfr_dist_rank() == 0)
            fprintf(stderr, "pfedrl %s: started as %d MPI ranks; allowed over ranks: run and resume (this command "
                            "runs as one process)\n", cmd, pfr_dist_size());
        return PFR_EXIT_BAD_INPUT;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        help(stdout, argc > 2 ? argv[2] : NULL);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("pfedrl %s\n", pfr_version());
        return 0;
    }
    if (strcmp(cmd, "info") == 0)
        return cmd_info();
    if (run_like)
        return cmd_run(argc - 1, argv + 1, strcmp(cmd, "resume") == 0);
    if (strcmp(cmd, "export") == 0)
        return cmd_export(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0)
        return pfr_cli_bench(argc - 1, argv + 1);
    fprintf(stderr, "pfedrl: unknown command '%s'; allowed: run, resume, export, bench, info, help, --version\n", cmd);
    return PFR_EXIT_BAD_INPUT;
}

int main(int argc, char **argv)
{
    /* started by mpirun: MPI first (docs/DESIGN.md §13); any other start runs as one process */
    pfr_error err = {{0}};
    if (pfr_dist_start(&argc, &argv, &err) != PFR_OK) {
        if (pfr_dist_launcher_rank(NULL) == 0)
            fprintf(stderr, "pfedrl: %s\n", err.msg);
        pfr_dist_stop();
        return PFR_EXIT_BAD_INPUT;
    }
    /* over ranks, rank 0 speaks for all: a failure on another rank reaches it with that rank's
     * message at the next agreement (run.c), so the others' own output would only repeat it */
    if (pfr_dist_rank() != 0 && (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)))
        return PFR_EXIT_RUN_FAILED;
    const int rc = dispatch(argc, argv);
    pfr_dist_stop();
    return rc;
}
