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


def load_env_rows(env_dir):
    """The chains as padded rows for integer sampling (bench/jax_tuned.py): for global row q = m S + s,
    thr [M S, L] uint32 thresholds (the row's cumulative probability times 2^32; the last entry and
    the padding 2^32 - 1), nxt [M S, L] int32 next states and rew [M S, L] float32 rewards, a row
    shorter than the longest (L) padded with copies of its last entry. A draw u of 32 random bits
    takes entry min(#(thr <= u), L - 1). Returns thr, nxt, rew, M, S."""
    indptr = np.load(os.path.join(env_dir, "P_indptr.npy"))
    indices = np.load(os.path.join(env_dir, "P_indices.npy")).astype(np.int32)
    p = np.load(os.path.join(env_dir, "P_data.npy"))
    reward = np.load(os.path.join(env_dir, "R_data.npy")).astype(np.float32)
    M, S1 = indptr.shape
    S = S1 - 1
    starts, ends = indptr[:, :-1].reshape(-1), indptr[:, 1:].reshape(-1)
    lengths = ends - starts
    L = int(lengths.max())
    pos = np.minimum(starts[:, None] + np.arange(L)[None, :], (ends - 1)[:, None])  # [M S, L], padded by repeats
    csum = np.cumsum(p)
    before = np.concatenate(([0.0], csum))[starts]  # the mass before each row
    within = csum[pos] - before[:, None]
    thr = np.minimum(np.floor(within * 2.0**32), 2.0**32 - 1).astype(np.uint32)
    thr[np.arange(L)[None, :] >= (lengths - 1)[:, None]] = np.uint32(0xFFFFFFFF)
    return thr, indices[pos], reward[pos], M, S
