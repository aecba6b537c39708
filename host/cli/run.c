/*
 * run.c — a run from start to end, for `pfedrl run` and `pfedrl resume` (run.h): the output
 * directory proved writable before set-up, set-up, the rounds with live metrics and checkpoints,
 * SIGINT/SIGTERM, and the final files all together or not at all.
 *
 * Signals: during set-up the first one removes the directories this run made and ends the process
 * as the signal would; during the rounds the first one asks the run to stop at the end of the
 * round, after which a checkpoint and the outputs so far are written ("status": "interrupted") and
 * the command exits 128 + the signal (130 for SIGINT, 143 for SIGTERM); a second one ends the
 * process at once.
 *
 * Over MPI ranks (host/dist.h; `mpirun -np R pfedrl run ...`): every rank sets up and runs the
 * rounds; rank 0 alone owns the output directory, prints and writes. Whatever one rank finds (a
 * failed set-up, an unwritable file, a signal) all ranks agree on at the next collective, so they
 * all leave the same way, with the same exit code, and rank 0 names the failing rank.
 */
#include "run.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dist.h"
#include "engine.h"
#include "output.h"
#include "progress.h"

static pfr_sim *volatile g_sim;
static volatile sig_atomic_t g_signal, g_in_setup;

/* Said from the handler with write(2) (async-signal-safe); rank 0's stderr only over MPI ranks. */
static void say(const char *msg)
{
    ssize_t unused = write(STDERR_FILENO, msg, strlen(msg));
    (void)unused;
}

