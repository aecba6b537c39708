#!/usr/bin/env python3
"""PFedTD-Rep written the way a researcher would with NumPy, vectorised over agents.

The baseline the CPU engine is compared against. It runs the same chains as pfedrl (exported with
`pfedrl export`), the same update rule and the same round structure: every agent starts the round
from the shared Phi, takes K TD steps updating theta_i and its rows of Phi_i, then Phi moves by the
mean of the agents' changes. Random numbers come from NumPy's generator (speed, not bit-equality,
is measured here). Two ways of holding the agents' Phi_i, and the faster is the fair baseline:

  dense:  every agent copies Phi ([N, S, d] per round) and the dense chains P [M, S, S] are
          sampled by a cumulative-sum search; the natural first version, for small S only.
  sparse: each agent keeps only the rows it touched ([N, K+1, d] overlay, looked up by comparing
          row ids), the chains are sparse rows sampled by one searchsorted over all rows; works
          at any S (what pfedrl itself does, in NumPy).

usage: numpy_baseline.py ENV_DIR [--agents N] [--dim d] [--local-steps K] [--rounds R]
                                 [--seconds T] [--mode dense|sparse|auto]
prints one line: agent-steps/s and the settings (auto: the faster of the two where dense fits).
"""
import os
import time

import numpy as np

from baseline_common import load_env, load_env_sparse, parse_args


def dense_round_fn(env_dir, N, d, K, a, b, g, rng):
    P, cum, R = load_env(env_dir)
    M, S, _ = P.shape
    types = np.arange(N) % M
    state = rng.integers(0, S, N)
    phi = (rng.standard_normal((S, d)) / np.sqrt(d)).astype(np.float32)
    theta = np.zeros((N, d), np.float32)
    idx = np.arange(N)

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

    return one_round, S, M


def sparse_round_fn(env_dir, N, d, K, a, b, g, rng):
    indptr, indices, key, reward = load_env_sparse(env_dir)
    M, S = indptr.shape[0], indptr.shape[1] - 1
    types = np.arange(N) % M
    state = rng.integers(0, S, N)
    phi = (rng.standard_normal((S, d)) / np.sqrt(d)).astype(np.float32)
    theta = np.zeros((N, d), np.float32)
    idx = np.arange(N)
    R1 = K + 1
    rows = np.empty((N, R1), np.int64)  # the rows each agent touched this round (-1: free)
    vals = np.empty((N, R1, d), np.float32)  # their values in the agent's Phi_i

    def lookup(s):
        """slot of row s in each agent's overlay, or -1"""
        hit = rows == s[:, None]
        slot = hit.argmax(axis=1)
        return np.where(hit[idx, slot], slot, -1)

    def one_round():
        nonlocal state, phi, theta
        rows.fill(-1)
        count = np.zeros(N, np.int64)
        for _ in range(K):
            u = rng.random(N)
            gid = types * S + state  # the row's global id: entries have key = gid + cumulative p
            k = np.searchsorted(key, gid + u, side="right")
            nxt = indices[k]
            rho = reward[k]
            slot = lookup(state)
            new = slot < 0  # first visit: copy the shared row into the overlay
            slot = np.where(new, count, slot)
            rows[idx[new], slot[new]] = state[new]
            vals[idx[new], slot[new]] = phi[state[new]]
            count += new
            ps = vals[idx, slot]
            nslot = lookup(nxt)
            pn = np.where((nslot >= 0)[:, None], vals[idx, np.maximum(nslot, 0)], phi[nxt])
            delta = rho + g * np.einsum("nd,nd->n", pn, theta) - np.einsum("nd,nd->n", ps, theta)
            new_theta = theta + a * delta[:, None] * ps
            vals[idx, slot] = ps + b * delta[:, None] * theta
            theta = new_theta
            state = nxt
        used = rows >= 0
        r = rows[used]
        change = vals[used] - phi[r]
        acc = np.zeros((S, d), np.float64)
        np.add.at(acc, r, change)
        phi = (phi + acc / N).astype(np.float32)

    return one_round, S, M


def measure(make, args, mode):
    rng = np.random.default_rng(0)
    a, b, g = np.float32(args.alpha), np.float32(args.beta), np.float32(args.gamma)
    one_round, S, M = make(args.env_dir, args.agents, args.dim, args.local_steps, a, b, g, rng)
    one_round()  # warm-up
    t0 = time.perf_counter()
    rounds = 0
    while rounds < args.rounds and (rounds < 2 or not args.seconds or time.perf_counter() - t0 < args.seconds):
        one_round()
        rounds += 1
    dt = time.perf_counter() - t0
    steps = args.agents * args.local_steps * rounds
    return steps / dt, dt, S, M, rounds


def main():
    def extra(ap):
        ap.add_argument("--mode", choices=["dense", "sparse", "auto"], default="auto")
        ap.add_argument("--seconds", type=float, default=0.0,
                        help="stop after this many seconds of rounds (at least 2 rounds; 0: all --rounds)")
    args = parse_args(__doc__, extra)
    N, d, K = args.agents, args.dim, args.local_steps
    have_dense = os.path.exists(os.path.join(args.env_dir, "P.npy"))
    modes = [args.mode] if args.mode != "auto" else ["sparse"]
    if args.mode == "auto" and have_dense:
        # the dense copy per agent: only where [N, S, d] float32 stays under 2 GB
        S = np.load(os.path.join(args.env_dir, "V.npy"), mmap_mode="r").shape[1]
        if N * S * d * 4 <= 2e9:
            modes.insert(0, "dense")
    results = {}
    for mode in modes:
        make = dense_round_fn if mode == "dense" else sparse_round_fn
        results[mode] = measure(make, args, mode)
    best = max(results, key=lambda m: results[m][0])
    rate, dt, S, M, rounds = results[best]
    others = ", ".join(f"{m} {results[m][0]:.4g}" for m in results if m != best)
    print(f"numpy_baseline: {rate:.4g} agent-steps/s  (mode {best}{'; ' + others if others else ''}; "
          f"N={N} d={d} K={K} S={S} M={M} rounds={rounds}, {dt:.3f} s, numpy {np.__version__})")


if __name__ == "__main__":
    main()
