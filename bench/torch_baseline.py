#!/usr/bin/env python3
"""PFedTD-Rep written the way a researcher would with PyTorch on the GPU, batched over agents.

The baseline the CUDA engine is compared against (issue 3: >= 20x this, same machine, same run).
Same chains as pfedrl (exported with `pfedrl export`), same update rule and round structure as
bench/numpy_baseline.py, which it follows line for line with torch tensors: every agent copies the
shared Phi, takes K TD steps updating theta_i and its Phi_i rows, then Phi is the mean of the Phi_i.
Random numbers come from torch's generator (speed, not bit-equality, is measured).

With --compile the step is compiled by torch.compile (TorchInductor: fused kernels instead of one
launch per operation), the idiomatic way to make such a loop fast in PyTorch 2; the first round,
which compiles, is not timed. (Written without torch at hand; bench/gpu_check.sh runs it.)

usage: torch_baseline.py ENV_DIR [--agents N] [--dim d] [--local-steps K] [--rounds R] [--device cuda]
                         [--compile]
prints one line: agent-steps/s and the settings.
"""
import time

import torch

from baseline_common import load_env, parse_args


def main():
    def extra(ap):
        ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
        ap.add_argument("--compile", action="store_true", help="compile the step with torch.compile")

    args = parse_args(__doc__, extra)
    dev = torch.device(args.device)
    P, cum_np, R_np = load_env(args.env_dir)
    M, S, _ = P.shape
    N, d, K = args.agents, args.dim, args.local_steps
    cum = torch.tensor(cum_np, device=dev)  # [M, S, S]
    R = torch.tensor(R_np, device=dev)  # [M, S, S]

    gen = torch.Generator(device=dev)
    gen.manual_seed(0)
    types = torch.arange(N, device=dev) % M
    state = torch.randint(0, S, (N,), device=dev, generator=gen)
    phi = torch.randn(S, d, device=dev, generator=gen) / d ** 0.5
    theta = torch.zeros(N, d, device=dev)
    idx = torch.arange(N, device=dev)
    a, b, g = args.alpha, args.beta, args.gamma

    def step(state, theta, phi_i, u):
        """One TD step of every agent on its own Phi_i (in place); the new states and thetas."""
        nxt = (cum[types, state] <= u[:, None]).sum(dim=1)  # first column whose cumsum exceeds u
        rho = R[types, state, nxt]
        ps = phi_i[idx, state]  # [N, d]
        pn = phi_i[idx, nxt]
        delta = rho + g * (pn * theta).sum(1) - (ps * theta).sum(1)
        new_theta = theta + a * delta[:, None] * ps
        phi_i[idx, state] = ps + b * delta[:, None] * theta
        return nxt, new_theta

    if args.compile:
        step = torch.compile(step)

    def one_round():
        nonlocal state, phi, theta
        phi_i = phi.expand(N, S, d).clone()  # each agent's local copy
        for _ in range(K):
            u = torch.rand(N, device=dev, generator=gen)
            state, theta = step(state, theta, phi_i, u)
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
    label = "torch_compile_baseline" if args.compile else "torch_baseline"
    print(f"{label}: {steps / dt:.4g} agent-steps/s  (N={N} d={d} K={K} S={S} M={M} rounds={args.rounds}, "
          f"{dt:.3f} s, torch {torch.__version__}, {dev})")


if __name__ == "__main__":
    main()
