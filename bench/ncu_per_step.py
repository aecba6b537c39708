#!/usr/bin/env python3
"""One line from an `ncu --csv --metrics ...` report of one local-steps launch (bench/gpu_check.sh
bench): L2 requests and sectors per agent-step by reads and writes, registers and occupancy.

usage: ncu_per_step.py REPORT.csv AGENT_STEPS_IN_THE_LAUNCH

ncu's CSV has one row per metric (columns "Kernel Name", "Metric Name", "Metric Unit",
"Metric Value"; values may carry thousands separators); the program's own output lines are mixed in
and skipped.
"""
import csv
import sys


def read(path):
    rows = [line for line in open(path, errors="replace") if line.startswith('"')]
    values, kernel = {}, None
    for r in csv.DictReader(rows):
        name, value = r.get("Metric Name"), r.get("Metric Value", "")
        if not name:
            continue
        kernel = kernel or r.get("Kernel Name")
        try:
            values[name] = float(value.replace(",", ""))
        except ValueError:
            pass
    return kernel, values


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: ncu_per_step.py REPORT.csv AGENT_STEPS_IN_THE_LAUNCH")
    kernel, v = read(sys.argv[1])
    steps = float(sys.argv[2])
    need = ["lts__t_requests_srcunit_tex_op_read.sum", "lts__t_requests_srcunit_tex_op_write.sum"]
    if not all(k in v for k in need):
        print(f"ncu L2 counters: not read (see {sys.argv[1]} and its .err)")
        return
    per = lambda k: v.get(k, float("nan")) / steps
    print(f"ncu {(kernel or '?').split('(')[0].strip()}: per agent-step L2 requests "
          f"{per(need[0]):.2f} read / {per(need[1]):.2f} write, sectors "
          f"{per('lts__t_sectors_srcunit_tex_op_read.sum'):.2f} / {per('lts__t_sectors_srcunit_tex_op_write.sum'):.2f}; "
          f"{v.get('launch__registers_per_thread', float('nan')):.0f} registers a thread, "
          f"{v.get('sm__warps_active.avg.pct_of_peak_sustained_active', float('nan')):.1f}% warps active")


if __name__ == "__main__":
    main()
