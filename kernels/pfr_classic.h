/*
 * pfr_classic.h — CartPole-v1 and Acrobot-v1 as Gymnasium defines them, one agent's step at a time,
 * with each agent's own physical parameters: the environments of PFedDQN-Rep (issue 28), written
 * once for the CPU engine and, under nvcc, the device (static inline, __host__ __device__, no
 * globals, no allocation, no randomness: the caller draws).
 *
 * The arithmetic is Gymnasium's (gymnasium/envs/classic_control/cartpole.py and acrobot.py, 1.x), in
 * double and in its order of operations, so that from the same state and action the next state
 * agrees with Gymnasium's to within what an ulp of sin or cos moves (tests/test_classic.cc checks
 * every step of trajectories Gymnasium recorded, scripts/classic_trajectories.py, to 1e-12). sin
 * and cos are pfr_libm.h's, not libm's: the same bits on every CPU, C library and GPU. Two of Gymnasium's
 * own quirks are kept on purpose: Acrobot's reset state is rounded to float32, and CartPole's
 * polemass_length is masspole x length of the agent (Gymnasium computes it once in __init__, so
 * setting env.length afterwards leaves it stale: pass that value to reproduce such a run).
 *
 * Episodes: a step returns whether the state is terminal (the pole fell, the cart left the track;
 * Acrobot's tip above the bar). Truncation (the time limit: 500 steps for both v1s) is the
 * caller's count, kept apart: a truncated transition bootstraps, a terminal one does not
 * (pfr_classic_end).
 *
 * Napkin math: a CartPole step is 2 transcendentals and ~20 flops; an Acrobot step 4 RK4 stages of
 * 4 sin/cos each and ~60 flops, then 2 more for the observation: ~100 ns on a CPU core, ~1 us of
 * one GPU thread, both far below a network's forward pass.
 */
#ifndef PFR_CLASSIC_H
#define PFR_CLASSIC_H

#include <math.h>

#include "pfr_agent_math.h" /* PFR_HD */
#include "pfr_libm.h"    /* sin and cos with the same bits everywhere */

/* ---- CartPole-v1 --------------------------------------------------------------------------- */

/* One agent's cart and pole (Gymnasium's defaults: pfr_cartpole_default). */
typedef struct pfr_cartpole {
    double gravity, masscart, masspole;
    double length;          /* half the pole's length */
    double polemass_length; /* masspole x length (see the file's comment) */
    double force_mag, tau;  /* the push either way, the step in seconds */
    int semi_implicit;      /* 0: Euler (kinematics_integrator "euler"); 1: semi-implicit Euler */
} pfr_cartpole;

#define PFR_CARTPOLE_X_LIMIT 2.4
#define PFR_CARTPOLE_MAX_STEPS 500 /* CartPole-v1's time limit */

PFR_HD static inline pfr_cartpole pfr_cartpole_default(void)
{
    pfr_cartpole p;
    p.gravity = 9.8;
    p.masscart = 1.0;
    p.masspole = 0.1;
    p.length = 0.5;
    p.polemass_length = p.masspole * p.length;
    p.force_mag = 10.0;
    p.tau = 0.02;
    p.semi_implicit = 0;
    return p;
}

/* The pole's limit: 12 degrees in radians, as Gymnasium writes it (12 * 2 * pi / 360). */
PFR_HD static inline double pfr_cartpole_theta_limit(void) { return 12.0 * 2.0 * 3.141592653589793 / 360.0; }

/* s = (x, x_dot, theta, theta_dot) moved one step by action 0 (push left) or 1 (push right);
 * returns 1 where the new state is terminal. */
PFR_HD static inline int pfr_cartpole_step(const pfr_cartpole *p, double *s, int action)
{
    double x = s[0], x_dot = s[1], theta = s[2], theta_dot = s[3];
    const double force = action == 1 ? p->force_mag : -p->force_mag;
    const double costheta = pfr_cos(theta), sintheta = pfr_sin(theta);
    const double total_mass = p->masspole + p->masscart;
    const double temp = (force + p->polemass_length * (theta_dot * theta_dot) * sintheta) / total_mass;
    const double thetaacc = (p->gravity * sintheta - costheta * temp) /
                            (p->length * (4.0 / 3.0 - p->masspole * (costheta * costheta) / total_mass));
    const double xacc = temp - p->polemass_length * thetaacc * costheta / total_mass;
    if (!p->semi_implicit) {
        x = x + p->tau * x_dot;
        x_dot = x_dot + p->tau * xacc;
        theta = theta + p->tau * theta_dot;
        theta_dot = theta_dot + p->tau * thetaacc;
    } else {
        x_dot = x_dot + p->tau * xacc;
        x = x + p->tau * x_dot;
        theta_dot = theta_dot + p->tau * thetaacc;
        theta = theta + p->tau * theta_dot;
    }
    s[0] = x;
    s[1] = x_dot;
    s[2] = theta;
    s[3] = theta_dot;
    const double lim = pfr_cartpole_theta_limit();
    return x < -PFR_CARTPOLE_X_LIMIT || x > PFR_CARTPOLE_X_LIMIT || theta < -lim || theta > lim;
}

