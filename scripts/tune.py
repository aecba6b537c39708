#!/usr/bin/env python3
"""Pick a method's step sizes the way a fair comparison needs: by a grid search on a seed that the
reported runs do not use, at the budget of the reported runs.

    tune.py CONFIG.yaml --grid alpha=0.05,0.1,0.2 [--grid beta=0.5,1,2] [--set key=value]...
            --seed 1000 --out DIR [--metric final_value_error] [--jobs J] [--seeds 1000,1001,1002]

Every grid point is one run (scripts/sweep.py, --allow-failures: a diverging setting just loses);
the one with the lowest final metric wins (--maximize: the highest, for a return). With --seeds, every grid point runs on each of those
seeds (none of them a reported seed), a point counts only if every seed finished, and the mean of
its metric decides: a setting at the edge of stability, which one seed survives by luck, loses. Writes DIR/best.json ({"alpha": "0.1", ...}, plus the
metric it reached and every candidate's result) and prints the winning settings as --set options,
so a script can use them:  SETS=$(python3 scripts/tune.py ... | tail -1)
"""
import argparse
import csv
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config")
    ap.add_argument("--grid", action="append", required=True, metavar="KEY=VALUES")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--seeds", default="", help="comma list: tune on every one of these seeds (overrides --seed)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--metric", default="final_value_error")
    ap.add_argument("--maximize", action="store_true", help="the largest metric wins (a return), not the smallest")
    ap.add_argument("--jobs", type=int, default=0)
    ap.add_argument("--pfedrl", default=os.path.join(HERE, "..", "build", "pfedrl"))
    a = ap.parse_args()
    seeds = [int(x) for x in a.seeds.split(",")] if a.seeds else [a.seed]
    cmd = [sys.executable, os.path.join(HERE, "sweep.py"), a.config, "--out", a.out, "--allow-failures",
           "--pfedrl", a.pfedrl]
    cmd += ["--set", f"seed={seeds[0]}"] if len(seeds) == 1 else ["--vary", "seed=" + ",".join(map(str, seeds))]
    if a.jobs:
        cmd += ["--jobs", str(a.jobs)]
    for s in a.set:
        cmd += ["--set", s]
    keys = []
    for g in a.grid:
        if "=" not in g:
            sys.exit(f"tune: --grid '{g}': expected KEY=VALUES")
        keys.append(g.split("=", 1)[0])
        cmd += ["--vary", g]
    p = subprocess.run(cmd, stdout=sys.stderr)
    if p.returncode:
        sys.exit(f"tune: the sweep failed ({p.returncode})")
    path = os.path.join(a.out, "summary.csv")
    rows = list(csv.DictReader(open(path))) if os.path.exists(path) else []
    rows = [r for r in rows if r.get(a.metric, "") not in ("", "nan", "inf")]
    # one candidate per grid point: the mean over its seeds, only if every seed finished
    by_point = {}
    for r in rows:
        by_point.setdefault(tuple(r[k] for k in keys), []).append(float(r[a.metric]))
    rows = [{**dict(zip(keys, point)), a.metric: sum(v) / len(v)}
            for point, v in by_point.items() if len(v) == len(seeds)]
    if not rows:
        sys.exit("tune: every candidate failed (on some seed); widen the grid toward smaller steps")
    best = (max if a.maximize else min)(rows, key=lambda r: float(r[a.metric]))
    result = {k: best[k] for k in keys}
    report = {"best": result, a.metric: float(best[a.metric]), "seed": seeds[0], "seeds": seeds,
              "candidates": [{**{k: r[k] for k in keys}, a.metric: float(r[a.metric])} for r in rows]}
    with open(os.path.join(a.out, "best.json"), "w") as f:
        json.dump(report, f, indent=1)
    print(f"tune: best {result} ({a.metric} {float(best[a.metric]):.4g}) of {len(rows)} candidates", file=sys.stderr)
    print(" ".join(f"--set {k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
