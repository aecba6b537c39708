#!/usr/bin/env python3
"""Figures (PNG and PDF) from one run's folder, or from sweeps written by scripts/sweep.py.

  plot.py run RUN_DIR [--out FIG] [--x round|agent_steps]
      one run (a folder of pfedrl run): the value error and the TD fixed point error over the
      run with the best any rank-d representation can do, and each environment type's value error;
      FIG defaults to RUN_DIR/plot (plot.png, plot.pdf).

  plot.py curves SWEEP_DIR [SWEEP_DIR...] --out FIG [--hue algorithm] [--x agent_steps] [--y value_error]
      mean of y over seeds against x, one line per hue value, with a 95% confidence band
      (Student t over seeds); log y axis. Several sweep directories are overlaid (e.g. the
      methods of the generalization experiment, each its own sweep with a --tag).
      --x steps_per_agent puts agent_steps / agents on the x axis (equal work per agent).
  plot.py final SWEEP_DIR [SWEEP_DIR...] --out FIG [--by agents] [--hue algorithm] [--y value_error]
      the final y of each run against --by, mean over seeds with a 95% band, log-log.
  plot.py reach SWEEP_DIR [SWEEP_DIR...] --out FIG --threshold T [--hue method] [--y value_error]
      agent-steps per agent each method needs to bring y to <= T (mean over seeds, 95% interval);
      bars, and the numbers in FIG.json (runs that never get there are counted, not averaged in).
  plot.py rate SWEEP_DIR --out FIG [--y value_error]
      decaying step sizes: the final y against N * T (agents x rounds), log-log with the fitted
      slope and its 95% interval (the paper's O(1/(NT)) predicts -1 for the noise term); and the
      across-seed spread of span(Phi), rotation-invariant: E ||P - mean P||_F^2 of the projectors
      onto span(Phi) (principal angles, not coordinates), against N.
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


# One colour and one readable name per algorithm, the same in every figure (the methods of
# examples/experiments tag their sweeps with these names too)
ALGORITHMS = {
    "pfedtd_rep": ("PFedTD-Rep (shared Phi, own theta)", "C0"),
    "fedavg_rep": ("FedAvg-Rep (Phi and theta averaged)", "C1"),
    "local_rep": ("local Phi and theta (no averaging)", "C2"),
    "fedtd": ("FedTD (one theta, fixed features)", "C3"),
    "local_td": ("local TD (own theta, fixed features)", "C4"),
    "local_td_tabular": ("tabular TD, each agent alone", "C5"),
    "fedtd_tabular": ("tabular FedTD (one table)", "C6"),
    "pfeddqn_rep": ("PFedDQN-Rep (shared body, own head)", "C7"),
    "fedavg_dqn": ("FedAvg DQN (whole network averaged)", "C8"),
    "local_dqn": ("local DQN (no averaging)", "C9"),
}
# Axis and legend names of the keys and columns the figures use
KEYS = {
    "value_error": "value error (each agent's own V, relative)",
    "td_fixed_point_error": "error of the TD fixed point of the shared Phi",
    "best_rank_d_error": "best rank-d error",
    "agent_steps": "agent-steps",
    "steps_per_agent": "steps per agent",
    "agents": "N (agents)",
    "dim": "d (representation dimension)",
    "local_steps": "K (local steps per round)",
    "participation": "participation fraction",
    "federation.noise_multiplier": "noise multiplier",
    "federation.delay": "delay (rounds)",
    "federation.p_drop": "drop-out chance",
    "federation.stragglers": "straggler chance",
    "policy_gap": "policy gap",
}


def pretty(key):
    """The readable name of a config key or metrics column (its own words where not listed)."""
    return KEYS.get(key, key.split(".")[-1].replace("_", " "))


def hue_style(hue_key, value):
    """Legend label and colour of one line: an algorithm's own (ALGORITHMS), else "key value" with
    the plotting cycle's colour (None)."""
    if value in ALGORITHMS:
        return ALGORITHMS[value]
    if hue_key in ("algorithm", "method"):
        return value, None
    return f"{pretty(hue_key)} {value}", None


