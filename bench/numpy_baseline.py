#!/usr/bin/env python3
"""PFedTD-Rep written the way a researcher would with NumPy, vectorised over agents.

The baseline the CPU engine is compared against (issue: CPU throughput >= 10x this). It runs the
same chains as pfedrl (exported with `pfedrl export`), the same update rule and the same round
structure: every agent copies the shared Phi, takes K TD steps updating theta_i and its Phi_i rows,
then Phi is the mean of the Phi_i. Random numbers come from NumPy's generator (speed, not
bit-equality, is measured here).

usage: numpy_baseline.py ENV_DIR [--agents N] [--dim d] [--local-steps K] [--rounds R]
prints one line: agent-steps/s and the settings.
"""
import time

import numpy as np

from baseline_common import load_env, parse_args


def main():
    args = parse_args(__doc__)
    P, cum, R = load_env(args.env_dir)
    M, S, _ = P.shape
    N, d, K = args.agents, args.dim, args.local_steps

    rng = np.random.default_rng(0)
    types = np.arange(N) % M
    state = rng.integers(0, S, N)
    phi = (rng.standard_normal((S, d)) / np.sqrt(d)).astype(np.float32)
    theta = np.zeros((N, d), np.float32)
    idx = np.arange(N)
    a, b, g = np.float32(args.alpha), np.float32(args.beta), np.float32(args.gamma)

    def one_round():
        nonlocal state, phi, theta
        phi_i = np.broadcast_to(phi, (N, S, d)).copy()  # each agent's local copy
        for _ in range(K):
            u = rng.random(N, dtype=np.float32)
            nxt = (cum[types, state] <= u[:, None]).sum(axis=1)  # first column whose cumsum exceeds u
            rho = R[types, state, nxt]
            ps = phi_i[idx, state]  # [N, d]
            pn = phi_i[idx, nxt]
            delta = rho + g * np.einsum("nd,nd->n", pn, theta) - np.einsum("nd,nd->n", ps, theta)
            new_theta = theta + a * delta[:, None] * ps
            phi_i[idx, state] = ps + b * delta[:, None] * theta
            theta = new_theta
            state = nxt
        phi = phi_i.mean(axis=0)

    one_round()  # warm-up
    t0 = time.perf_counter()
    for _ in range(args.rounds):
        one_round()
    dt = time.perf_counter() - t0
    steps = N * K * args.rounds
    print(f"numpy_baseline: {steps / dt:.4g} agent-steps/s  (N={N} d={d} K={K} S={S} M={M} rounds={args.rounds}, "
          f"{dt:.3f} s, numpy {np.__version__})")


if __name__ == "__main__":
    main()
