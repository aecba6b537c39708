#!/usr/bin/env python3
"""The split of a round by kernel, from `ncu --csv --metrics gpu__time_duration.sum` over a run of
R rounds (bench/gpu_check.sh profile): each kernel's device time per round and its share, largest
first, so that the next change is chosen from a measurement. CUB's kernels are grouped under their
algorithm (its sort's passes as one line, its selection as another).

usage: ncu_split.py REPORT.csv ROUNDS [LABEL]

ncu's CSV has one row per metric and launch (columns "ID", "Kernel Name", "Metric Name", "Metric
Unit", "Metric Value"; values may carry thousands separators); the program's own output lines are
mixed in and skipped.
"""
import csv
import sys

UNITS = {"nsecond": 1e-3, "usecond": 1.0, "msecond": 1e3, "second": 1e6}


def short(name):
    """A kernel's name without its parameters and template arguments; CUB's by what they do."""
    n = name.split("(")[0].strip()
    if "cub::" in name or n.startswith("cub"):
        if "Select" in name:
            return "cub select (runs)"
        if "Radix" in name or "Onesweep" in name or "Histogram" in name or "ExclusiveSum" in name:
            return "cub radix sort"
        return "cub (other)"
    for key in ("void ", "__global__ "):
        if n.startswith(key):
            n = n[len(key):]
    return n.split("<")[0] + ("<" + n.split("<")[1].split(">")[0] + ">" if "<" in n else "")


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: ncu_split.py REPORT.csv ROUNDS [LABEL]")
    rounds = float(sys.argv[2])
    label = sys.argv[3] if len(sys.argv) == 4 else ""
    rows = [line for line in open(sys.argv[1], errors="replace") if line.startswith('"')]
    us, launches = {}, {}
    for r in csv.DictReader(rows):
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        try:
            t = float(r["Metric Value"].replace(",", "")) * UNITS.get(r.get("Metric Unit", "nsecond"), 1e-3)
        except (KeyError, ValueError):
            continue
        k = short(r.get("Kernel Name", "?"))
        us[k] = us.get(k, 0.0) + t
        launches[k] = launches.get(k, 0) + 1
    total = sum(us.values())
    if not us:
        print(f"{label}: no kernel times in {sys.argv[1]} (see it and its .err)")
        return
    print(f"{label}: {total / rounds:.1f} us of kernels a round ({len(us)} kernels, {int(sum(launches.values()))} launches "
          f"in {rounds:g} rounds)")
    for k, t in sorted(us.items(), key=lambda kv: -kv[1]):
        print(f"  {k:<44} {t / rounds:10.1f} us/round {100 * t / total:5.1f}%  ({launches[k] / rounds:g} launches a round)")


if __name__ == "__main__":
    main()