/* A reset state from four uniforms u in [0, 1): each entry uniform on (-0.05, 0.05). */
PFR_HD static inline void pfr_cartpole_reset(double *s, const double *u)
{
    for (int j = 0; j < 4; ++j)
        s[j] = -0.05 + 0.1 * u[j];
}

/* The observation (Gymnasium's float32 copy of the state). */
PFR_HD static inline void pfr_cartpole_observe(const double *s, float *ob)
{
    for (int j = 0; j < 4; ++j)
        ob[j] = (float)s[j];
}

/* ---- Acrobot-v1 ---------------------------------------------------------------------------- */

/* One agent's two links (Gymnasium's defaults: pfr_acrobot_default; "book" dynamics unless nips). */
typedef struct pfr_acrobot {
    double dt;                 /* the integration step, seconds */
    double m1, m2, l1, lc1, lc2; /* link masses, link 1's length, the links' centres of mass */
    double moi;                /* both links' moment of inertia */
    int nips;                  /* 1: the NIPS paper's dynamics (book_or_nips = "nips") */
} pfr_acrobot;

#define PFR_ACROBOT_MAX_STEPS 500 /* Acrobot-v1's time limit */

PFR_HD static inline pfr_acrobot pfr_acrobot_default(void)
{
    pfr_acrobot p;
    p.dt = 0.2;
    p.m1 = 1.0;
    p.m2 = 1.0;
    p.l1 = 1.0;
    p.lc1 = 0.5;
    p.lc2 = 0.5;
    p.moi = 1.0;
    p.nips = 0;
    return p;
}

#define PFR_PI 3.141592653589793

/* Gymnasium's _dsdt: y = (theta1, theta2, dtheta1, dtheta2) under torque a, the derivative into dy. */
PFR_HD static inline void pfr_acrobot_dsdt(const pfr_acrobot *p, const double *y, double a, double *dy)
{
    const double m1 = p->m1, m2 = p->m2, l1 = p->l1, lc1 = p->lc1, lc2 = p->lc2, I1 = p->moi, I2 = p->moi;
    const double g = 9.8;
    const double theta1 = y[0], theta2 = y[1], dtheta1 = y[2], dtheta2 = y[3];
    const double d1 = m1 * (lc1 * lc1) + m2 * ((l1 * l1) + (lc2 * lc2) + 2.0 * l1 * lc2 * pfr_cos(theta2)) + I1 + I2;
    const double d2 = m2 * ((lc2 * lc2) + l1 * lc2 * pfr_cos(theta2)) + I2;
    const double phi2 = m2 * lc2 * g * pfr_cos(theta1 + theta2 - PFR_PI / 2.0);
    const double phi1 = -m2 * l1 * lc2 * (dtheta2 * dtheta2) * pfr_sin(theta2) - 2.0 * m2 * l1 * lc2 * dtheta2 * dtheta1 * pfr_sin(theta2) +
                        (m1 * lc1 + m2 * l1) * g * pfr_cos(theta1 - PFR_PI / 2.0) + phi2;
    double ddtheta2;
    if (p->nips)
        ddtheta2 = (a + d2 / d1 * phi1 - phi2) / (m2 * (lc2 * lc2) + I2 - (d2 * d2) / d1);
    else
        ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * (dtheta1 * dtheta1) * pfr_sin(theta2) - phi2) /
                   (m2 * (lc2 * lc2) + I2 - (d2 * d2) / d1);
    const double ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    dy[0] = dtheta1;
    dy[1] = dtheta2;
    dy[2] = ddtheta1;
    dy[3] = ddtheta2;
}

/* x wrapped into [m, M] (Gymnasium's wrap: whole turns added or taken away). */
PFR_HD static inline double pfr_wrap(double x, double m, double M)
{
    const double diff = M - m;
    while (x > M)
        x = x - diff;
    while (x < m)
        x = x + diff;
    return x;
}

PFR_HD static inline double pfr_bound(double x, double m, double M) { return fmin(fmax(x, m), M); }

/* s = (theta1, theta2, dtheta1, dtheta2) moved one step by action 0, 1, 2 (torque -1, 0, +1): one
 * RK4 step of dt (Gymnasium's rk4 over t = [0, dt]), angles wrapped, speeds bounded; returns 1 where
 * the new state is terminal (the tip above the bar: -cos(theta1) - cos(theta1 + theta2) > 1). */
