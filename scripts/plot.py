#!/usr/bin/env python3
"""Figures (PNG and PDF) from sweeps written by scripts/sweep.py.

  plot.py curves SWEEP_DIR [SWEEP_DIR...] --out FIG [--hue algorithm] [--x agent_steps] [--y value_error]
      mean of y over seeds against x, one line per hue value, with a 95% confidence band
      (Student t over seeds); log y axis. Several sweep directories are overlaid (e.g. the
      methods of the generalization experiment, each its own sweep with a --tag).
  plot.py speedup SWEEP_DIR --out FIG [--threshold 0.2] [--by agents] [--metric td_fixed_point_error]
      against N on log-log axes: (a) the across-seed variance of the final Phi,
      E||Phi - mean Phi||_F^2 over seeds; (b) the rounds each seed needs to bring --metric
      (default td_fixed_point_error, which depends on the shared Phi only) to <= threshold. Each panel shows the least-squares slope with its 95% confidence interval.
      Prints the fitted slopes and writes them to FIG.json.

Only numpy and matplotlib are needed.
"""
import argparse
import csv
import json
import math
import os
import sys
from collections import defaultdict

import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# two-sided 95% Student t quantiles, df = 1..30; the normal value beyond
_T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042]


def t95(df):
    return _T95[df - 1] if 1 <= df <= 30 else 1.96


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def save(fig, out):
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    fig.tight_layout()
    fig.savefig(out + ".png", dpi=150)
    fig.savefig(out + ".pdf")
    plt.close(fig)
    print(f"plot: wrote {out}.png and {out}.pdf")


def fit_loglog(x, y):
    """Least-squares slope of log y on log x, with its 95% confidence half-width."""
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    n = len(lx)
    A = np.vstack([lx, np.ones(n)]).T
    coef, res, _, _ = np.linalg.lstsq(A, ly, rcond=None)
    slope, icpt = coef
    if n > 2:
        resid = ly - A @ coef
        s2 = resid @ resid / (n - 2)
        se = math.sqrt(s2 / np.sum((lx - lx.mean()) ** 2))
        half = t95(n - 2) * se
    else:
        half = float("nan")
    return slope, icpt, half


def cmd_curves(args):
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for sweep in args.sweep:
        rows = read_csv(os.path.join(sweep, "sweep.csv"))
        groups = defaultdict(lambda: defaultdict(list))  # hue -> x -> [y over seeds]
        for r in rows:
            y = r.get(args.y, "")
            if y == "":
                continue
            groups[r.get(args.hue, os.path.basename(sweep))][float(r[args.x])].append(float(y))
        for hue, byx in sorted(groups.items()):
            xs = sorted(byx)
            mean = np.array([np.mean(byx[x]) for x in xs])
            half = np.array([t95(len(byx[x]) - 1) * np.std(byx[x], ddof=1) / math.sqrt(len(byx[x]))
                             if len(byx[x]) > 1 else 0.0 for x in xs])
            n = max(len(v) for v in byx.values())
            line, = ax.plot(xs, mean, label=f"{hue} (n={n})")
            ax.fill_between(xs, np.maximum(mean - half, 1e-12), mean + half, color=line.get_color(), alpha=0.2)
    ax.set_yscale("log")
    ax.set_xlabel(args.x.replace("_", " "))
    ax.set_ylabel(args.y.replace("_", " "))
    if args.title:
        ax.set_title(args.title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, args.out)


def rounds_to_reach(rows, threshold, metric):
    """First evaluated round with metric <= threshold (None if never)."""
    for r in sorted(rows, key=lambda r: int(r["round"])):
        if r[metric] != "" and float(r[metric]) <= threshold:
            return int(r["round"])
    return None


