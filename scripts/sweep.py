#!/usr/bin/env python3
"""Run one pfedrl config over a grid of values and collect one tidy CSV.

    sweep.py CONFIG.yaml --vary agents=1,4,16 --vary seed=0..9 [--vary algorithm=pfedtd_rep,fedtd]
             [--set key=value]... --out DIR [--jobs J] [--threads T] [--pfedrl PATH] [--tag NAME=VALUE]

Every combination of the --vary values (their Cartesian product) is one `pfedrl run` with those
keys set (after the --set ones), written to DIR/runs/<key=value,...>/. Runs that already finished
with the same config and settings are not run again, so an interrupted sweep resumes. Runs go J at a
time (default: one per core), each with T CPU-engine threads (default: cores / J).

Outputs:
  DIR/sweep.csv    every evaluation row of every run, with one column per varied key and `run`
  DIR/summary.csv  one row per run: varied keys, final metrics, wall time, the run's directory
  DIR/sweep.parquet, DIR/summary.parquet  the same, typed, where pandas and pyarrow are installed
  DIR/failures.csv the runs that failed (e.g. diverged), with pfedrl's message; exit 1 unless
                   --allow-failures
Values: comma lists (`a,b,c`), integer ranges (`0..9`), powers of two (`pow2:0..10` = 1..1024).
"""
import argparse
import csv
import itertools
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor


def parse_values(text):
    if text.startswith("pow2:"):
        lo, hi = text[5:].split("..")
        return [str(2 ** k) for k in range(int(lo), int(hi) + 1)]
    if ".." in text and "," not in text:
        lo, hi = text.split("..")
        return [str(v) for v in range(int(lo), int(hi) + 1)]
    return [v for v in text.split(",") if v != ""]


