"""What the NumPy and PyTorch baselines share, so that both always take the same settings and
read the same chains: the command line and the exported environment (`pfedrl export`)."""
import argparse
import os

import numpy as np


def parse_args(description, extra=None):
    """The baselines' common options; `extra(ap)` may add its own."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("env_dir", help="directory written by `pfedrl export` (P.npy, R.npy)")
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
