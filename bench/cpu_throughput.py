#!/usr/bin/env python3
"""The CPU engine against its yardsticks, all measured in this one run on this one machine.

For every point of the grid (state count S, representation d, local steps K, threads) it runs, in
turn and REPS times (A B A B ...: a drift of the machine's speed hits all alike):
  pfedrl           the CPU engine, PFedTD-Rep; its own agent_steps_per_sec (round time, the first
                   round left out)
  scalar loop      bench/scalar_loop.c: the same local steps and aggregation as a plain scalar C
                   loop on the same chains and random words (the reference the engine must beat 2x)
  NumPy            bench/numpy_baseline.py, vectorised over agents (the faster of its dense and
                   sparse-overlay modes; one thread, so measured once per (S, d, K))
and reports medians. Environments: S = 48 the cliff walk (4 types); S = 2,500, 40,000 and 10^6 grid
worlds (50 x 50, 200 x 200, 1000 x 1000) with 4 goals, 20% walls, 16 restart cells and wind per
type; 16 types, except 4 at 10^6 to keep each run's set-up near 15 s. Then per S: set-up seconds,
ground-truth seconds and solver, peak RSS; the memory per agent (peak RSS at N = 2^20 minus at
N = 4,096, over the difference); and 1 against 2 threads with one other busy process on the machine.

usage: cpu_throughput.py BUILD_DIR OUT_MD [--quick] [--reps R] [--sizes 48,2500,40000,1000000]
"""
import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

GRID = {  # S -> (width, height, types)
    2500: (50, 50, 16),
    40000: (200, 200, 16),
    1000000: (1000, 1000, 4),
}


def env_sets(S):
    if S == 48:
        return ["--set", "env.kind=cliffwalk", "--set", "env.types=4"]
    w, h, m = GRID[S]
    return ["--set", "env.kind=gridworld", "--set", f"env.width={w}", "--set", f"env.height={h}",
            "--set", f"env.types={m}", "--set", "env.goals=4", "--set", "env.walls=0.2",
            "--set", "env.starts=16", "--set", "env.wind_direction=per_type", "--set", "env.wind_max=0.2"]


