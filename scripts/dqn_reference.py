#!/usr/bin/env python3
"""One agent's DQN gradient steps written independently in NumPy (float64, matrix form), recorded for
tests/test_dqn.cc, which checks kernels/pfr_dqn.h (forward, backward, Adam or SGD) against them to
1e-5 on the same weights and minibatch:

    python3 scripts/dqn_reference.py tests/fixtures/dqn_reference.txt

The network is PFedDQN-Rep's: a body of fully connected layers, each followed by its activation
(ReLU or tanh), W [out, in] and b [out] per layer, and a linear head theta [A, d]; Q(s, a) =
theta[a] . body(s). A step: targets y = r + gamma (1 - done) max_a' Q_target(s', a'), the mean over
the minibatch of the squared loss (e^2 / 2) or Huber's (delta 1) of e = Q(s, a) - y, its gradient by
back-propagation, then Adam (PyTorch's form) or SGD. Two steps per case, from the same minibatch.

The file: per case a line `case NAME`, then `KEY n v1 .. vn` lines (every value with 17 significant
digits), `end`. Inputs: widths, act (0 relu, 1 tanh), A, huber, sgd, lr, gamma, body, head,
body_tgt, head_tgt, obs [B, n_obs], next, reward, action, done; outputs after each step k = 1, 2:
loss_k, gbody_k, ghead_k, body_k, head_k.
"""
import argparse

import numpy as np


def forward(ws, x, act):
    """x [B, n0] -> every layer's activations (the input first)."""
    acts = [x]
    for W, b in ws:
        z = acts[-1] @ W.T + b
        acts.append(np.maximum(z, 0.0) if act == 0 else np.tanh(z))
    return acts


def dact(y, act):
    return (y > 0).astype(np.float64) if act == 0 else 1.0 - y * y


def step(case, body, head, body_t, head_t, m, v, t):
    """One gradient step; returns the loss, the gradients and the new parameters (and moments)."""
    act, huber, gamma, lr = case["act"], case["huber"], case["gamma"], case["lr"]
    B = len(case["reward"])
    f_next = forward(body_t, case["next"], act)[-1]
    y = case["reward"] + gamma * (1.0 - case["done"]) * (f_next @ head_t.T).max(axis=1)
    acts = forward(body, case["obs"], act)
    f = acts[-1]
    a = case["action"].astype(int)
    e = (f @ head.T)[np.arange(B), a] - y
    ae = np.abs(e)
    loss = np.mean(np.where((ae > 1.0) & (huber == 1), ae - 0.5, 0.5 * e * e))
    g = (np.clip(e, -1.0, 1.0) if huber else e) / B  # dloss/dQ of each sample
    ghead = np.zeros_like(head)
    np.add.at(ghead, a, g[:, None] * f)
    delta = g[:, None] * head[a] * dact(f, act)  # [B, d]
    gbody = [None] * len(body)
    for l in range(len(body) - 1, -1, -1):
        W, _ = body[l]
        gbody[l] = (delta.T @ acts[l], delta.sum(axis=0))
        if l > 0:
            delta = (delta @ W) * dact(acts[l], act)
    flat_g = np.concatenate([np.concatenate([gw.ravel(), gb]) for gw, gb in gbody] + [ghead.ravel()])
    flat_p = np.concatenate([np.concatenate([W.ravel(), b]) for W, b in body] + [head.ravel()])
    if case["sgd"]:
        new = flat_p - lr * flat_g
    else:
        b1, b2, eps = 0.9, 0.999, 1e-8
        m[:] = b1 * m + (1 - b1) * flat_g
        v[:] = b2 * v + (1 - b2) * flat_g * flat_g
        new = flat_p - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
    return loss, flat_g, new


def unflatten(flat, widths, A):
    body, at = [], 0
    for l in range(len(widths) - 1):
        ni, no = widths[l], widths[l + 1]
        W = flat[at:at + no * ni].reshape(no, ni)
        at += no * ni
        body.append((W, flat[at:at + no]))
        at += no
    return body, flat[at:].reshape(A, widths[-1])


def line(f, key, values):
    values = np.asarray(values, dtype=np.float64).ravel()
    f.write(f"{key} {len(values)} " + " ".join(f"{x:.17g}" for x in values) + "\n")


def make_case(f, name, widths, A, act, huber, sgd, B, seed):
    rng = np.random.default_rng(seed)
    f32 = lambda a: np.asarray(a, dtype=np.float32).astype(np.float64)  # the C side holds floats
    body = [(f32(rng.normal(0, 1 / np.sqrt(widths[l]), (widths[l + 1], widths[l]))),
             f32(rng.normal(0, 0.1, widths[l + 1]))) for l in range(len(widths) - 1)]
    head = f32(rng.normal(0, 1 / np.sqrt(widths[-1]), (A, widths[-1])))
    body_t = [(f32(W + rng.normal(0, 0.05, W.shape)), f32(b)) for W, b in body]
    head_t = f32(head + rng.normal(0, 0.05, head.shape))
    case = {"act": act, "huber": huber, "sgd": sgd, "lr": float(np.float32(3e-3)), "gamma": float(np.float32(0.9)),
            "obs": f32(rng.normal(0, 1, (B, widths[0]))), "next": f32(rng.normal(0, 1, (B, widths[0]))),
            "reward": f32(rng.normal(0, 2, B)), "action": rng.integers(0, A, B).astype(np.float64),
            "done": (rng.random(B) < 0.2).astype(np.float64)}
    f.write(f"case {name}\n")
    line(f, "widths", widths)
    for k in ("act", "huber", "sgd", "lr", "gamma"):
        line(f, k, [case[k]])
    line(f, "A", [A])
    line(f, "body", np.concatenate([np.concatenate([W.ravel(), b]) for W, b in body]))
    line(f, "head", head)
    line(f, "body_tgt", np.concatenate([np.concatenate([W.ravel(), b]) for W, b in body_t]))
    line(f, "head_tgt", head_t)
    for k in ("obs", "next", "reward", "action", "done"):
        line(f, k, case[k])
    n = sum(W.size + b.size for W, b in body) + head.size
    m, v = np.zeros(n), np.zeros(n)
    for t in (1, 2):
        loss, g, new = step(case, body, head, body_t, head_t, m, v, t)
        nb = n - head.size
        line(f, f"loss_{t}", [loss])
        line(f, f"gbody_{t}", g[:nb])
        line(f, f"ghead_{t}", g[nb:])
        line(f, f"body_{t}", new[:nb])
        line(f, f"head_{t}", new[nb:])
        body, head = unflatten(new, widths, A)
    f.write("end\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    a = ap.parse_args()
    with open(a.out, "w") as f:
        f.write("# scripts/dqn_reference.py: one agent's DQN steps in NumPy (float64), for tests/test_dqn.cc\n")
        make_case(f, "cartpole_relu_mse_adam", [4, 64, 16], 2, 0, 0, 0, 16, 1)
        make_case(f, "acrobot_tanh_huber_adam", [6, 24, 24, 8], 3, 1, 1, 0, 37, 2)
        make_case(f, "small_relu_mse_sgd", [4, 8], 2, 0, 0, 1, 5, 3)


if __name__ == "__main__":
    main()