static void on_signal(int sig)
{
    if (g_signal || g_in_setup) {
        say(g_in_setup ? "\npfedrl: interrupted during set-up; nothing written, the output directory as it was\n"
                       : "\npfedrl: stopped at once by a second signal; the final outputs not written (the next "
                         "start in the directory puts back the earlier results)\n");
        if (g_in_setup)
            pfr_rundir_signal_cleanup();
        _exit(128 + sig); /* what a shell reports for a signal (the interrupted run's code, too) */
    }
    g_signal = sig;
    if (g_sim)
        pfr_sim_request_stop(g_sim);
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* The exit code of a failed set-up: bad input (2) or a failure of the run (1). */
static int setup_exit_code(pfr_status st)
{
    return st == PFR_ERR_CONFIG || st == PFR_ERR_FORMAT || st == PFR_ERR_IO || st == PFR_ERR_NO_DEVICE ||
                   st == PFR_ERR_TOO_LARGE || st == PFR_ERR_DEVICE_MEMORY || st == PFR_ERR_INVALID_ARGUMENT
               ? PFR_EXIT_BAD_INPUT
               : PFR_EXIT_RUN_FAILED;
}

typedef struct watch {
    pfr_progress bar;
    pfr_rundir *dir;
    pfr_error err;
    int write_failed;
} watch;

static void on_round(void *user, const pfr_sim *sim, int64_t round, const pfr_metrics *m)
{
    watch *w = user;
    if (m && !w->write_failed && pfr_rundir_row(w->dir, sim, &w->err) != 0) {
        w->write_failed = 1; /* stop: the outputs cannot be written */
        pfr_sim_request_stop((pfr_sim *)sim);
    }
    pfr_progress_round(&w->bar, sim, round, m);
}

static void print_warnings(const pfr_sim *sim)
{
    for (const char *wn = pfr_sim_warnings(sim); *wn;) { /* one line each */
        const char *nl = strchr(wn, '\n');
        const int len = nl ? (int)(nl - wn) : (int)strlen(wn);
        fprintf(stderr, "pfedrl: warning: %.*s\n", len, wn);
        wn += len + (nl ? 1 : 0);
    }
}

/* Every rank leaves with rank 0's verdict on a step only it does (0 or an exit code), or the first
 * failing rank's status (st): the message printed by rank 0. */
static int agree_exit(int code, pfr_status st, pfr_error *err, int bad_code)
{
    if (pfr_dist_size() == 1)
        return code;
    pfr_status all = pfr_dist_agree(code ? (st != PFR_OK ? st : PFR_ERR_IO) : PFR_OK, err);
    int v = code;
    pfr_dist_max_int(&v, 1, err);
    if (all != PFR_OK && code == 0 && pfr_dist_rank() == 0)
        fprintf(stderr, "pfedrl: %s\n", err->msg);
    return all != PFR_OK && v == 0 ? bad_code : v;
}

/* A diverged new run's record (see pfr_cli_run): 0 when written (sim destroyed, dir freed), else -1
 * (the caller abandons as for any failure). Over MPI ranks every rank agrees first. */
static int keep_failed(watch *w, pfr_sim *sim, const pfr_run_request *q, int64_t target)
{
    const int lead = pfr_dist_rank() == 0;
    char why[1024];
    snprintf(why, sizeof why, "%s", pfr_sim_last_error(sim));
    pfr_final fin = {"failed", target, 0, 0, why};
    pfr_error err = {{0}};
    int bad = lead && pfr_rundir_finish(w->dir, sim, &fin, &err) != 0;
    if (agree_exit(bad ? PFR_EXIT_RUN_FAILED : 0, PFR_ERR_IO, &err, PFR_EXIT_RUN_FAILED) != 0) {
        if (lead && bad)
            fprintf(stderr, "pfedrl: %s\n", err.msg);
        return -1;
    }
    if (lead)
        fprintf(stderr, "pfedrl: run failed: %s; its metrics.csv and summary.json (\"status\": \"failed\") are in %s\n",
                why, q->out_dir);
    pfr_rundir_free(w->dir);
    pfr_sim_destroy(sim);
    return 0;
}

int pfr_cli_run(const pfr_run_request *q)
{
    pfr_error err = {{0}};
    watch w;
    memset(&w, 0, sizeof w);
    const int lead = pfr_dist_rank() == 0; /* rank 0 (the only one, in one process) owns the outputs */
    pfr_progress_init(&w.bar, q->quiet || !lead, 0, 0);
    w.dir = lead ? pfr_rundir_prepare(q->out_dir, &err) : NULL;
    if (lead && !w.dir)
        fprintf(stderr, "pfedrl: %s\n", err.msg);
    if (lead && pfr_rundir_recovered(w.dir))
        fprintf(stderr, "pfedrl: note: a run in %s was stopped before it finished (killed?); the results it had set "
                        "aside (%s) were restored\n", q->out_dir, pfr_rundir_recovered(w.dir));
    int rc = agree_exit(lead && !w.dir ? PFR_EXIT_BAD_INPUT : 0, PFR_ERR_IO, &err, PFR_EXIT_BAD_INPUT);
    if (rc) {
        pfr_rundir_free(w.dir);
        return rc;
    }
    /* a new run into a folder that holds an earlier one: refused unless --force (nothing changed) */
    char earlier[200];
    rc = !q->resume && !q->force && lead && pfr_rundir_earlier_results(w.dir, earlier, sizeof earlier) > 0;
    if (rc)
        fprintf(stderr, "pfedrl run: %s holds the results of an earlier run (%s); nothing was changed. Allowed: "
                        "another --out, `pfedrl resume %s` to go on with that run, or --force to replace it\n",
                q->out_dir, earlier, q->out_dir);
    if ((rc = agree_exit(rc ? PFR_EXIT_BAD_INPUT : 0, PFR_ERR_CONFIG, &err, PFR_EXIT_BAD_INPUT)) != 0) {
        pfr_rundir_free(w.dir);
        return rc;
    }
    /* a resume: a config.yaml edited since the run wrote it is refused before the set-up */
    rc = q->resume && lead ? pfr_cli_check_resume_config(q, 1) : 0;
    if ((rc = agree_exit(rc, PFR_ERR_CONFIG, &err, PFR_EXIT_BAD_INPUT)) != 0) {
        pfr_rundir_free(w.dir);
        return rc;
    }
    g_in_setup = 1;
    catch_signals();
    pfr_sim *sim = NULL;
    char ckpt[4300];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.pfr", q->out_dir);
    pfr_status st = q->resume ? pfr_sim_load(ckpt, q->overrides, q->noverrides, pfr_progress_setup, &w.bar, &sim, &err)
                              : pfr_sim_create_ex(q->cfg, pfr_progress_setup, &w.bar, &sim, &err);
    pfr_progress_clear(&w.bar);
    if (pfr_dist_size() > 1) /* every rank's set-up: the first failure is everybody's */
        st = pfr_dist_agree(st, &err);
    if (st != PFR_OK) {
        if (lead)
            fprintf(stderr, "pfedrl: %s\n", err.msg);
        if (lead)
            pfr_rundir_abandon(w.dir);
        pfr_rundir_free(w.dir);
        pfr_sim_destroy(sim);
        return setup_exit_code(st);
    }
    const pfr_config *cfg = pfr_sim_config(sim);
    const int64_t from = pfr_sim_round(sim), target = pfr_cli_config_int(cfg, "rounds");
    if (q->resume && from >= target) {
        if (lead)
            fprintf(stderr, "pfedrl resume: the run in %s is at round %lld and was asked for %lld; allowed: --rounds "
                            "above %lld to go on\n", q->out_dir, (long long)from, (long long)target, (long long)from);
        pfr_sim_destroy(sim);
        pfr_rundir_free(w.dir);
        return PFR_EXIT_BAD_INPUT;
    }
    if (lead)
        print_warnings(sim);
    int start_failed = lead && pfr_rundir_start(w.dir, sim, q->resume, &err) != 0;
    if (start_failed)
        fprintf(stderr, "pfedrl: %s\n", err.msg);
    if ((rc = agree_exit(start_failed ? PFR_EXIT_BAD_INPUT : 0, PFR_ERR_IO, &err, PFR_EXIT_BAD_INPUT)) != 0) {
        if (lead)
            pfr_rundir_abandon(w.dir);
        pfr_rundir_free(w.dir);
        pfr_sim_destroy(sim);
        return rc;
    }
    g_sim = sim;
    g_in_setup = 0;
    if (pfr_cli_config_int(cfg, "checkpoint_every") > 0)
        pfr_sim_set_checkpoint(sim, ckpt);
    pfr_progress_init(&w.bar, q->quiet || !lead, from, target);
    if (lead)
        pfr_sim_set_progress(sim, on_round, &w);

    st = pfr_sim_run(sim, target - from);
    g_sim = NULL;
    pfr_progress_clear(&w.bar);
    if (pfr_dist_size() > 1) { /* rank 0's write failure and any rank's signal, for all */
        int flags[2] = {w.write_failed, (int)g_signal};
        pfr_error derr;
        pfr_dist_max_int(flags, 2, &derr);
        w.write_failed = flags[0];
        g_signal = flags[1];
    }
    const int interrupted = st == PFR_ERR_INTERRUPTED && !w.write_failed;
    /* a new run that diverged keeps its metrics and a summary ("failed") to look at: no checkpoint,
     * no Phi or theta (not finite); a resume that diverged leaves the folder as it was */
    if (st == PFR_ERR_NUMERIC && !w.write_failed && !q->resume && keep_failed(&w, sim, q, target) == 0)
        return PFR_EXIT_RUN_FAILED;
    if (st != PFR_OK && !interrupted) {
        if (lead)
            fprintf(stderr, "pfedrl: run failed: %s; no output written\n",
                    w.write_failed ? w.err.msg : pfr_sim_last_error(sim));
        if (lead)
            pfr_rundir_abandon(w.dir);
        pfr_rundir_free(w.dir);
        pfr_sim_destroy(sim);
        return PFR_EXIT_RUN_FAILED;
    }
    if (lead && st == PFR_OK && pfr_sim_round(sim) > from && sim->agent_steps == 0) /* e.g. tiny participation */
        fprintf(stderr, "pfedrl: warning: no agent took part in any of the %lld rounds: Phi and every theta are where "
                        "they started (participation, federation.*)\n", (long long)pfr_sim_round(sim));
    /* over MPI ranks: every rank's agents into the host arrays (a collective), for rank 0's files */
    st = pfr_sim_gather(sim);
    if (getenv("PFEDRL_TEST_SUMS_DIGEST")) { /* tests: the sums themselves, bit for bit (a collective) */
        const unsigned long long h = (unsigned long long)pfr_engine_cpu_sums_digest(sim);
        if (lead)
            fprintf(stderr, "pfedrl: sums digest %016llx\n", h);
    }
    const int64_t dim = pfr_cli_config_int(cfg, "dim");
    const double theta_bytes = 4.0 * (double)pfr_cli_config_int(cfg, "agents") * (double)dim;
    pfr_final fin = {interrupted ? "interrupted" : "completed", target,
                     q->theta > 0 || (q->theta < 0 && theta_bytes <= PFR_CLI_THETA_AUTO_BYTES),
                     interrupted || q->checkpoint, NULL};
    if (lead && q->theta < 0 && !fin.theta)
        fprintf(stderr, "pfedrl: note: theta.npy not written: %.3g GB (above %.3g GB; ask with --theta)\n",
                theta_bytes / 1e9, PFR_CLI_THETA_AUTO_BYTES / 1e9);
    if (st != PFR_OK)
        snprintf(err.msg, sizeof err.msg, "%s", pfr_sim_last_error(sim));
    const int finish_failed = st != PFR_OK || (lead && pfr_rundir_finish(w.dir, sim, &fin, &err) != 0);
    if (lead && finish_failed)
        fprintf(stderr, "pfedrl: %s; no output written\n", err.msg);
    if ((rc = agree_exit(finish_failed ? PFR_EXIT_RUN_FAILED : 0, st, &err, PFR_EXIT_RUN_FAILED)) != 0) {
        if (lead)
            pfr_rundir_abandon(w.dir);
        pfr_rundir_free(w.dir);
        pfr_sim_destroy(sim);
        return rc;
    }
    pfr_rundir_free(w.dir);
    pfr_metrics last;
    pfr_sim_metrics_get(sim, pfr_sim_metrics_count(sim) - 1, &last, sizeof last);
    if (!lead) {
    } else if (interrupted) {
        fprintf(stderr, "pfedrl: stopped at round %lld of %lld (signal %d); wrote the outputs so far and a "
                        "checkpoint in %s: `pfedrl resume %s` goes on\n",
                (long long)pfr_sim_round(sim), (long long)target, (int)g_signal, q->out_dir, q->out_dir);
    } else {
        /* the best a shared rank-d Phi could reach, beside the error; not for the tabular learners,
         * whose "Phi" is the table itself (d = 1, and no bound to compare with) */
        char alg[64] = "", best[64] = "";
        pfr_config_get(cfg, "algorithm", alg, sizeof alg, NULL);
        const size_t n = strlen(alg);
        if (!(n > 8 && strcmp(alg + n - 8, "_tabular") == 0))
            snprintf(best, sizeof best, " (best rank-%d: %.3g)", (int)dim, last.best_rank_d_error);
        if (!isnan(last.greedy_return)) /* the neural instance: how well the greedy policies do */
            printf("final return %.4g (held out %.4g), success_rate %.3g", last.greedy_return, last.heldout_return,
                   last.success_rate);
        else if (!isnan(last.policy_gap)) /* control: the error of Q, and how good the greedy policies are */
            printf("final q_error %.6g, policy_gap %.4g%s", last.value_error, last.policy_gap, best);
        else
            printf("final value_error %.6g%s", last.value_error, best);
        printf(" after %llu agent-steps, %.3g agent-steps/s, %.2f s; results in %s\n",
               (unsigned long long)last.agent_steps, last.agent_steps_per_sec, last.wall_s, q->out_dir);
    }
    pfr_sim_destroy(sim);
    return interrupted ? 128 + (g_signal ? (int)g_signal : SIGINT) : 0;
}