def write_parquet(out):
    """sweep.csv and summary.csv also as Parquet files beside them (typed columns: numbers as numbers,
    empty cells as missing), where pandas and a Parquet engine (pyarrow) are installed."""
    try:
        import pandas as pd
        pd.io.parquet.get_engine("auto")
    except ImportError:
        print("sweep: no sweep.parquet (pip install pandas pyarrow for one)", file=sys.stderr)
        return
    for name in ("sweep", "summary"):
        csv_path = os.path.join(out, name + ".csv")
        if os.path.getsize(csv_path) == 0:
            continue
        tmp = os.path.join(out, name + ".parquet.tmp")
        pd.read_csv(csv_path).to_parquet(tmp, index=False)
        os.replace(tmp, os.path.join(out, name + ".parquet"))
    print(f"sweep: and as {out}/sweep.parquet and summary.parquet", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config")
    ap.add_argument("--vary", action="append", default=[], metavar="KEY=VALUES")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--tag", action="append", default=[], metavar="NAME=VALUE",
                    help="constant columns added to every row (e.g. method=transfer)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--allow-failures", action="store_true",
                    help="exit 0 even if some runs fail (e.g. diverge); they are listed in DIR/failures.csv")
    ap.add_argument("--pfedrl", default=os.path.join(os.path.dirname(__file__), "..", "build", "pfedrl"))
    args = ap.parse_args()

    if not os.path.exists(args.pfedrl):
        sys.exit(f"sweep: pfedrl binary not found at {args.pfedrl} (build first: bash scripts/build.sh)")
    keys, grids = [], []
    for v in args.vary:
        if "=" not in v:
            sys.exit(f"sweep: --vary '{v}': expected KEY=VALUES")
        k, vals = v.split("=", 1)
        values = parse_values(vals)
        if not values:
            sys.exit(f"sweep: --vary '{v}': no values")
        keys.append(k)
        grids.append(values)
    tags = []
    for t in args.tag:
        if "=" not in t:
            sys.exit(f"sweep: --tag '{t}': expected NAME=VALUE")
        tags.append(tuple(t.split("=", 1)))
    jobs = max(1, args.jobs)
    threads = args.threads or max(1, (os.cpu_count() or 1) // jobs)
    combos = list(itertools.product(*grids)) if keys else [()]
    os.makedirs(os.path.join(args.out, "runs"), exist_ok=True)

    def run_one(combo):
        name = ",".join(f"{k}={v}" for k, v in zip(keys, combo)) or "run"
        rdir = os.path.join(args.out, "runs", name.replace("/", "_"))
        settings = [args.config] + args.set + [f"{k}={v}" for k, v in zip(keys, combo)]
        stamp = os.path.join(rdir, "sweep-settings.json")
        if os.path.exists(os.path.join(rdir, "summary.json")) and os.path.exists(stamp):
            with open(stamp) as f:
                if json.load(f) == settings:  # finished with the same settings: keep it
                    return combo, rdir, None
        cmd = [args.pfedrl, "run", args.config, "--quiet", "--force", "--threads", str(threads), "--out", rdir]
        for s in args.set:
            cmd += ["--set", s]
        for k, v in zip(keys, combo):
            cmd += ["--set", f"{k}={v}"]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode:
            return combo, rdir, p.stderr.strip() or p.stdout.strip()
        with open(stamp, "w") as f:
            json.dump(settings, f)
        return combo, rdir, None

    failures = []
    results = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for i, (combo, rdir, error) in enumerate(pool.map(run_one, combos), 1):
            if error:
                failures.append((combo, rdir, error))
                print(f"sweep: FAILED {rdir}: {error}", file=sys.stderr)
            else:
                results.append((combo, rdir))
            if sys.stderr.isatty():
                print(f"\rsweep: {i}/{len(combos)} runs", end="", file=sys.stderr)
    if sys.stderr.isatty():
        print(file=sys.stderr)

    tag_names = [t[0] for t in tags]
    with open(os.path.join(args.out, "sweep.csv"), "w", newline="") as f_rows, \
            open(os.path.join(args.out, "summary.csv"), "w", newline="") as f_sum:
        rows_w = sum_w = None
        for combo, rdir in results:
            with open(os.path.join(rdir, "summary.json")) as f:
                cfg = json.load(f)["config"]
            # the run's size, so figures can put agent-steps per agent and N on their axes
            extra = {"agents": str(cfg["agents"]), "local_steps": str(cfg["local_steps"])}
            extra.update(dict(zip(keys, combo)))
            extra.update(dict(tags))
            late = []  # the neural instance: greedy returns of the last quarter of the rounds
            with open(os.path.join(rdir, "metrics.csv")) as f:
                for row in csv.DictReader(f):
                    if row.get("greedy_return", "") not in ("", "nan") and \
                            4 * int(row["round"]) >= 3 * int(cfg["rounds"]):
                        late.append(float(row["greedy_return"]))
                    out = {**row, **extra, "run": os.path.basename(rdir)}
                    if rows_w is None:
                        rows_w = csv.DictWriter(f_rows, fieldnames=list(out.keys()), restval="", extrasaction="ignore")
                        rows_w.writeheader()
                    rows_w.writerow(out)
            with open(os.path.join(rdir, "summary.json")) as f:
                js = json.load(f)
            out = {**extra, "final_value_error": js["final_value_error"],
                   "final_td_fixed_point_error": js["final_td_fixed_point_error"],
                   "best_rank_d_error": js["best_rank_d_error"], "agent_steps": js["agent_steps"],
                   "agent_steps_per_sec": js["agent_steps_per_sec"], "wall_s": js["wall_s"],
                   "backend": js["backend"], "dir": rdir}
            out["final_policy_gap"] = js.get("final_policy_gap", "")  # control only
            # sum of squared errors over sum of squared values, every type pooled (runs before it: "")
            out["final_pooled_value_error"] = js.get("final_pooled_value_error", "")
            for k in ("final_return", "final_heldout_return", "final_success_rate", "final_td_loss"):  # neural only
                out[k] = "" if js.get(k) is None else js[k]
            # its mean over the evaluations of the last quarter of the rounds (a DQN's return swings)
            out["late_return"] = sum(late) / len(late) if late else ""
            fed = js.get("federation") or {}  # who took part, how much, how stale; the privacy spent
            for k in ("mean_participants", "mean_steps", "mean_staleness", "epsilon"):
                out[k] = "" if fed.get(k) is None else fed[k]
            if sum_w is None:
                sum_w = csv.DictWriter(f_sum, fieldnames=list(out.keys()))
                sum_w.writeheader()
            sum_w.writerow(out)
    fpath = os.path.join(args.out, "failures.csv")
    if failures:
        with open(fpath, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(keys + ["dir", "error"])
            for combo, rdir, error in failures:
                w.writerow(list(combo) + [rdir, error])
    elif os.path.exists(fpath):
        os.remove(fpath)
    print(f"sweep: {len(results)} runs collected into {args.out}/sweep.csv and summary.csv"
          + (f"; {len(failures)} FAILED (listed in failures.csv)" if failures else ""), file=sys.stderr)
    write_parquet(args.out)
    sys.exit(1 if failures and not args.allow_failures else 0)


if __name__ == "__main__":
    main()