def set_title(ax, title):
    """A title wrapped to the axes' width (a long one is not cut off at the figure's edge)."""
    if title:
        import textwrap
        ax.set_title("\n".join(textwrap.wrap(title, 60, break_on_hyphens=False)), fontsize=10)


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
    lows = []  # the lines' values (the axis need not reach below them by much)
    for sweep in args.sweep:
        rows = read_csv(os.path.join(sweep, "sweep.csv"))
        groups = defaultdict(lambda: defaultdict(list))  # hue -> x -> [y over seeds]
        for r in rows:
            y = r.get(args.y, "")
            if y == "":
                continue
            x = float(r["agent_steps"]) / float(r["agents"]) if args.x == "steps_per_agent" else float(r[args.x])
            groups[r.get(args.hue, os.path.basename(sweep))][x].append(float(y))
        for hue, byx in sorted(groups.items()):
            xs = sorted(byx)
            mean = np.array([np.mean(byx[x]) for x in xs])
            half = np.array([t95(len(byx[x]) - 1) * np.std(byx[x], ddof=1) / math.sqrt(len(byx[x]))
                             if len(byx[x]) > 1 else 0.0 for x in xs])
            n = max(len(v) for v in byx.values())
            label, colour = hue_style(args.hue, hue)
            line, = ax.plot(xs, mean, label=f"{label} (n={n})", color=colour)
            lows += [v for v in mean if v > 0]
            ax.fill_between(xs, mean - half if args.liny else np.maximum(mean - half, 1e-12), mean + half,
                            color=line.get_color(), alpha=0.2)
    if not args.liny:
        ax.set_yscale("log")
    if lows and not args.liny:  # a band whose lower edge runs to 0 (few seeds) must not stretch the axis over decades
        ax.set_ylim(bottom=min(lows) / 3)
    if args.logx:
        ax.set_xscale("log")
    ax.set_xlabel(pretty(args.x))
    ax.set_ylabel(pretty(args.y))
    set_title(ax, args.title)
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


def final_rows(sweeps, hue, y):
    """(hue, run, summary row, its last metrics row) for every run of the sweeps."""
    out = []
    for sweep in sweeps:
        last = {}
        for r in read_csv(os.path.join(sweep, "sweep.csv")):
            if r["run"] not in last or int(r["round"]) >= int(last[r["run"]]["round"]):
                last[r["run"]] = r
        for r in last.values():
            if r.get(y, "") != "":
                out.append((r.get(hue, os.path.basename(sweep)), r))
    return out


def mean_ci(v):
    v = np.asarray(v, float)
    half = t95(len(v) - 1) * np.std(v, ddof=1) / math.sqrt(len(v)) if len(v) > 1 else 0.0
    return float(np.mean(v)), float(half)


