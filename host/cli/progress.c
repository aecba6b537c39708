/*
 * progress.c — the set-up line and the progress line (progress.h). On a terminal a line is drawn
 * with "\r", cut to the terminal's width less one column (a line as wide as the terminal wraps on
 * some terminals, and every redraw would scroll), and ended with "erase to end of line"; redrawn at
 * most ten times a second. Elsewhere one plain line per evaluation, and for a set-up that takes a
 * while a log of where its time went: each stage that took a second or more, the progress of a
 * stage every ten seconds, and the total.
 */
#include "progress.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int pfr_terminal_width(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

void pfr_progress_init(pfr_progress *p, int quiet, int64_t first, int64_t total)
{
    memset(p, 0, sizeof *p);
    p->tty = isatty(STDERR_FILENO);
    p->quiet = quiet;
    p->first = first;
    p->total = total;
    p->t0 = now();
    p->last_error = -1.0;
    p->last_return = NAN;
}

void pfr_fit_line(char *text, int width)
{
    int cols = 0;
    for (char *c = text; *c; ++c) {
        if (((unsigned char)*c & 0xC0) != 0x80 && ++cols > width - 1) { /* a character starts here */
            *c = '\0';
            return;
        }
    }
}

static void draw(pfr_progress *p, char *line)
{
    pfr_fit_line(line, pfr_terminal_width());
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    p->drawn = 1;
}

void pfr_progress_clear(pfr_progress *p)
{
    if (p->tty && p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->drawn = 0;
    }
}

/* Not a terminal: plain lines, only for what took time (a quick set-up prints nothing). */
static void setup_log(pfr_progress *p, const char *stage, double fraction, double t)
{
    if (strcmp(stage, p->stage) != 0) {
        if (p->stage[0] && t - p->stage_t0 >= 1.0)
            fprintf(stderr, "set-up: %s took %.1f s\n", p->stage, t - p->stage_t0);
        if (strcmp(stage, "ready") == 0 && t - p->t0 >= 1.0)
            fprintf(stderr, "set-up: done in %.1f s\n", t - p->t0);
        snprintf(p->stage, sizeof p->stage, "%s", stage);
        p->stage_t0 = p->last_line = t;
    } else if (t - p->last_line >= 10.0) {
        fprintf(stderr, "set-up: %s %.0f%% after %.1f s\n", stage, 100.0 * fraction, t - p->stage_t0);
        p->last_line = t;
    }
}

void pfr_progress_setup(void *user, const char *stage, double fraction)
{
    pfr_progress *p = user;
    const double t = now();
    if (!p->quiet && !p->tty) {
        setup_log(p, stage, fraction, t);
        return;
    }
    if (p->quiet || (t - p->last_draw < 0.2 && fraction < 1.0))
        return;
    p->last_draw = t;
    if (strcmp(stage, "ready") == 0) {
        pfr_progress_clear(p);
        return;
    }
    char line[256];
    snprintf(line, sizeof line, "setting up: %-22s %3.0f%%  %5.1f s", stage, 100.0 * fraction, t - p->t0);
    draw(p, line);
}

void pfr_progress_round(pfr_progress *p, const pfr_sim *sim, int64_t round, const pfr_metrics *m)
{
    if (p->quiet)
        return;
    if (m)
        p->last_error = isnan(m->greedy_return) ? m->value_error : -1.0, p->last_return = m->greedy_return;
    if (!p->tty) {
        if (m && !isnan(m->greedy_return)) /* the neural instance */
            fprintf(stderr, "round %lld/%lld  agent_steps %llu  return %.4g  success %.3g  heldout_return %.4g  "
                    "td_loss %.4g  %.3g agent-steps/s\n", (long long)round, (long long)p->total,
                    (unsigned long long)m->agent_steps, m->greedy_return, m->success_rate, m->heldout_return, m->td_loss,
                    m->agent_steps_per_sec);
        else if (m)
            fprintf(stderr, "round %lld/%lld  agent_steps %llu  value_error %.6g  td_fixed_point_error %.6g  %.3g agent-steps/s\n",
                    (long long)round, (long long)p->total, (unsigned long long)m->agent_steps, m->value_error,
                    m->td_fixed_point_error, m->agent_steps_per_sec);
        return;
    }
    const double t = now();
    if (t - p->last_draw < 0.1 && round < p->total && !m)
        return;
    p->last_draw = t;
    const double span = (double)(p->total - p->first), frac = span > 0 ? (double)(round - p->first) / span : 1.0;
    const double eta = frac > 0 ? (t - p->t0) * (1.0 - frac) / frac : 0.0;
    char text[200], err[32] = "", line[320];
    if (p->last_error >= 0)
        snprintf(err, sizeof err, "  error %.4g", p->last_error);
    else if (!isnan(p->last_return))
        snprintf(err, sizeof err, "  return %.4g", p->last_return);
    snprintf(text, sizeof text, " %lld/%lld rounds  %.3g steps/s%s  ETA %.0fs", (long long)round, (long long)p->total,
             pfr_sim_steps_per_sec(sim), err, eta);
    /* the bar takes what the text leaves, 10 to 30 columns, or none on a narrow terminal */
    int bar = pfr_terminal_width() - 1 - (int)strlen(text) - 2;
    bar = bar > 30 ? 30 : bar;
    if (bar >= 10) {
        char b[31];
        const int filled = (int)(frac * bar);
        for (int i = 0; i < bar; ++i)
            b[i] = i < filled ? '#' : '.';
        b[bar] = '\0';
        snprintf(line, sizeof line, "[%s]%s", b, text);
    } else {
        snprintf(line, sizeof line, "%s", text + 1);
    }
    draw(p, line);
    if (round >= p->total && m) {
        fputc('\n', stderr);
        p->drawn = 0;
    }
}