def run_rss(cmd, env=None):
    """Run cmd; (stdout, peak RSS in bytes of the child). Fails loudly on a non-zero exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout}\n{p.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest so far: only a new maximum is visible, so each RSS figure
    # is taken from a fresh helper process (see peak_rss) when it matters
    return p.stdout, max(after, before) * 1024


def peak_rss(cmd):
    """Peak RSS of cmd alone, measured by a fresh Python helper (ru_maxrss of its only child)."""
    helper = ("import resource,subprocess,sys;"
              "r=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL);"
              "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss*1024)")
    out = subprocess.run([sys.executable, "-c", helper] + cmd, capture_output=True, text=True).stdout.split()
    if out[0] != "0":
        sys.exit(f"failed: {' '.join(cmd)}")
    return int(out[1])


def pfedrl_cmd(build, cfg, S, d, K, T, N, rounds, out):
    return [os.path.join(build, "pfedrl"), "run", cfg, *env_sets(S), "--set", f"agents={N}", "--set", f"dim={d}",
            "--set", f"local_steps={K}", "--set", f"rounds={rounds}", "--set", "eval_every=1000000000",
            "--set", "orthonormalize=false", "--set", "alpha=0.05", "--set", "beta=0.02",
            "--backend", "cpu", "--threads", str(T), "--out", out, "--quiet", "--force"]


def pfedrl_rate(build, cfg, S, d, K, T, N, rounds, tmp):
    out = os.path.join(tmp, "run")
    run_rss(pfedrl_cmd(build, cfg, S, d, K, T, N, rounds, out))
    js = json.load(open(os.path.join(out, "summary.json")))
    return js["agent_steps_per_sec"], js


def scalar_rate(build, cfg, S, d, K, T, N, rounds):
    cmd = [os.path.join(build, "pfr_scalar_loop"), cfg, *env_sets(S), "--set", f"agents={N}", "--set", f"dim={d}",
           "--set", f"local_steps={K}", "--set", "alpha=0.05", "--set", "beta=0.02",
           "--rounds", str(rounds), "--threads", str(T)]
    out, _ = run_rss(cmd)
    return float(out.split()[1])


def numpy_rate(env_dir, d, K, N, seconds):
    cmd = [sys.executable, os.path.join(HERE, "numpy_baseline.py"), env_dir, "--agents", str(N), "--dim", str(d),
           "--local-steps", str(K), "--rounds", "100000", "--seconds", str(seconds), "--alpha", "0.05",
           "--beta", "0.02"]
    out, _ = run_rss(cmd)
    return float(out.split()[1]), out.strip()


def fmt(x):
    return f"{x:.3g}" if x else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("out_md")
    ap.add_argument("--quick", action="store_true", help="S = 48 and 40,000 only, d = 8, one repetition")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--sizes", default="48,2500,40000,1000000")
    ap.add_argument("--dims", default="8,32", help="representation dimensions d")
    ap.add_argument("--steps", type=float, default=1e8, help="agent-steps per pfedrl / scalar-loop run")
    ap.add_argument("--numpy-seconds", type=float, default=3.0)
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    dims, Ks, reps = [int(x) for x in a.dims.split(",")], [1, 10], a.reps
    if a.quick:
        sizes, dims, reps = [s for s in sizes if s in (48, 40000)], [8], 1
    ncpu = os.cpu_count()
    threads = sorted({1, ncpu})
    N = 4096
    tmp = tempfile.mkdtemp(prefix="pfr_bench_")
    cfg = os.path.join(tmp, "base.yaml")
    open(cfg, "w").write("algorithm: pfedtd_rep\n")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    flags = next((l for l in open("/proc/cpuinfo") if l.startswith("flags")), "")
    lines = [f"machine: {cpu}, {ncpu} cores{', AVX-512F' if 'avx512f' in flags else ''}, "
             f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; "
             f"{platform.platform()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
             f"command: bash bench/cpu_throughput.sh{' --quick' if a.quick else ''} (N = {N}, "
             f"{a.steps:.0e} agent-steps a run, medians of {reps}; agent-steps/s)", ""]
    print("\n".join(lines), flush=True)

    table = ["| S | d | K | threads | pfedrl | scalar loop | NumPy | pfedrl / scalar | pfedrl / NumPy |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    setup = ["| S | types | set-up s | ground truth s | solver | peak RSS (MB) at d = 8, N = 4096 |",
             "|---:|---:|---:|---:|---|---:|"]
    rate_at = {}
    for S in sizes:
        env_dir = os.path.join(tmp, f"env{S}")
        run_rss([os.path.join(a.build, "pfedrl"), "export", cfg, *env_sets(S), "--set", "agents=1",
                 "--out", env_dir, "--quiet"])
        for d in dims:
            # the scalar loop sums into a dense [S, d] table every round (O(S d) a round): at 10^6
            # states and K = 1 one of its runs took over 10 minutes, so large S is measured at K = 10
            for K in (Ks if S < 10**6 else [k for k in Ks if k >= 10]):
                rounds = max(20, int(a.steps / (N * K)))
                np_rates = []
                for T in threads:
                    pf, sc = [], []
                    for r in range(reps):
                        rate, js = pfedrl_rate(a.build, cfg, S, d, K, T, N, rounds, tmp)
                        pf.append(rate)
                        sc.append(scalar_rate(a.build, cfg, S, d, K, T, N, rounds))
                        if T == 1:
                            np_rates.append(numpy_rate(env_dir, d, K, N, a.numpy_seconds)[0])
                    p, s = statistics.median(pf), statistics.median(sc)
                    n = statistics.median(np_rates) if np_rates else 0.0
                    rate_at[(S, d, K, T)] = p
                    row = (f"| {S} | {d} | {K} | {T} | {fmt(p)} | {fmt(s)} | {fmt(n)} | {p / s:.2f} | "
                           f"{(p / n if n else 0):.0f} |")
                    table.append(row)
                    print(row, f"(pfedrl {['%.3g' % x for x in pf]}, scalar {['%.3g' % x for x in sc]})",
                          flush=True)
        # set-up and memory, at d = 8
        out = os.path.join(tmp, "setup")
        rss = peak_rss(pfedrl_cmd(a.build, cfg, S, 8, 10, ncpu, N, 2, out))
        js = json.load(open(os.path.join(out, "summary.json")))
        su = js["setup"]
        setup.append(f"| {S} | {js['num_types']} | {su['setup_s']:.2f} | {su['truth_s']:.2f} | "
                     f"{su['truth_method']} (residuals {su['truth_residual_v']:.1e}, {su['truth_residual_mu']:.1e}) | "
                     f"{rss / 1e6:.0f} |")
        print(setup[-1], flush=True)

    # memory per agent: the marginal peak RSS of 2^20 - 4096 more agents (S = 48, d = 8, K = 10)
    BIG = 1 << 20
    small = peak_rss(pfedrl_cmd(a.build, cfg, 48, 8, 10, ncpu, 4096, 2, os.path.join(tmp, "m1")))
    big = peak_rss(pfedrl_cmd(a.build, cfg, 48, 8, 10, ncpu, BIG, 2, os.path.join(tmp, "m2")))
    per_agent = (big - small) / (BIG - 4096)

    # one other busy process: the engine's threads must not spin against it
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        contended = {}
        for T in threads:
            contended[T] = statistics.median(
                pfedrl_rate(a.build, cfg, 48, 8, 10, T, N, max(20, int(a.steps / (N * 10) / 2)), tmp)[0]
                for _ in range(reps))
    finally:
        busy.kill()

    text = lines + table + ["", "Set-up (d = 8, all threads):", ""] + setup
    base = [(S, d, K, T) for (S, d, K, T) in rate_at if S == 48]
    ratios = []
    for S in sizes:
        for T in sorted({1, ncpu}):  # issue 10's target (0.4x) was set on 1 thread
            if S == 48 or (48, 8, 10, T) not in rate_at or (S, 8, 10, T) not in rate_at:
                continue
            ratios.append(f"S = {S}: {rate_at[(S, 8, 10, T)] / rate_at[(48, 8, 10, T)]:.3f}x the S = 48 rate "
                          f"(d = 8, K = 10, {T} thread{'s' if T > 1 else ''})")
    if base and ratios:
        text += ["", "Large S against S = 48:", ""] + [f"- {r}" for r in ratios]
    text += ["", f"Memory per agent (S = 48, d = 8): {per_agent:.0f} bytes (peak RSS {small / 1e6:.0f} MB at "
                 f"N = 4096, {big / 1e6:.0f} MB at N = {BIG:,})",
             "", "With one other busy process on the machine (S = 48, d = 8, K = 10): " +
             ", ".join(f"{T} thread{'s' if T > 1 else ''} {fmt(contended[T])}" for T in threads)]
    open(a.out_md, "w").write("\n".join(text) + "\n")
    print("\n".join(text[len(lines):]))


if __name__ == "__main__":
    main()
