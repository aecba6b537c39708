#!/usr/bin/env python3
"""PFedDQN-Rep's agents as a researcher would batch them in PyTorch: N CartPole agents, each with its
own network, replay buffer, target network and Adam state, stepped and trained together.

The baseline the CPU engine's neural instance is compared against (issue 28: >= 3x this on the same
cores). The same work per agent-step as `pfedrl run` with env.kind=cartpole: an epsilon-greedy step
of CartPole-v1 (per-agent pole lengths, Gymnasium's Euler update, in float64), the transition into
a ring buffer, then one gradient step on a minibatch drawn with replacement: the target network's
max over the next state, the mean squared TD error of each agent (summed over agents, so each
agent's gradient is its own), Adam (elementwise: each agent's own moments), the target copied every
`--target-every` gradient steps. Random numbers from torch's generator (speed, not bit-equality, is
measured). Learning starts once every buffer holds one minibatch, as the engine runs it with
dqn.learn_start = dqn.batch; the first `--warmup` steps are not timed (torch.compile's compilation
among them).

--mode picks how the agents are batched:
  bmm      [N, out, in] weight tensors applied with torch.bmm ("grouped bmm"), autograd, torch.optim.Adam
           (foreach): the idiomatic batched form
  compile  the same, with the Q-network's forward passes, the loss and Adam's step under
           torch.compile (inductor, C++ on the CPU)
  vmap     one agent's network written once and mapped over agents with torch.func.vmap(grad(...)),
           Adam as tensor operations on the stacked parameters

usage: torch_dqn.py [--agents N] [--steps T] [--mode bmm|compile|vmap] [--device cpu|cuda] [--hidden 64]
                    [--dim 16] [--batch 16] [--buffer 1000] [--threads 2]
prints one line: agent-steps/s and the settings.
"""
import argparse
import math
import time

