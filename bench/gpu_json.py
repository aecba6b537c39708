#!/usr/bin/env python3
"""The headline GPU figures as bench/results/gpu.json: one row per target of the GPU issue (the
point, its value, its target, whether met, and the device, commit and date it was measured on).
bench/gpu_check.sh's bench and scale phases call it with what they measured; rows they did not
measure keep the values of the file they start from (--base, the repository's copy), each row with
its own device, commit and date. The phase writes $OUT/gpu.json; the session that ran it copies that
file over bench/results/gpu.json (a dry run's file says "dry_run": true and is never copied).

usage: gpu_json.py --base FILE --out FILE [--bench FILE]... [--jax-tuned RATE] [--dry-run]
  --bench       a `pfedrl bench --json` file (its points fill the rows of the same name)
  --jax-tuned   bench/jax_tuned.py's agent-steps/s at the cliff walk point (N = 1e6, K = 100, d = 8),
                for the ratio row (the cliff_k100 row's value over it)
prints one line: the targets met and each row's value.
"""
import argparse
import json
import math
import os
import time

# (row, what, unit, "ge" or "le", target): the table, the one list of the GPU targets
TARGETS = [
    ("cliff_k100", "cliff walk, N = 1e6, K = 100, d = 8", "agent-steps/s", "ge", 2e10),
    ("cliff_k1", "a K = 1 round, N = 1e6 (cliff walk)", "us", "le", 150.0),
    ("grid_1e4", "bench grid world, N = 1e6, K = 10, S = 10^4", "agent-steps/s", "ge", 6e9),
    ("grid_2.5e5", "bench grid world, N = 1e6, K = 10, S = 2.5 x 10^5", "agent-steps/s", "ge", 3e9),
    ("grid_1e6", "bench grid world, N = 1e6, K = 10, S = 10^6 (one H100)", "agent-steps/s", "ge", 2e9),
    ("vs_jax_tuned", "cliff_k100 against the tuned JAX baseline, same GPU", "x", "ge", 3.0),
]


def met(kind, value, target):
    if value is None or not math.isfinite(value):
        return None
    return value >= target if kind == "ge" else value <= target


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--bench", action="append", default=[])
    ap.add_argument("--jax-tuned", type=float)
    ap.add_argument("--dry-run", action="store_true")
    a = ap.parse_args()
    base = json.load(open(a.base)) if os.path.exists(a.base) else {"rows": []}
    rows = {r["point"]: r for r in base.get("rows", [])}
    date = time.strftime("%Y-%m-%d", time.gmtime())
    for path in a.bench:
        b = json.load(open(path))
        device = " / ".join(line.strip() for line in b.get("engines", "").splitlines() if "device " in line or "driver" in line)
        for p in b["points"]:
            if p["name"] not in dict((t[0], t) for t in TARGETS):
                continue
            unit = next(t[2] for t in TARGETS if t[0] == p["name"])
            ok = p["status"] == "ok"
            value = (p["us_per_round"] if unit == "us" else p["agent_steps_per_sec"]) if ok else None
            rows[p["name"]] = {"point": p["name"], "value": value, "status": p["status"], "backend": p["backend"],
                               "agents": p["agents"], "device": device or b.get("cpu", ""), "commit": b["commit"],
                               "date": date}
    if a.jax_tuned and rows.get("cliff_k100", {}).get("value"):
        r = rows["cliff_k100"]
        rows["vs_jax_tuned"] = {"point": "vs_jax_tuned", "value": r["value"] / a.jax_tuned, "status": "ok",
                                "jax_tuned_rate": a.jax_tuned, "device": r["device"], "commit": r["commit"],
                                "date": date}
    out_rows, parts, n_met, n_measured = [], [], 0, 0
    for name, what, unit, kind, target in TARGETS:
        r = dict(rows.get(name, {"point": name, "value": None, "status": "not measured"}))
        r.update({"what": what, "unit": unit, "target": target, "target_is": "at least" if kind == "ge" else "at most"})
        r["met"] = met(kind, r.get("value"), target)
        out_rows.append(r)
        if r["met"] is not None:
            n_measured += 1
            n_met += bool(r["met"])
        v = r.get("value")
        parts.append(f"{name} " + (f"{v:.4g} {unit}" if v is not None else f"({r.get('status', '?')})")
                     + ("" if r["met"] is None else " (met)" if r["met"] else " (missed)"))
    doc = {"about": "the CUDA engine's headline figures against the targets of its issue; each row from the run "
                    "that measured it (bench/gpu_check.sh bench and scale; bench/RESULTS.md has the details)",
           "dry_run": a.dry_run, "rows": out_rows}
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, a.out)
    print(f"targets met {n_met}/{n_measured}: " + "; ".join(parts))


if __name__ == "__main__":
    main()