PFR_HD static inline int pfr_acrobot_step(const pfr_acrobot *p, double *s, int action)
{
    const double a = (double)(action - 1);
    const double dt = p->dt, dt2 = dt / 2.0;
    double k1[4], k2[4], k3[4], k4[4], y[4];
    pfr_acrobot_dsdt(p, s, a, k1);
    for (int j = 0; j < 4; ++j)
        y[j] = s[j] + dt2 * k1[j];
    pfr_acrobot_dsdt(p, y, a, k2);
    for (int j = 0; j < 4; ++j)
        y[j] = s[j] + dt2 * k2[j];
    pfr_acrobot_dsdt(p, y, a, k3);
    for (int j = 0; j < 4; ++j)
        y[j] = s[j] + dt * k3[j];
    pfr_acrobot_dsdt(p, y, a, k4);
    for (int j = 0; j < 4; ++j)
        s[j] = s[j] + dt / 6.0 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j]);
    s[0] = pfr_wrap(s[0], -PFR_PI, PFR_PI);
    s[1] = pfr_wrap(s[1], -PFR_PI, PFR_PI);
    s[2] = pfr_bound(s[2], -4.0 * PFR_PI, 4.0 * PFR_PI);
    s[3] = pfr_bound(s[3], -9.0 * PFR_PI, 9.0 * PFR_PI);
    return -pfr_cos(s[0]) - pfr_cos(s[1] + s[0]) > 1.0;
}

/* A reset state from four uniforms u in [0, 1): uniform on (-0.1, 0.1), rounded to float32 as
 * Gymnasium's reset does. */
PFR_HD static inline void pfr_acrobot_reset(double *s, const double *u)
{
    for (int j = 0; j < 4; ++j)
        s[j] = (double)(float)(-0.1 + 0.2 * u[j]);
}

/* The observation: cos and sin of both angles, both speeds, in float32. */
PFR_HD static inline void pfr_acrobot_observe(const double *s, float *ob)
{
    ob[0] = (float)pfr_cos(s[0]);
    ob[1] = (float)pfr_sin(s[0]);
    ob[2] = (float)pfr_cos(s[1]);
    ob[3] = (float)pfr_sin(s[1]);
    ob[4] = (float)s[2];
    ob[5] = (float)s[3];
}

/* ---- Episodes ------------------------------------------------------------------------------ */

/* How a transition ends: terminal (no bootstrap), truncated by the time limit (bootstrap from the
 * next state), or neither. cap_is_terminal: the older rule that counts the time limit as a
 * termination (gym before 0.26, and many papers' DQNs). t: steps taken in the episode, this one
 * included. */
typedef struct pfr_classic_end {
    int terminated, truncated;
} pfr_classic_end;

PFR_HD static inline pfr_classic_end pfr_classic_end_of(int terminal, int t, int max_steps, int cap_is_terminal)
{
    pfr_classic_end e;
    const int capped = t >= max_steps && !terminal;
    e.terminated = terminal || (capped && cap_is_terminal);
    e.truncated = capped && !cap_is_terminal;
    return e;
}

/* ---- Either family, by kind (the neural engine's agents) ----------------------------------- */

#define PFR_CLASSIC_CARTPOLE 0
#define PFR_CLASSIC_ACROBOT 1
#define PFR_CLASSIC_STATE 4 /* doubles of state, either family */

/* One agent's environment: its family and its physics, from one parameter (CartPole: the pole's
 * half-length, polemass_length following it; Acrobot: link 1's mass), the rest Gymnasium's. */
typedef struct pfr_classic {
    int kind;
    pfr_cartpole cp;
    pfr_acrobot ac;
} pfr_classic;

PFR_HD static inline pfr_classic pfr_classic_make(int kind, double param)
{
    pfr_classic e;
    e.kind = kind;
    e.cp = pfr_cartpole_default();
    e.ac = pfr_acrobot_default();
    if (kind == PFR_CLASSIC_CARTPOLE) {
        e.cp.length = param;
        e.cp.polemass_length = e.cp.masspole * e.cp.length;
    } else {
        e.ac.m1 = param;
    }
    return e;
}

PFR_HD static inline int pfr_classic_obs(int kind) { return kind == PFR_CLASSIC_CARTPOLE ? 4 : 6; }
PFR_HD static inline int pfr_classic_actions(int kind) { return kind == PFR_CLASSIC_CARTPOLE ? 2 : 3; }
PFR_HD static inline int pfr_classic_max_steps(int kind)
{
    return kind == PFR_CLASSIC_CARTPOLE ? PFR_CARTPOLE_MAX_STEPS : PFR_ACROBOT_MAX_STEPS;
}

/* One step; returns whether the new state is terminal, the reward into *r (Gymnasium's: CartPole
 * 1 every step, the last included; Acrobot -1, 0 on reaching the goal). */
PFR_HD static inline int pfr_classic_step(const pfr_classic *e, double *s, int action, float *r)
{
    if (e->kind == PFR_CLASSIC_CARTPOLE) {
        *r = 1.0f;
        return pfr_cartpole_step(&e->cp, s, action);
    }
    const int term = pfr_acrobot_step(&e->ac, s, action);
    *r = term ? 0.0f : -1.0f;
    return term;
}

PFR_HD static inline void pfr_classic_reset(const pfr_classic *e, double *s, const double *u)
{
    if (e->kind == PFR_CLASSIC_CARTPOLE)
        pfr_cartpole_reset(s, u);
    else
        pfr_acrobot_reset(s, u);
}

PFR_HD static inline void pfr_classic_observe(const pfr_classic *e, const double *s, float *ob)
{
    if (e->kind == PFR_CLASSIC_CARTPOLE)
        pfr_cartpole_observe(s, ob);
    else
        pfr_acrobot_observe(s, ob);
}

#endif