import torch


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", type=int, default=256)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--buffer", type=int, default=1000)
    ap.add_argument("--target-every", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mode", choices=("bmm", "compile", "vmap"), default="bmm")
    ap.add_argument("--device", default="cpu", help="cpu, or cuda for the GPU (bench/gpu_check.sh neural)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_default_device(args.device)
    torch.manual_seed(0)
    N, H, d, B, C, A = args.agents, args.hidden, args.dim, args.batch, args.buffer, 2

    def linear(n_out, n_in):  # nn.Linear's default bounds, one matrix per agent
        bound = 1.0 / math.sqrt(n_in)
        w = (torch.rand(N, n_out, n_in) * 2 - 1) * bound
        b = (torch.rand(N, n_out, 1) * 2 - 1) * bound
        return w.requires_grad_(), b.requires_grad_()

    W1, b1 = linear(H, 4)
    W2, b2 = linear(d, H)
    head = ((torch.rand(N, A, d) * 2 - 1) / math.sqrt(d)).requires_grad_()
    params = [W1, b1, W2, b2, head]
    target = [p.detach().clone() for p in params]
    opt = torch.optim.Adam(params, lr=1e-3)

    def q_values(ps, x):  # x [N, n, 4] -> [N, n, A]
        w1, c1, w2, c2, th = ps
        h = torch.relu(torch.bmm(w1, x.transpose(1, 2)) + c1)  # [N, H, n]
        f = torch.relu(torch.bmm(w2, h) + c2)  # [N, d, n]
        return torch.bmm(th, f).transpose(1, 2)  # [N, n, A]

    def td_loss(o, nx, r, dn, ac):  # each agent's mean loss; their sum
        with torch.no_grad():
            y = r + gamma * (1 - dn) * q_values(target, nx).max(2).values
        q = q_values(params, o).gather(2, ac[:, :, None])[:, :, 0]
        return (0.5 * (q - y) ** 2).mean(1).sum()

    def greedy_of(ob):
        with torch.no_grad():
            return q_values(params, ob[:, None, :])[:, 0, :].argmax(1)

    opt_step = opt.step
    if args.mode == "compile":
        td_loss, greedy_of, opt_step = torch.compile(td_loss), torch.compile(greedy_of), torch.compile(opt.step)

    # vmap: one agent's network, mapped over the agents; the biases [N, out]
    from torch.func import grad, vmap

    def q_one(ps, x):  # x [n, 4] -> [n, A]
        w1, c1, w2, c2, th = ps
        h = torch.relu(x @ w1.T + c1[:, 0])
        return torch.relu(h @ w2.T + c2[:, 0]) @ th.T

    def loss_one(ps, tps, o, nx, r, dn, ac):
        y = r + gamma * (1 - dn) * q_one(tps, nx).max(1).values
        q = q_one(ps, o).gather(1, ac[:, None])[:, 0]
        return (0.5 * (q - y) ** 2).mean()

    grads_of = vmap(grad(loss_one))
    greedy_one = vmap(lambda ps, x: q_one(ps, x[None, :])[0].argmax())
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    adam_t = 0

    def vmap_step(o, nx, r, dn, ac):
        nonlocal adam_t
        ps = [p.detach() for p in params]
        gs = grads_of(ps, target, o, nx, r, dn, ac)
        adam_t += 1
        c1, c2 = 1 - 0.9 ** adam_t, 1 - 0.999 ** adam_t
        with torch.no_grad():
            for p, g, (m, v) in zip(params, gs, moments):
                m.mul_(0.9).add_(g, alpha=0.1)
                v.mul_(0.999).addcmul_(g, g, value=0.001)
                p.addcdiv_(m / c1, (v / c2).sqrt_().add_(1e-8), value=-1e-3)

    # CartPole-v1, Gymnasium's constants and Euler update, each agent its own half-length
    length = 0.1 + 0.8 * torch.rand(N, dtype=torch.float64)
    gravity, masscart, masspole, force_mag, tau = 9.8, 1.0, 0.1, 10.0, 0.02
    total_mass, pml = masspole + masscart, masspole * length
    lim = 12 * 2 * math.pi / 360
    s = (torch.rand(N, 4, dtype=torch.float64) - 0.5) * 0.1
    ep_t = torch.zeros(N, dtype=torch.int64)
    obs_buf, next_buf = torch.zeros(N, C, 4), torch.zeros(N, C, 4)
    rew_buf, done_buf, act_buf = torch.zeros(N, C), torch.zeros(N, C), torch.zeros(N, C, dtype=torch.int64)
    rows = torch.arange(N)
    eps, gamma, grad_steps = 1.0, 0.9, 0

    def step(t):
        nonlocal s, eps, grad_steps
        ob = s.float()
        if args.mode == "vmap":
            with torch.no_grad():
                greedy = greedy_one([p.detach() for p in params], ob)
        else:
            greedy = greedy_of(ob)
        explore = torch.rand(N) < eps
        a = torch.where(explore, torch.randint(0, A, (N,)), greedy)
        x, x_dot, th, th_dot = s.unbind(1)
        force = torch.where(a == 1, force_mag, -force_mag).double()
        ct, st = torch.cos(th), torch.sin(th)
        temp = (force + pml * th_dot * th_dot * st) / total_mass
        thacc = (gravity * st - ct * temp) / (length * (4.0 / 3.0 - masspole * ct * ct / total_mass))
        xacc = temp - pml * thacc * ct / total_mass
        s = torch.stack([x + tau * x_dot, x_dot + tau * xacc, th + tau * th_dot, th_dot + tau * thacc], 1)
        ep_t.add_(1)
        term = (s[:, 0].abs() > 2.4) | (s[:, 2].abs() > lim)
        trunc = (ep_t >= 500) & ~term
        slot = t % C
        obs_buf[:, slot], next_buf[:, slot] = ob, s.float()
        rew_buf[:, slot], done_buf[:, slot], act_buf[:, slot] = 1.0, term.float(), a
        reset = term | trunc
        if reset.any():
            s = torch.where(reset[:, None], (torch.rand(N, 4, dtype=torch.float64) - 0.5) * 0.1, s)
            ep_t.masked_fill_(reset, 0)
        if t + 1 < B:
            return
        idx = torch.randint(0, min(t + 1, C), (N, B))
        o, nx = obs_buf[rows[:, None], idx], next_buf[rows[:, None], idx]
        r, dn, ac = rew_buf[rows[:, None], idx], done_buf[rows[:, None], idx], act_buf[rows[:, None], idx]
        if args.mode == "vmap":
            vmap_step(o, nx, r, dn, ac)
        else:
            opt.zero_grad(set_to_none=True)
            td_loss(o, nx, r, dn, ac).backward()
            opt_step()
        grad_steps += 1
        eps = max(0.05, eps * 0.999)
        if grad_steps % args.target_every == 0:
            with torch.no_grad():
                for tp, p in zip(target, params):
                    tp.copy_(p)

    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    for t in range(args.warmup):
        step(t)
    sync()
    t0 = time.perf_counter()
    for t in range(args.warmup, args.warmup + args.steps):
        step(t)
    sync()
    dt = time.perf_counter() - t0
    print(f"torch_dqn: {N * args.steps / dt:.4g} agent-steps/s  agents={N} steps={args.steps} hidden={H} dim={d} "
          f"batch={B} threads={args.threads} mode={args.mode} device={args.device} torch={torch.__version__}")


if __name__ == "__main__":
    main()
