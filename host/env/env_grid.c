/*
 * env_grid.c — the grid families: the cliff walk, and grid worlds with per-type goals, walls,
 * restart cells, slip and wind.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env_build.h"

/* ---- grids ---------------------------------------------------------------------------------- */
enum { UP, RIGHT, DOWN, LEFT };

static int grid_move(int W, int H, int s, int dir)
{
    int x = s % W, y = s / W; /* y = 0 is the bottom row */
    switch (dir) {
    case UP: y = y + 1 < H ? y + 1 : y; break;
    case RIGHT: x = x + 1 < W ? x + 1 : x; break;
    case DOWN: y = y > 0 ? y - 1 : y; break;
    default: x = x > 0 ? x - 1 : x; break;
    }
    return y * W + x;
}

/* Distribution over the direction actually moved, given the intended one: slip = uniform random
 * direction, wind = pushed in wind_dir, otherwise as intended. */
static void moved_dirs(int intended, double slip, double wind, int wind_dir, double out[4])
{
    for (int k = 0; k < 4; ++k)
        out[k] = slip / 4.0;
    out[wind_dir] += wind;
    out[intended] += 1.0 - slip - wind;
}

/* Rewards are the textbook -1 a step and -100 for the cliff, divided by 100: values of order 1 keep
 * the bilinear Phi-theta updates stable at ordinary step sizes (env.reward_scale multiplies them). */
/* The chance of each action at a state: the epsilon-soft policy around `greedy` (a chain), or only
 * action `act` (an MDP's row for that action). */
static void action_probs(int mdp, int act, int greedy, double epsilon, double pa[4])
{
    for (int a = 0; a < 4; ++a)
        pa[a] = mdp ? (a == act ? 1.0 : 0.0) : epsilon / 4.0 + (a == greedy ? 1.0 - epsilon : 0.0);
}

/* four moves and the restart a row */
double pfr_cliffwalk_entries(const pfr_env_config *c, double M, double S, double *extra)
{
    (void)c;
    *extra = 0.0;
    return M * S * 5.0;
}

pfr_status pfr_build_cliffwalk(const pfr_env_config *c, int M, int mdp, pfr_env *env, pfr_error *err)
{
    int W, H;
    pfr_env_grid_size(c, &W, &H);
    if (W < 3 || H < 2)
        return pfr_fail(err, PFR_ERR_CONFIG, "env.width=%d, env.height=%d: cliffwalk needs width >= 3 and height >= 2", W, H);
    const int S = W * H, start = 0, goal = W - 1, A = mdp ? 4 : 1;
    pfr_builder b;
    if (pfr_builder_init_mdp(&b, S, A, M) != PFR_OK) {
        pfr_builder_free(&b);
        return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory building cliffwalk");
    }
    for (int m = 0; m < M; ++m) {
        double f = pfr_type_frac(m, M);
        double slip = c->slip_min + f * (c->slip_max - c->slip_min);
        double wind = c->wind_min + f * (c->wind_max - c->wind_min);
        double scale = c->reward_scale * (1.0 + c->reward_spread * (2.0 * f - 1.0));
        for (int s = 0; s < S; ++s)
            for (int act = 0; act < A; ++act) {
                int x = s % W, y = s / W;
                int is_cliff = y == 0 && x > 0 && x < W - 1;
                if (s == goal || is_cliff) { /* the episode restarts, whatever the action: continuing */
                    pfr_row_add(&b, start, 1.0, 0.0);
                } else {
                    int greedy = (y == 0) ? UP : (x < W - 1 ? RIGHT : DOWN);
                    double pa[4];
                    action_probs(mdp, act, greedy, c->epsilon, pa);
                    for (int a = 0; a < 4; ++a) {
                        if (pa[a] == 0.0)
                            continue;
                        double md[4];
                        moved_dirs(a, slip, wind, DOWN, md);
                        for (int k = 0; k < 4; ++k) {
                            int t = grid_move(W, H, s, k);
                            int tx = t % W, ty = t / W;
                            if (ty == 0 && tx > 0 && tx < W - 1)
                                pfr_row_add(&b, start, pa[a] * md[k], -1.0 * scale);
                            else
                                pfr_row_add(&b, t, pa[a] * md[k], -0.01 * scale);
                        }
                    }
                }
                if (pfr_row_end(&b) != PFR_OK) {
                    pfr_builder_free(&b);
                    return pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory building cliffwalk");
                }
            }
    }
    env->width = W;
    env->height = H;
    snprintf(env->description, sizeof env->description, "cliffwalk %dx%d, %d types, slip %g..%g, wind %g..%g", W, H, M,
             c->slip_min, c->slip_max, c->wind_min, c->wind_max);
    return pfr_builder_finish(&b, env) == PFR_OK ? PFR_OK : pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
}