def cmd_speedup(args):
    summary = read_csv(os.path.join(args.sweep, "summary.csv"))
    rows = read_csv(os.path.join(args.sweep, "sweep.csv"))
    by_run = defaultdict(list)
    for r in rows:
        by_run[r["run"]].append(r)
    phis = defaultdict(list)
    reach = defaultdict(list)
    never = defaultdict(int)
    for s in summary:
        n = int(s[args.by])
        phis[n].append(np.load(os.path.join(s["dir"], "phi.npy")))
        t = rounds_to_reach(by_run[os.path.basename(s["dir"])], args.threshold, args.metric)
        if t is None:
            never[n] += 1
        else:
            reach[n].append(t)
    ns = sorted(phis)
    var = [float(np.mean(np.sum((np.stack(phis[n]) - np.mean(phis[n], axis=0)) ** 2, axis=(1, 2))))
           * len(phis[n]) / max(1, len(phis[n]) - 1) for n in ns]
    result = {"metric": args.metric, "threshold": args.threshold, "N": ns, "phi_variance": var, "seeds": [len(phis[n]) for n in ns]}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    ax = axes[0]
    slope, icpt, half = fit_loglog(ns, var)
    result["phi_variance_slope"] = [slope, half]
    ax.loglog(ns, var, "o", label="measured")
    xx = np.array([ns[0], ns[-1]], float)
    ax.loglog(xx, np.exp(icpt) * xx ** slope, "-", label=f"fit: slope {slope:.2f} ± {half:.2f}")
    ax.loglog(xx, var[0] * (xx / xx[0]) ** -1.0, ":", color="gray", label="slope -1 (theory)")
    ax.set_xlabel(f"N ({args.by})")
    ax.set_ylabel("across-seed variance of Phi (sum over entries)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax = axes[1]
    rn = [n for n in ns if reach[n]]
    rm = [float(np.mean(reach[n])) for n in rn]
    result["rounds_to_threshold"] = {str(n): reach[n] for n in ns}
    result["never_reached"] = {str(n): never[n] for n in ns}
    if len(rn) >= 2:
        slope, icpt, half = fit_loglog(rn, rm)
        result["rounds_slope"] = [slope, half]
        xx = np.array([rn[0], rn[-1]], float)
        ax.loglog(rn, rm, "o", label="measured (mean over seeds)")
        ax.loglog(xx, np.exp(icpt) * xx ** slope, "-", label=f"fit: slope {slope:.2f} ± {half:.2f}")
        ax.loglog(xx, rm[0] * (xx / xx[0]) ** -1.0, ":", color="gray", label="slope -1 (theory)")
    ax.set_xlabel(f"N ({args.by})")
    ax.set_ylabel(f"rounds to {args.metric} <= {args.threshold}")
    ax.grid(True, which="both", alpha=0.3)
    if len(rn) >= 2:
        ax.legend(fontsize=8)
    else:
        ax.set_title("fewer than two N reached the threshold", fontsize=9)
    save(fig, args.out)
    with open(args.out + ".json", "w") as f:
        json.dump(result, f, indent=1)
    print("plot: phi variance slope %.3f ± %.3f" % tuple(result["phi_variance_slope"]))
    if "rounds_slope" in result:
        print("plot: rounds-to-threshold slope %.3f ± %.3f" % tuple(result["rounds_slope"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("curves")
    c.add_argument("sweep", nargs="+")
    c.add_argument("--out", required=True)
    c.add_argument("--hue", default="algorithm")
    c.add_argument("--x", default="agent_steps")
    c.add_argument("--y", default="value_error")
    c.add_argument("--title", default="")
    s = sub.add_parser("speedup")
    s.add_argument("sweep")
    s.add_argument("--out", required=True)
    s.add_argument("--threshold", type=float, default=0.2)
    s.add_argument("--by", default="agents")
    s.add_argument("--metric", default="td_fixed_point_error",
                   help="error whose time-to-threshold is measured; the default depends on Phi alone")
    args = ap.parse_args()
    try:
        {"curves": cmd_curves, "speedup": cmd_speedup}[args.cmd](args)
    except (OSError, KeyError, ValueError) as e:
        sys.exit(f"plot: {e}")


if __name__ == "__main__":
    main()
