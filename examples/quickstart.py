"""Quickstart: pfedrl from Python. A sweep over the number of agents N on the heterogeneous cliff
walk, PFedTD-Rep against FedTD on fixed features, and a plot of the value error against rounds.
The curves of different N lie nearly on top of each other: at a constant step size the error is set
by the step size and the types' differences, not by N (the 1/N speedup is in the spread of Phi
across seeds: scripts/plot.py speedup, docs/EXPERIMENTS.md section 2).

    pip install ./python matplotlib
    python examples/quickstart.py                 # N = 16 .. 4096, 300 rounds, ~1 minute on 2 cores
    python examples/quickstart.py --agents 16 64 --rounds 30 --out /tmp/q.png   # a quick look
"""
from __future__ import annotations

import argparse
from pathlib import Path

import pfedrl

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--agents", type=int, nargs="+", default=[16, 64, 256, 1024, 4096])
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--out", default="quickstart.png", help="the figure (PNG or PDF)")
    args = ap.parse_args()

    curves = {}
    for algorithm in ("pfedtd_rep", "fedtd"):
        for n in args.agents:
            with pfedrl.Simulation(config=HERE / "cliffwalk.yaml", agents=n, algorithm=algorithm,
                                   eval_every=max(1, args.rounds // 30)) as sim:
                sim.run(args.rounds)
                m = sim.metrics
                curves[algorithm, n] = ([r["round"] for r in m], [r["value_error"] for r in m])
                print(f"{algorithm:11s} N={n:6d}  final value_error {m[-1]['value_error']:.4f}  "
                      f"({m[-1]['agent_steps_per_sec']:.3g} agent-steps/s on {sim.backend})")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, algorithm in zip(axes, ("pfedtd_rep", "fedtd")):
        for n in args.agents:
            x, y = curves[algorithm, n]
            ax.plot(x, y, label=f"N = {n}")
        ax.set(title=algorithm, xlabel="round", yscale="log")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("relative value error")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