def cmd_final(args):
    groups = defaultdict(lambda: defaultdict(list))
    for hue, r in final_rows(args.sweep, args.hue, args.y):
        groups[hue][float(r[args.by])].append(float(r[args.y]))
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    result = {}
    def order(item):  # numbers in numeric order (0, 1, 3, 10), names alphabetically
        try:
            return (0, float(item[0]), "")
        except ValueError:
            return (1, 0.0, item[0])
    for hue, byx in sorted(groups.items(), key=order):
        xs = sorted(byx)
        stats = [mean_ci(byx[x]) for x in xs]
        m = np.array([s[0] for s in stats])
        h = np.array([s[1] for s in stats])
        label, colour = hue_style(args.hue, hue)
        line, = ax.plot(xs, m, "o-", label=f"{label} (n={max(len(v) for v in byx.values())})", color=colour)
        ax.fill_between(xs, np.maximum(m - h, 1e-12), m + h, color=line.get_color(), alpha=0.2)
        result[hue] = {"x": xs, "mean": m.tolist(), "ci95": h.tolist(), "n": [len(byx[x]) for x in xs]}
    if not args.linx:
        ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(pretty(args.by))
    ax.set_ylabel("final " + pretty(args.y))
    set_title(ax, args.title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    save(fig, args.out)
    with open(args.out + ".json", "w") as f:
        json.dump(result, f, indent=1)


def cmd_reach(args):
    per = defaultdict(list)  # hue -> [steps per agent to reach, or None]
    for sweep in args.sweep:
        runs = defaultdict(list)
        for r in read_csv(os.path.join(sweep, "sweep.csv")):
            runs[r["run"]].append(r)
        for rows in runs.values():
            hue = rows[0].get(args.hue, os.path.basename(sweep))
            hit = None
            for r in sorted(rows, key=lambda r: int(r["round"])):
                if r[args.y] != "" and float(r[args.y]) <= args.threshold:
                    hit = float(r["agent_steps"]) / float(r["agents"])
                    break
            per[hue].append(hit)
    result = {}
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    names = sorted(per)
    for k, hue in enumerate(names):
        got = [v for v in per[hue] if v is not None]
        m, h = mean_ci(got) if got else (float("nan"), 0.0)
        result[hue] = {"mean": m, "ci95": h, "reached": len(got), "runs": len(per[hue]), "values": per[hue]}
        label, colour = hue_style(args.hue, hue)
        if got:
            ax.bar(k, m, yerr=h, capsize=4, color=colour, label=f"{label}: {len(got)}/{len(per[hue])} runs")
        else:
            ax.bar(k, 0, color=colour, label=f"{label}: never (0/{len(per[hue])})")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=20, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel(f"agent-steps per agent to {pretty(args.y)} <= {args.threshold}")
    set_title(ax, args.title)
    ax.legend(fontsize=7)
    save(fig, args.out)
    with open(args.out + ".json", "w") as f:
        json.dump(result, f, indent=1)
    for hue in names:
        r = result[hue]
        print(f"plot: {hue}: {r['mean']:.4g} ± {r['ci95']:.3g} steps per agent ({r['reached']}/{r['runs']} runs)")


def projector_spread(phis):
    """E ||P_i - mean P||_F^2 for the orthogonal projectors P_i onto span(Phi_i): d - mean over
    pairs (i, j) of ||Q_i^T Q_j||_F^2, Q_i an orthonormal basis of span(Phi_i); O(n^2 S d^2)."""
    qs = [np.linalg.qr(np.asarray(p, float))[0] for p in phis]
    n, d = len(qs), qs[0].shape[1]
    tot = sum(float(np.sum((qi.T @ qj) ** 2)) for qi in qs for qj in qs)
    return (d - tot / (n * n)) * n / max(1, n - 1)


def cmd_rate(args):
    """The rate with decaying steps: the final error against N x T (one series per T), the error at
    each T against N and its part above the large-N limit (the noise part, which the theory says
    falls as 1/N), rounds to a threshold against N, and the across-seed spread of Phi against N.
    Fits use N >= --min-agents (below it the agents do not cover every environment type: another
    problem); the points left out are drawn hollow."""
    summary = read_csv(os.path.join(args.sweep, "summary.csv"))
    rows = read_csv(os.path.join(args.sweep, "sweep.csv"))
    by_run = defaultdict(list)
    for r in rows:
        by_run[r["run"]].append(r)
    fin = defaultdict(list)
    phis = defaultdict(list)
    reach, never = defaultdict(list), defaultdict(int)
    t_max = max(int(s["rounds"]) for s in summary)
    for s in summary:
        js = json.load(open(os.path.join(s["dir"], "summary.json")))
        n, t = int(js["config"]["agents"]), int(js["rounds"])
        v = js["final_" + args.y] if ("final_" + args.y) in js else js[args.y]
        if v is not None:
            fin[(n, t)].append(float(v))
        phis[(n, t)].append(np.load(os.path.join(s["dir"], "phi.npy")))
        if args.threshold is not None and t == t_max:
            got = rounds_to_reach(by_run[os.path.basename(s["dir"])], args.threshold, args.y)
            if got is None:
                never[n] += 1
            else:
                reach[n].append(got)
    keys = sorted(fin)
    use = [k[0] >= args.min_agents for k in keys]
    nt = [n * t for n, t in keys]
    m = [float(np.mean(fin[k])) for k in keys]
    ci = [mean_ci(fin[k])[1] for k in keys]
    result = {"N": [k[0] for k in keys], "T": [k[1] for k in keys], "NT": nt, "mean": m, "ci95": ci,
              "seeds": [len(fin[k]) for k in keys], "min_agents": args.min_agents}
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
    ax = axes[0]
    ts = sorted({t for _, t in keys})
    for t in ts:
        idx = [i for i, k in enumerate(keys) if k[1] == t]
        for used, mk in ((True, "o"), (False, "o")):
            sel = [i for i in idx if use[i] == used]
            if sel:
                ax.errorbar([nt[i] for i in sel], [m[i] for i in sel], yerr=[ci[i] for i in sel], fmt=mk, capsize=3,
                            mfc=None if used else "none", color=f"C{ts.index(t)}",
                            label=f"T = {t}" if used else None)
    fit_i = [i for i in range(len(keys)) if use[i]]
    if len(fit_i) >= 3:
        slope, icpt, half = fit_loglog([nt[i] for i in fit_i], [m[i] for i in fit_i])
        result["slope"] = [slope, half]
        xx = np.array([min(nt), max(nt)], float)
        ax.plot(xx, np.exp(icpt) * xx ** slope, "-", color="k", label=f"fit: slope {slope:.2f} ± {half:.2f}")
        ax.plot(xx, m[fit_i[0]] * (xx / nt[fit_i[0]]) ** -1.0, ":", color="gray", label="slope -1 (O(1/(NT)))")
    ax.set(xscale="log", yscale="log", xlabel="N x T (agents x rounds)", ylabel="final " + args.y.replace("_", " "))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    # at each T: the error against N, and its excess over the large-N limit (the mean of the 3 largest N)
    ax = axes[1]
    result["by_T"] = {}
    for t in ts:
        idx = [i for i, k in enumerate(keys) if k[1] == t and use[i]]
        if len(idx) < 4:
            continue
        ns_t, m_t = [keys[i][0] for i in idx], [m[i] for i in idx]
        limit = float(np.mean(m_t[-3:]))
        ex = [(n, v - limit) for n, v, i in zip(ns_t, m_t, idx) if v - limit > ci[i]]  # above the noise of the mean
        entry = {"limit": limit, "error_slope_vs_N": list(fit_loglog(ns_t, m_t)[0::2]),
                 "excess_N": [n for n, _ in ex], "excess": [e for _, e in ex]}
        ax.loglog(ns_t, m_t, "o-", color=f"C{ts.index(t)}", label=f"T = {t}: error")
        if len(ex) >= 3:
            sl, ic, hf = fit_loglog(*zip(*ex))
            entry["excess_slope"] = [sl, hf]
            ax.loglog(*zip(*ex), "s--", mfc="none", color=f"C{ts.index(t)}",
                      label=f"T = {t}: excess over N -> inf (slope {sl:.2f} ± {hf:.2f})")
        result["by_T"][str(t)] = entry
    ax.set(xlabel="N (agents)", ylabel=args.y.replace("_", " "))
    ax.grid(True, which="both", alpha=0.3)
    if result["by_T"]:
        ax.legend(fontsize=7)
    else:
        ax.set_title(f"fewer than 4 values of N >= {args.min_agents} at every T", fontsize=9)
    ax = axes[2]
    last_t = {}
    for n, t in phis:  # the spread of Phi at each N after the longest run
        last_t[n] = max(t, last_t.get(n, 0))
    phis = {n: phis[(n, t)] for n, t in last_t.items()}
    ns = sorted(n for n in phis if len(phis[n]) > 1)
    raw = [float(np.mean(np.sum((np.stack(phis[n]) - np.mean(phis[n], axis=0)) ** 2, axis=(1, 2))))
           * len(phis[n]) / (len(phis[n]) - 1) for n in ns]
    rot = [projector_spread(phis[n]) for n in ns]
    result["phi_N"], result["phi_variance_raw"], result["span_spread"] = ns, raw, rot
    fit_n = [i for i, n in enumerate(ns) if n >= args.min_agents]
    for vals, name in ((raw, "raw: E||Phi - mean Phi||^2"), (rot, "span: E||P - mean P||^2")):
        if len(fit_n) >= 3 and min(vals[i] for i in fit_n) > 0:
            slope, icpt, half = fit_loglog([ns[i] for i in fit_n], [vals[i] for i in fit_n])
            result[name.split(":")[0] + "_slope"] = [slope, half]
            name += f" (slope {slope:.2f} ± {half:.2f})"
        ax.loglog(ns, vals, "o-", label=name)
    if reach:
        rn = sorted(n for n in reach if n >= args.min_agents)
        rm = [float(np.mean(reach[n])) for n in rn]
        result["rounds_to_threshold"] = {str(n): reach[n] for n in sorted(reach)}
        result["never_reached"] = {str(n): never[n] for n in sorted(set(reach) | set(never))}
        if len(rn) >= 3:
            sl, _, hf = fit_loglog(rn, rm)
            result["rounds_slope"] = [sl, hf]
        ax2 = ax.twinx()
        ax2.loglog(rn, rm, "k^:", label=f"rounds to {args.y} <= {args.threshold} (T = {t_max})")
        ax2.set_ylabel("rounds to threshold")
        ax2.legend(fontsize=7, loc="lower left")
    ax.set_xlabel("N (agents)")
    ax.set_ylabel("across-seed spread of the final Phi")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    save(fig, args.out)
    with open(args.out + ".json", "w") as f:
        json.dump(result, f, indent=1)
    for k in ("slope", "raw_slope", "span_slope", "rounds_slope"):
        if k in result:
            print(f"plot: {k} %.3f ± %.3f" % tuple(result[k]))
    for t, e in result["by_T"].items():
        if "excess_slope" in e:
            print(f"plot: T = {t}: excess over the large-N limit, slope %.3f ± %.3f" % tuple(e["excess_slope"]))


def cmd_run(args):
    d = args.run
    rows = read_csv(os.path.join(d, "metrics.csv"))
    if not rows:
        raise ValueError(f"{d}/metrics.csv has no rows")
    summary = {}
    if os.path.exists(os.path.join(d, "summary.json")):
        with open(os.path.join(d, "summary.json")) as f:
            summary = json.load(f)
    label = {"round": "round", "agent_steps": "agent-steps"}[args.x]

    def col(rs, name):
        return np.array([float(r[name]) if r.get(name, "") not in ("", None) else np.nan for r in rs])

    x = col(rows, args.x)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    a.plot(x, col(rows, "value_error"), marker="o", ms=3, label="value error (each agent's own V)")
    a.plot(x, col(rows, "td_fixed_point_error"), marker="s", ms=3, label="TD fixed point of the shared Phi")
    best = col(rows, "best_rank_d_error")
    if np.isfinite(best).any():  # a line where it is within the plot's range, else only its value
        b_err, lowest = np.nanmax(best), np.nanmin(col(rows, "td_fixed_point_error"))
        if b_err > 1e-3 * lowest:
            a.axhline(b_err, ls="--", c="gray", label="best any rank-d Phi can do")
        else:
            a.plot([], [], ls="--", c="gray", label=f"best any rank-d Phi can do: {b_err:.2g}")
    a.set_yscale("log")
    a.set_xlabel(label)
    a.set_ylabel("relative error (mu-weighted)")
    a.set_title("error over the run")
    a.legend(fontsize=8)
    by_type = os.path.join(d, "metrics_by_type.csv")
    if os.path.exists(by_type):
        per = defaultdict(list)
        for r in read_csv(by_type):
            per[int(r["type"])].append(r)
        for t in sorted(per):
            b.plot(col(per[t], args.x), col(per[t], "value_error"), lw=1, alpha=0.8,
                   label=f"type {t}" if len(per) <= 10 else None)
        if len(per) <= 10:
            b.legend(fontsize=8, ncol=2)
        b.set_yscale("log")
    b.set_xlabel(label)
    b.set_ylabel("value error")
    b.set_title(f"each environment type ({len(per) if os.path.exists(by_type) else 0})")
    cfg = summary.get("config", {})
    title = ", ".join(v for v in (str(cfg.get("algorithm", "")), summary.get("environment", ""),
                                  f"N = {cfg['agents']}" if "agents" in cfg else "") if v)
    fig.suptitle(title, fontsize=9)
    out = args.out or os.path.join(d, "plot")
    save(fig, out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r1 = sub.add_parser("run")
    r1.add_argument("run")
    r1.add_argument("--out", default="")
    r1.add_argument("--x", default="round", choices=["round", "agent_steps"])
    c = sub.add_parser("curves")
    c.add_argument("sweep", nargs="+")
    c.add_argument("--out", required=True)
    c.add_argument("--hue", default="algorithm")
    c.add_argument("--x", default="agent_steps")
    c.add_argument("--y", default="value_error")
    c.add_argument("--title", default="")
    c.add_argument("--logx", action="store_true")
    c.add_argument("--liny", action="store_true", help="a linear y axis (returns, which may be negative)")
    fn = sub.add_parser("final")
    fn.add_argument("sweep", nargs="+")
    fn.add_argument("--out", required=True)
    fn.add_argument("--by", default="agents")
    fn.add_argument("--hue", default="algorithm")
    fn.add_argument("--y", default="value_error")
    fn.add_argument("--title", default="")
    fn.add_argument("--linx", action="store_true", help="a linear x axis (values that include 0)")
    rc = sub.add_parser("reach")
    rc.add_argument("sweep", nargs="+")
    rc.add_argument("--out", required=True)
    rc.add_argument("--threshold", type=float, required=True)
    rc.add_argument("--hue", default="method")
    rc.add_argument("--y", default="value_error")
    rc.add_argument("--title", default="")
    rt = sub.add_parser("rate")
    rt.add_argument("sweep")
    rt.add_argument("--out", required=True)
    rt.add_argument("--y", default="value_error")
    rt.add_argument("--min-agents", type=int, default=1, help="fits use N >= this (every type present)")
    rt.add_argument("--threshold", type=float, default=None, help="also rounds to reach this error vs N")
    s = sub.add_parser("speedup")
    s.add_argument("sweep")
    s.add_argument("--out", required=True)
    s.add_argument("--threshold", type=float, default=0.2)
    s.add_argument("--by", default="agents")
    s.add_argument("--metric", default="td_fixed_point_error",
                   help="error whose time-to-threshold is measured; the default depends on Phi alone")
    args = ap.parse_args(argv)
    try:
        {"run": cmd_run, "curves": cmd_curves, "final": cmd_final, "reach": cmd_reach, "rate": cmd_rate,
         "speedup": cmd_speedup}[args.cmd](args)
    except (OSError, KeyError, ValueError) as e:
        sys.exit(f"plot: {e}")


if __name__ == "__main__":
    main()