/* A grid world's type m: walls, goals (with their rewards), restart cells, and the shortest-path
 * policy toward the nearest goal. Cells are s = y W + x (y = 0 the bottom row). */
typedef struct grid_type {
    unsigned char *wall;  /* [S] */
    int *goal_of;         /* [S] goal index of a goal cell, else -1 */
    int *dist;            /* [S] moves to the nearest goal through free cells (-1: walls) */
    int *near;            /* [S] that goal's index (the first reached) */
    int *queue;           /* [S] scratch for the breadth-first search */
    int goals[256];
    double goal_reward[256];
    int *starts;          /* [n_starts] restart cells (n_starts = 0: every free cell) */
    int n_starts, n_free;
} grid_type;

/* Breadth-first search over free cells (4 moves) from the first `ngoals` goals at once: dist and
 * near (the goal reached first; goal order breaks ties). Cells it does not reach keep dist -1. */
static void grid_bfs(grid_type *g, int W, int H, int ngoals)
{
    const int S = W * H;
    int head = 0, tail = 0;
    for (int s = 0; s < S; ++s)
        g->dist[s] = -1;
    for (int q = 0; q < ngoals; ++q) {
        g->dist[g->goals[q]] = 0;
        g->near[g->goals[q]] = q;
        g->queue[tail++] = g->goals[q];
    }
    while (head < tail) {
        const int s = g->queue[head++];
        for (int k = 0; k < 4; ++k) {
            const int t = grid_move(W, H, s, k);
            if (t != s && !g->wall[t] && g->dist[t] < 0) {
                g->dist[t] = g->dist[s] + 1;
                g->near[t] = g->near[s];
                g->queue[tail++] = t;
            }
        }
    }
}

/* The greedy move at free non-goal cell s: the classic rule toward its nearest goal (along the
 * axis with the larger offset), if that shortens the path; else the first move (up, right, down,
 * left) that does. Without walls and with one goal this is exactly the classic rule. */
static int grid_greedy(const grid_type *g, int W, int H, int s)
{
    const int goal = g->goals[g->near[s]];
    const int dx = goal % W - s % W, dy = goal / W - s / W;
    const int classic = abs(dx) >= abs(dy) ? (dx > 0 ? RIGHT : LEFT) : (dy > 0 ? UP : DOWN);
    const int t = grid_move(W, H, s, classic);
    if (!g->wall[t] && g->dist[t] == g->dist[s] - 1)
        return classic;
    for (int k = 0; k < 4; ++k) {
        const int u = grid_move(W, H, s, k);
        if (!g->wall[u] && g->dist[u] == g->dist[s] - 1)
            return k;
    }
    return classic; /* not reached: every free non-goal cell has a shorter neighbour */
}

/* Keep the largest connected region of free cells (4 moves; the first in scan order on a tie);
 * every other cell becomes a wall. Labels regions in dist (region id) with queue as the BFS queue. */
static void keep_largest_region(grid_type *g, int W, int H)
{
    const int S = W * H;
    int best = -1, best_size = 0, id = 0;
    for (int s = 0; s < S; ++s)
        g->dist[s] = -1;
    for (int s0 = 0; s0 < S; ++s0) {
        if (g->wall[s0] || g->dist[s0] >= 0)
            continue;
        int head = 0, tail = 0;
        g->dist[s0] = id;
        g->queue[tail++] = s0;
        while (head < tail) {
            const int s = g->queue[head++];
            for (int k = 0; k < 4; ++k) {
                const int t = grid_move(W, H, s, k);
                if (!g->wall[t] && g->dist[t] < 0) {
                    g->dist[t] = id;
                    g->queue[tail++] = t;
                }
            }
        }
        if (tail > best_size) {
            best_size = tail;
            best = id;
        }
        ++id;
    }
    for (int s = 0; s < S; ++s)
        g->wall[s] = g->dist[s] != best;
}

/* Type m's layout from env.seed: the first goal from the shared goal stream (as grid worlds have
 * always drawn it); walls, further goals, rewards and restart cells from the type's own stream.
 * With walls the free cells are the largest connected region the drawn walls leave (every other
 * cell becomes a wall), and all goals and restart cells are drawn inside it: every goal is entered
 * and every state leads to a goal (one closed class). */
