#!/usr/bin/env python3
"""PFedTD-Rep written the way a researcher would with PyTorch on the GPU, batched over agents.

The baseline the CUDA engine is compared against (issue 3: >= 20x this, same machine, same run).
Same chains as pfedrl (exported with `pfedrl export`), same update rule and round structure as
bench/numpy_baseline.py, which it follows line for line with torch tensors: every agent copies the
shared Phi, takes K TD steps updating theta_i and its Phi_i rows, then Phi is the mean of the Phi_i.
Random numbers come from torch's generator (speed, not bit-equality, is measured).

usage: torch_baseline.py ENV_DIR [--agents N] [--dim d] [--local-steps K] [--rounds R] [--device cuda]
prints one line: agent-steps/s and the settings. Status: written without a GPU or torch at hand;
it runs for the first time in bench/gpu_check.sh.
"""
import argparse
import os
import time

import numpy as np
import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("env_dir", help="directory written by `pfedrl export` (P.npy, R.npy)")
    ap.add_argument("--agents", type=int, default=4096)
    ap.add_argument("--dim", type=int, default=8)
    ap.add_argument("--local-steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--alpha", type=float, default=0.1)
    ap.add_argument("--beta", type=float, default=0.05)
    ap.add_argument("--gamma", type=float, default=0.9)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    dev = torch.device(args.device)

    P = np.load(os.path.join(args.env_dir, "P.npy"))  # [M, S, S]
    R = torch.tensor(np.load(os.path.join(args.env_dir, "R.npy")), dtype=torch.float32, device=dev)
    M, S, _ = P.shape
    N, d, K = args.agents, args.dim, args.local_steps
    cum = torch.tensor(np.cumsum(P, axis=2), dtype=torch.float32, device=dev)  # [M, S, S]
    cum[:, :, -1] = 2.0

    gen = torch.Generator(device=dev)
    gen.manual_seed(0)
    types = torch.arange(N, device=dev) % M
    state = torch.randint(0, S, (N,), device=dev, generator=gen)
    phi = torch.randn(S, d, device=dev, generator=gen) / d ** 0.5
    theta = torch.zeros(N, d, device=dev)
    idx = torch.arange(N, device=dev)
    a, b, g = args.alpha, args.beta, args.gamma

    def one_round():
        nonlocal state, phi, theta
        phi_i = phi.expand(N, S, d).clone()  # each agent's local copy
        for _ in range(K):
            u = torch.rand(N, device=dev, generator=gen)
            nxt = (cum[types, state] <= u[:, None]).sum(dim=1)  # first column whose cumsum exceeds u
            rho = R[types, state, nxt]
            ps = phi_i[idx, state]  # [N, d]
            pn = phi_i[idx, nxt]
            delta = rho + g * (pn * theta).sum(1) - (ps * theta).sum(1)
            new_theta = theta + a * delta[:, None] * ps
            phi_i[idx, state] = ps + b * delta[:, None] * theta
            theta = new_theta
            state = nxt
        phi = phi_i.mean(dim=0)

    one_round()  # warm-up (kernels, allocator)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(args.rounds):
        one_round()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    steps = N * K * args.rounds
    print(f"torch_baseline: {steps / dt:.4g} agent-steps/s  (N={N} d={d} K={K} S={S} M={M} rounds={args.rounds}, "
          f"{dt:.3f} s, torch {torch.__version__}, {dev})")


if __name__ == "__main__":
    main()
