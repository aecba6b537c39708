"""What the NumPy and PyTorch baselines share, so that both always take the same settings and
read the same chains: the command line and the exported environment (`pfedrl export`)."""
import argparse
import os

import numpy as np


def parse_args(description, extra=None):
    """The baselines' common options; `extra(ap)` may add its own."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("env_dir", help="directory written by `pfedrl export`")
    ap.add_argument("--agents", type=int, default=4096)
    ap.add_argument("--dim", type=int, default=8)
    ap.add_argument("--local-steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--alpha", type=float, default=0.1)
    ap.add_argument("--beta", type=float, default=0.05)
    ap.add_argument("--gamma", type=float, default=0.9)
    if extra:
        extra(ap)
    return ap.parse_args()


def load_env(env_dir):
    """P [M, S, S] float64, its row-wise cumulative sums as float32 with the last column raised to
    2 (so a uniform draw always lands in a row), and R [M, S, S] float32."""
    P = np.load(os.path.join(env_dir, "P.npy"))
    R = np.load(os.path.join(env_dir, "R.npy")).astype(np.float32)
    cum = np.cumsum(P, axis=2).astype(np.float32)
    cum[:, :, -1] = 2.0
    return P, cum, R


def load_env_sparse(env_dir):
    """The chains as sparse rows (P_indptr [M, S+1], P_indices, P_data, R_data [nnz]), arranged for
    sampling every agent with one searchsorted: entry k of global row q = m S + s gets the key
    q + (cumulative probability up to and including k), the row's last entry exactly q + 1. A draw
    u in [0, 1) for row q lands on the first entry whose key exceeds q + u. Returns indptr, the next
    states, the keys and the rewards (float32)."""
    indptr = np.load(os.path.join(env_dir, "P_indptr.npy"))
    indices = np.load(os.path.join(env_dir, "P_indices.npy")).astype(np.int64)
    p = np.load(os.path.join(env_dir, "P_data.npy"))
    reward = np.load(os.path.join(env_dir, "R_data.npy")).astype(np.float32)
    M, S1 = indptr.shape
    starts = indptr[:, :-1].reshape(-1)
    lengths = np.diff(indptr, axis=1).reshape(-1)
    row = np.repeat(np.arange(M * (S1 - 1)), lengths)
    csum = np.cumsum(p)
    before = np.concatenate(([0.0], csum))[starts]  # cumulative mass before each row
    within = csum - np.repeat(before, lengths)
    last = indptr[:, 1:].reshape(-1) - 1
    within[last] = 1.0
    key = row + within
    return indptr, indices, key, reward