static pfr_status grid_layout(const pfr_env_config *c, int W, int H, int m, uint32_t first_goal_word, grid_type *g,
                              pfr_error *err)
{
    const int S = W * H, ngoals = c->goals;
    pfr_env_rng rng = {c->seed, PFR_STREAM_GRID_TYPE0 + (uint64_t)m, 0};
    memset(g->wall, 0, (size_t)S);
    for (int s = 0; s < S; ++s)
        g->goal_of[s] = -1;
    g->goals[0] = (int)pfr_word_below(first_goal_word, (uint32_t)S);
    if (c->walls > 0.0) {
        for (int s = 0; s < S; ++s)
            g->wall[s] = pfr_env_rng_uniform(&rng) < c->walls;
        keep_largest_region(g, W, H);
    }
    g->n_free = 0;
    for (int s = 0; s < S; ++s)
        g->n_free += !g->wall[s];
    /* a goal is worth something only on the way to it: at least one free cell must not be a goal
     * (with every cell a goal, each step restarts at a goal and the true value is zero) */
    if (ngoals + c->starts > g->n_free || ngoals >= g->n_free)
        return pfr_fail(err, PFR_ERR_CONFIG,
                        "env.goals=%d, env.starts=%d: the largest connected region of type %d of the %dx%d grid "
                        "world has %d free cells (env.walls=%g); allowed: env.goals below that and env.goals + "
                        "env.starts at most that (fewer goals or walls, or a larger grid)",
                        ngoals, c->starts, m, W, H, g->n_free, c->walls);
    if (g->wall[g->goals[0]]) { /* the first goal fell outside the region: redraw it inside */
        do
            g->goals[0] = (int)pfr_word_below(pfr_env_rng_u32(&rng), (uint32_t)S);
        while (g->wall[g->goals[0]]);
    }
    g->goal_of[g->goals[0]] = 0;
    g->goal_reward[0] = 1.0;
    for (int q = 1; q < ngoals; ++q) { /* distinct free cells */
        int s;
        do
            s = (int)pfr_word_below(pfr_env_rng_u32(&rng), (uint32_t)S);
        while (g->goal_of[s] >= 0 || g->wall[s]);
        g->goals[q] = s;
        g->goal_of[s] = q;
        g->goal_reward[q] = 0.25 + 0.75 * pfr_env_rng_uniform(&rng);
    }
    grid_bfs(g, W, H, ngoals);
    g->n_starts = c->starts;
    for (int q = 0; q < g->n_starts; ++q) { /* distinct free non-goal cells (wall 2: taken) */
        int s;
        do
            s = (int)pfr_word_below(pfr_env_rng_u32(&rng), (uint32_t)S);
        while (g->wall[s] || g->goal_of[s] >= 0);
        g->starts[q] = s;
        g->wall[s] = 2;
    }
    for (int q = 0; q < g->n_starts; ++q)
        g->wall[g->starts[q]] = 0;
    return PFR_OK;
}

static const char *const DIR_NAME[4] = {"north", "east", "south", "west"};

/* four moves and staying a row, and each goal's row of restart cells; the layout of a type besides */
double pfr_gridworld_entries(const pfr_env_config *c, double M, double S, double *extra)
{
    const double restart = c->starts > 0 ? (c->starts < S ? c->starts : S) : S; /* a goal row's entries */
    *extra = 23.0 * S;
    return M * (S * 5.0 + c->goals * restart);
}

