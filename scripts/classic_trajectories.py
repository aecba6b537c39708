#!/usr/bin/env python3
"""Gymnasium's CartPole-v1 and Acrobot-v1, recorded step by step for tests/test_classic.cc, which
checks kernels/pfr_classic.h against them (the same state and action in, the next state out):

    pip install gymnasium numpy
    python3 scripts/classic_trajectories.py tests/fixtures/classic_trajectories.csv

One row per step or reset, every double written with 17 significant digits and every float32 with 9
(exact round trips):
    kind, env, setting, p0..p7 (reset rows: the parameters, as pfr_cartpole / pfr_acrobot order
    them; a step row has its setting's last reset's),
    u0..u3 (reset: the uniforms the reset drew), s0..s3 (the state before; reset: unused),
    action, n0..n3 (the state after), terminated, o0..o5 (the observation after, float32)
Settings: Gymnasium's defaults; the heterogeneous physics of Jin et al. 2022 (CartPole's half-length
0.1 + 0.8 p, Acrobot's link-1 mass 0.5 + p) at p = 0.1 and 0.9; CartPole's semi-implicit
integrator; Acrobot's "nips" dynamics. Random actions from a seeded generator, a reset at every
termination or time limit.
"""
import argparse
import csv

import gymnasium as gym
import numpy as np

STEPS = 80  # per setting


def cartpole_settings():
    out = []
    for name, length, semi in (("default", 0.5, 0), ("jin_p0.1", 0.1 + 0.8 * 0.1, 0), ("jin_p0.9", 0.1 + 0.8 * 0.9, 0),
                               ("semi_implicit", 0.5, 1)):
        out.append((name, length, semi))
    return out


def acrobot_settings():
    return [("default", 1.0, 0), ("jin_p0.1", 0.5 + 0.1, 0), ("jin_p0.9", 0.5 + 0.9, 0), ("nips", 1.0, 1)]


def g17(x):
    return "%.17g" % float(x)


def record(writer, env_id, setting, params, env, seed):
    """STEPS steps of random actions from seed, resets included, into writer."""
    u_gen = np.random.Generator(np.random.PCG64(seed))  # the reset's uniforms: the same stream as env's
    rng = np.random.default_rng(seed + 1000)
    pad = [g17(p) for p in params] + [""] * (8 - len(params))

    def reset():
        nonlocal u_gen
        s_seed = int(rng.integers(1 << 30))
        u_gen = np.random.Generator(np.random.PCG64(s_seed))
        u = u_gen.random(4)
        env.reset(seed=s_seed)
        s = np.array(env.unwrapped.state, dtype=np.float64)
        writer.writerow(["reset", env_id, setting] + pad + [g17(x) for x in u] + [""] * 4 + [""] + [g17(x) for x in s]
                        + [""] + [""] * 6)
        return 0

    t = reset()
    n_act = env.action_space.n
    for _ in range(STEPS):
        s = np.array(env.unwrapped.state, dtype=np.float64)
        a = int(rng.integers(n_act))
        ob, _, term, trunc, _ = env.step(a)
        t += 1
        n = np.array(env.unwrapped.state, dtype=np.float64)
        writer.writerow(["step", env_id, setting] + [""] * 8 + [""] * 4 + [g17(x) for x in s] + [a] + [g17(x) for x in n]
                        + [int(term)] + ["%.9g" % x for x in np.asarray(ob, dtype=np.float32)] + [""] * (6 - len(ob)))
        if term or trunc:
            t = reset()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    args = ap.parse_args()
    with open(args.out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["kind", "env", "setting"] + [f"p{j}" for j in range(8)] + [f"u{j}" for j in range(4)]
                   + [f"s{j}" for j in range(4)] + ["action"] + [f"n{j}" for j in range(4)] + ["terminated"]
                   + [f"o{j}" for j in range(6)])
        for k, (name, length, semi) in enumerate(cartpole_settings()):
            env = gym.make("CartPole-v1")
            u = env.unwrapped
            u.length = length
            u.polemass_length = u.masspole * length  # Gymnasium computes it once, in __init__
            u.kinematics_integrator = "semi" if semi else "euler"
            # pfr_cartpole's order: gravity, masscart, masspole, length, polemass_length, force_mag, tau, semi
            params = [u.gravity, u.masscart, u.masspole, u.length, u.polemass_length, u.force_mag, u.tau, semi]
            record(w, "cartpole", name, params, env, 100 + k)
        for k, (name, m1, nips) in enumerate(acrobot_settings()):
            env = gym.make("Acrobot-v1")
            u = env.unwrapped
            u.LINK_MASS_1 = m1
            u.book_or_nips = "nips" if nips else "book"
            # pfr_acrobot's order: dt, m1, m2, l1, lc1, lc2, moi, nips
            params = [u.dt, u.LINK_MASS_1, u.LINK_MASS_2, u.LINK_LENGTH_1, u.LINK_COM_POS_1, u.LINK_COM_POS_2, u.LINK_MOI,
                      nips]
            record(w, "acrobot", name, params, env, 200 + k)
    print(f"classic_trajectories: wrote {args.out} (gymnasium {gym.__version__})")


if __name__ == "__main__":
    main()
