/* progress.h — what the command shows while it works: set-up stages and a progress line, each
 * redrawn in place on a terminal and never wider than it; plain lines otherwise. */
#ifndef PFR_CLI_PROGRESS_H
#define PFR_CLI_PROGRESS_H

#include <stdint.h>

#include "pfedrl/pfedrl.h"

typedef struct pfr_progress {
    int tty, quiet;
    int64_t total;          /* the round the run ends at */
    int64_t first;          /* the round it started from (a resumed run) */
    double t0, last_draw, last_error, last_return; /* last_return: the neural instance's (NaN: none) */
    int drawn;              /* a line is on the terminal that the next output must clear */
    char stage[40];         /* not a terminal: the set-up stage under way, since stage_t0 */
    double stage_t0, last_line;
} pfr_progress;

void pfr_progress_init(pfr_progress *p, int quiet, int64_t first, int64_t total);
/* The terminal's width in columns (TIOCGWINSZ on stderr; 80 when unknown). */
int pfr_terminal_width(void);
/* pfr_setup_progress_fn: the set-up stage and its fraction. */
void pfr_progress_setup(void *user, const char *stage, double fraction);
/* After each round (m NULL) and each evaluation. */
void pfr_progress_round(pfr_progress *p, const pfr_sim *sim, int64_t round, const pfr_metrics *m);
/* Clear a line left on the terminal (before a message or at the end). */
void pfr_progress_clear(pfr_progress *p);
/* Fit text into width - 1 columns (cut, counting UTF-8 characters as one). */
void pfr_fit_line(char *text, int width);

#endif