pfr_status pfr_build_gridworld(const pfr_env_config *c, int M, int mdp, pfr_env *env, pfr_error *err)
{
    int W, H;
    pfr_env_grid_size(c, &W, &H);
    if ((long)W * H < 2 || (long)W * H > 1000000)
        return pfr_fail(err, PFR_ERR_CONFIG, "env.width=%d, env.height=%d: gridworld needs between 2 and 1000000 cells", W, H);
    const int S = W * H;
    if (c->goals > S)
        return pfr_fail(err, PFR_ERR_CONFIG, "env.goals=%d exceeds the %d cells of the %dx%d grid world", c->goals, S, W, H);
    pfr_builder b;
    grid_type g;
    memset(&g, 0, sizeof g);
    g.wall = malloc((size_t)S);
    g.goal_of = malloc(sizeof(int) * (size_t)S);
    g.dist = malloc(sizeof(int) * (size_t)S);
    g.near = malloc(sizeof(int) * (size_t)S);
    g.queue = malloc(sizeof(int) * (size_t)S);
    g.starts = malloc(sizeof(int) * (size_t)(c->starts > 0 ? c->starts : 1));
    const int A = mdp ? 4 : 1;
    pfr_status st = pfr_builder_init_mdp(&b, S, A, M);
    if (st != PFR_OK || !g.wall || !g.goal_of || !g.dist || !g.near || !g.queue || !g.starts) {
        st = pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory building gridworld");
        goto done;
    }
    pfr_env_rng goals_rng = {c->seed, PFR_STREAM_GRID_GOALS, 0};
    int free_min = S, free_max = 0;
    const int shared = c->layout == PFR_LAYOUT_SHARED;
    for (int m = 0; m < M && st == PFR_OK; ++m) {
        if ((m == 0 || !shared) && (st = grid_layout(c, W, H, m, pfr_env_rng_u32(&goals_rng), &g, err)) != PFR_OK)
            break;
        if (shared) { /* type 0's layout for every type; each type its own reward for each goal */
            pfr_env_rng rr = {c->seed, PFR_STREAM_GRID_REWARD0 + (uint64_t)m, 0};
            for (int q = 0; q < c->goals; ++q)
                g.goal_reward[q] = 2.0 * pfr_env_rng_uniform(&rr) - 1.0;
        }
        free_min = g.n_free < free_min ? g.n_free : free_min;
        free_max = g.n_free > free_max ? g.n_free : free_max;
        const double f = pfr_type_frac(m, M);
        const double slip = c->slip_min + f * (c->slip_max - c->slip_min);
        const double wind = c->wind_min + f * (c->wind_max - c->wind_min);
        const double scale = c->reward_scale * (1.0 + c->reward_spread * (2.0 * f - 1.0));
        const int wind_dir = c->wind_direction == PFR_WIND_PER_TYPE ? m % 4 : UP;
        for (int sa = 0; sa < S * A && st == PFR_OK; ++sa) {
            const int s = sa / A, act = sa % A;
            if (g.goal_of[s] >= 0) { /* the episode restarts: at a start cell, or anywhere free */
                if (g.n_starts > 0)
                    for (int q = 0; q < g.n_starts; ++q)
                        pfr_row_add(&b, g.starts[q], 1.0 / g.n_starts, 0.0);
                else
                    for (int t = 0; t < S; ++t)
                        if (!g.wall[t])
                            pfr_row_add(&b, t, 1.0 / g.n_free, 0.0);
            } else if (g.wall[s]) { /* never entered (only an initial state): leave at once */
                pfr_row_add(&b, g.n_starts > 0 ? g.starts[0] : g.goals[0], 1.0, 0.0);
            } else {
                const int greedy = grid_greedy(&g, W, H, s);
                double pa[4];
                action_probs(mdp, act, greedy, c->epsilon, pa);
                for (int a = 0; a < 4; ++a) {
                    if (pa[a] == 0.0)
                        continue;
                    double md[4];
                    moved_dirs(a, slip, wind, wind_dir, md);
                    for (int k = 0; k < 4; ++k) {
                        int t = grid_move(W, H, s, k);
                        if (g.wall[t])
                            t = s; /* a wall stops the move */
                        pfr_row_add(&b, t, pa[a] * md[k], g.goal_of[t] >= 0 ? scale * g.goal_reward[g.goal_of[t]] : 0.0);
                    }
                }
            }
            st = pfr_row_end(&b);
            if (st != PFR_OK)
                st = pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory building gridworld");
        }
    }
    if (st == PFR_OK) {
        env->width = W;
        env->height = H;
        char walls[64] = "no walls";
        if (c->walls > 0.0)
            snprintf(walls, sizeof walls, "walls %g (free cells %.0f..%.0f%%)", c->walls, 100.0 * free_min / S,
                     100.0 * free_max / S);
        char goals[64];
        snprintf(goals, sizeof goals, shared ? "one layout with %d goal%s (rewards per type)" : "%d goal%s each",
                 c->goals, c->goals > 1 ? "s" : "");
        snprintf(env->description, sizeof env->description,
                 "gridworld %dx%d, %d types, %s, %s, %s restart, slip %g..%g, wind %s %g..%g", W, H, M, goals, walls,
                 c->starts > 0 ? "start-cell" : "anywhere", c->slip_min,
                 c->slip_max, c->wind_direction == PFR_WIND_PER_TYPE ? "per type" : DIR_NAME[UP], c->wind_min,
                 c->wind_max);
        if (pfr_builder_finish(&b, env) != PFR_OK)
            st = pfr_fail(err, PFR_ERR_NO_MEMORY, "out of memory");
    }
done:
    if (st != PFR_OK)
        pfr_builder_free(&b);
    free(g.wall);
    free(g.goal_of);
    free(g.dist);
    free(g.near);
    free(g.queue);
    free(g.starts);
    return st;
}
