#!/usr/bin/env python3
"""PFedTD-Rep written the way a researcher would with JAX: a step vmapped over agents, lax.scan
over the K local steps of a round, the whole round jitted.

A baseline for the CUDA engine (issue: >= 20x this on the same GPU, same run), beside
bench/torch_baseline.py. Same chains as pfedrl (exported with `pfedrl export`), same update rule and
round structure as bench/numpy_baseline.py: every agent starts the round from the shared Phi, takes
K TD steps updating theta_i and its own Phi_i rows, then Phi is the mean of the Phi_i. Random
numbers come from jax.random (speed, not bit-equality, is measured).

usage: jax_baseline.py ENV_DIR [--agents N] [--dim d] [--local-steps K] [--rounds R]
prints one line: agent-steps/s and the settings (the first, compiling round is not timed).
"""
import time

import jax
import jax.numpy as jnp
import numpy as np

from baseline_common import load_env, parse_args


def main():
    args = parse_args(__doc__)
    P, cum_np, R_np = load_env(args.env_dir)
    M, S, _ = P.shape
    N, d, K = args.agents, args.dim, args.local_steps
    cum = jnp.asarray(cum_np)  # [M, S, S]
    R = jnp.asarray(R_np)  # [M, S, S]
    a, b, g = args.alpha, args.beta, args.gamma

    key = jax.random.PRNGKey(0)
    k_state, k_phi, key = jax.random.split(key, 3)
    types = jnp.arange(N) % M
    state = jax.random.randint(k_state, (N,), 0, S)
    phi = jax.random.normal(k_phi, (S, d), jnp.float32) / np.sqrt(d)
    theta = jnp.zeros((N, d), jnp.float32)

    def agent_step(m, s, th, ph, u):
        """One TD step of one agent on its own Phi_i [S, d]."""
        nxt = jnp.sum(cum[m, s] <= u)  # first column whose cumulative sum exceeds u
        rho = R[m, s, nxt]
        ps, pn = ph[s], ph[nxt]
        delta = rho + g * (pn @ th) - ps @ th
        return nxt, th + a * delta * ps, ph.at[s].set(ps + b * delta * th)

    step_all = jax.vmap(agent_step)  # over agents

    @jax.jit
    def one_round(key, state, theta, phi):
        key, sub = jax.random.split(key)
        u = jax.random.uniform(sub, (K, N))
        phi_i = jnp.broadcast_to(phi, (N, S, d))  # each agent's local copy

        def body(carry, u_k):
            s, th, ph = carry
            return step_all(types, s, th, ph, u_k), None

        (state, theta, phi_i), _ = jax.lax.scan(body, (state, theta, phi_i), u)
        return key, state, theta, phi_i.mean(axis=0)

    key, state, theta, phi = one_round(key, state, theta, phi)  # compiles: not timed
    phi.block_until_ready()
    t0 = time.perf_counter()
    for _ in range(args.rounds):
        key, state, theta, phi = one_round(key, state, theta, phi)
    phi.block_until_ready()
    dt = time.perf_counter() - t0
    steps = N * K * args.rounds
    dev = jax.devices()[0]
    print(f"jax_baseline: {steps / dt:.4g} agent-steps/s  (N={N} d={d} K={K} S={S} M={M} rounds={args.rounds}, "
          f"{dt:.3f} s, jax {jax.__version__}, {dev.platform}:{dev.device_kind})")


if __name__ == "__main__":
    main()
