#!/usr/bin/env python3
"""Every table of docs/EXPERIMENTS.md, computed from the runs of examples/experiments/run_all.sh:

    python3 scripts/experiment_tables.py runs/experiments-full > runs/experiments-full/tables.md
    python3 scripts/experiment_tables.py runs/experiments-full --doc docs/EXPERIMENTS.md

With --doc, the tables are written into the document in place, between its markers
<!-- tables:sectionN --> and <!-- /tables -->, and the rest of the document is left as it is.

Means over seeds with 95% Student-t half-widths (scripts/plot.py's mean_ci), agent-steps per agent
to reach a threshold from each run's metrics, the tuned step sizes from each tune's best.json and
the fitted slopes from the figures' JSON files. Nothing here is typed in by hand.
"""
import argparse
import contextlib
import csv
import io
import re
import json
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plot import mean_ci, rounds_to_reach  # noqa: E402  (one definition of the interval and of reaching)


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def fmt(m, h, digits=3):
    return f"{m:.{digits}g} ± {h:.1g}" if h == h and h > 0 else f"{m:.{digits}g}"


def group_final(sweep, key, metric="final_value_error"):
    g = defaultdict(list)
    for r in rows(os.path.join(sweep, "summary.csv")):
        if r.get(metric, "") not in ("", "nan"):
            g[r[key]].append(float(r[metric]))
    return g


def final_by_type(sweep, key):
    """Per value of key, per environment type: the final value_error of each run (metrics_by_type.csv)."""
    g = defaultdict(lambda: defaultdict(list))
    for r in rows(os.path.join(sweep, "summary.csv")):
        by = rows(os.path.join(sweep, "runs", os.path.basename(r["dir"]), "metrics_by_type.csv"))
        last = max(int(x["round"]) for x in by)
        for x in by:
            if int(x["round"]) == last:
                g[r[key]][int(x["type"])].append(float(x["value_error"]))
    return g


def steps_to(sweep, threshold, metric="value_error"):
    """Per run: agent-steps per agent at the first evaluation with metric <= threshold (None: never)."""
    by_run = defaultdict(list)
    for r in rows(os.path.join(sweep, "sweep.csv")):
        by_run[r["run"]].append(r)
    out = []
    for run in by_run.values():
        got = rounds_to_reach(run, threshold, metric)
        out.append(None if got is None else
                   next(int(r["agent_steps"]) / int(r["agents"]) for r in run if int(r["round"]) == got))
    return out


def reach_cell(vals):
    hit = [v for v in vals if v is not None]
    if not hit:
        return f"never (0/{len(vals)})"
    m, h = mean_ci(hit)
    return fmt(m, h) + ("" if len(hit) == len(vals) else f" ({len(hit)}/{len(vals)} runs)")


def table(head, body):
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for b in body:
        print("| " + " | ".join(str(c) for c in b) + " |")
    print()


def env_line(summary_json):
    """The environment's description and its types' normalized singular values (summary.json)."""
    js = json.load(open(summary_json))
    sv = ", ".join(f"{v:.2g}" for v in js.get("type_singular_values", [])[:8])
    print(f"Environment: {js['environment']}. Normalized singular values of the types' values: {sv}"
          f"{', ...' if len(js.get('type_singular_values', [])) > 8 else ''}.\n")


def section1(d):
    env_line(os.path.join(d, "cliffwalk", "runs", "algorithm=pfedtd_rep,seed=0", "summary.json"))
    print("### Table 1: heterogeneous cliff walk (final errors, mean ± 95% CI over seeds)\n")
    v = group_final(os.path.join(d, "cliffwalk"), "algorithm")
    f = group_final(os.path.join(d, "cliffwalk"), "algorithm", "final_td_fixed_point_error")
    p = group_final(os.path.join(d, "cliffwalk"), "algorithm", "final_pooled_value_error")
    body = []
    for alg in sorted(v, key=lambda a: mean_ci(v[a])[0]):
        body.append([alg, fmt(*mean_ci(v[alg])), fmt(*mean_ci(p[alg])) if p.get(alg) else "-",
                     fmt(*mean_ci(f[alg])), len(v[alg])])
    table(["algorithm", "value_error (mean over types)", "pooled value_error", "td_fixed_point_error", "seeds"], body)
    t = final_by_type(os.path.join(d, "cliffwalk"), "algorithm")
    print("### Table 1b: the same runs, each type's final value_error (mean ± 95% CI over seeds)\n")
    types = sorted({k for a in t for k in t[a]})
    table(["algorithm"] + [f"type {k}" for k in types],
          [[alg] + [fmt(*mean_ci(t[alg][k])) for k in types] for alg in sorted(v, key=lambda a: mean_ci(v[a])[0])])


def section2(d):
    print("### Table 2: speedup in N, constant steps (fitted log-log slopes, 95% CI)\n")
    body = []
    for name, label in (("speedup", "4 types, N = 4..16384"), ("speedup_one_type", "1 type, N = 1..1024")):
        js = json.load(open(os.path.join(d, "figures", name + ".json")))
        rt = {int(k): v for k, v in js["rounds_to_threshold"].items() if v}
        big = [n for n in sorted(rt) if n >= 512]
        limit = sum(sum(rt[n]) / len(rt[n]) for n in big) / len(big) if big else float("nan")
        excess = [(n, sum(rt[n]) / len(rt[n]) - limit) for n in sorted(rt) if n <= 64]
        excess = [(n, e) for n, e in excess if e > 0 and len(rt[n]) == js["seeds"][js["N"].index(n)]]
        body.append([label, fmt(*js["phi_variance_slope"]), fmt(*js["rounds_slope"]),
                     f"{limit:.0f}", ", ".join(f"N={n}: {e:.1f}" for n, e in excess)])
    table(["setting", "variance of Phi vs N", "rounds to threshold vs N", "large-N limit (rounds, N >= 512)",
           "excess rounds over the limit"], body)


def section3(d):
    print("### Table 3: generalization to held-out grid-world types (10x10, types 8..11, 256 new agents)\n")
    body = []
    for sub in ("gen_transfer", "gen_warm", "gen_nonpers", "gen_scratch_local", "gen_scratch_fed", "gen_scratch_tabular"):
        p = os.path.join(d, sub)
        method = rows(os.path.join(p, "summary.csv"))[0]["method"]
        fin = [float(r["final_value_error"]) for r in rows(os.path.join(p, "summary.csv"))]
        body.append([method, reach_cell(steps_to(p, 0.3)), reach_cell(steps_to(p, 0.2)), fmt(*mean_ci(fin))])
    table(["method", "steps per agent to 0.3", "to 0.2", "final value_error"], body)
    p = os.path.join(d, "gen_all_types", "summary.csv")
    if os.path.exists(p):
        print(f"Best rank-8 error over all 12 types: {float(rows(p)[0]['best_rank_d_error']):.3g}; over the 4 held-out "
              f"types alone: {float(rows(os.path.join(d, 'gen_transfer', 'summary.csv'))[0]['best_rank_d_error']):.3g}.\n")


def section4(d):
    print("### Table 4: ablations (pfedtd_rep, cliff walk, N = 1024; mean ± 95% CI over seeds)\n")
    body = []
    g = group_final(os.path.join(d, "ab_dim"), "dim")
    b = group_final(os.path.join(d, "ab_dim"), "dim", "best_rank_d_error")
    body.append(["dim d", "; ".join(f"{k}: {fmt(*mean_ci(g[k]))} (best rank-{k}: {b[k][0]:.2g})"
                                    for k in sorted(g, key=int))])
    ks = []
    for K in (1, 5, 10, 50):
        v = [float(r["final_value_error"]) for r in rows(os.path.join(d, f"ab_K{K}", "summary.csv"))]
        ks.append(f"{K}: {fmt(*mean_ci(v))}")
    body.append(["K (rounds x K = 3000)", "; ".join(ks)])
    g = group_final(os.path.join(d, "ab_beta"), "beta")
    fails = rows(os.path.join(d, "ab_beta", "failures.csv")) if os.path.exists(os.path.join(d, "ab_beta", "failures.csv")) else []
    body.append(["beta (alpha 0.2)", "; ".join(f"{k}: {fmt(*mean_ci(g[k]))} (n={len(g[k])})" for k in sorted(g, key=float))
                 + f"; {len(fails)} runs diverged"])
    for name, key in (("ab_ortho", "orthonormalize"), ("ab_part", "participation")):
        g = group_final(os.path.join(d, name), key)
        body.append([key, "; ".join(f"{k}: {fmt(*mean_ci(g[k]))}" for k in sorted(g))])
    table(["knob", "value: final value_error"], body)


SCALE = ["pfedtd_rep", "fedavg_rep", "local_rep", "fedtd", "local_td", "local_td_tabular", "fedtd_tabular"]


def section5(d):
    env_line(os.path.join(d, "scale_pfedtd_rep", "runs", "seed=0", "summary.json"))
    print("### Table 5: 100x100 grid world, 16 types, N = 1024, K = 100, 2000 rounds (2e5 steps per agent)\n")
    body = []
    for m in SCALE:
        p = os.path.join(d, f"scale_{m}")
        if not os.path.exists(os.path.join(p, "summary.csv")):
            continue
        best = json.load(open(os.path.join(d, f"scale_tune_{m}", "best.json")))
        cand = best["candidates"]
        s = rows(os.path.join(p, "summary.csv"))
        fin = [float(r["final_value_error"]) for r in s]
        fp = [float(r["final_td_fixed_point_error"]) for r in s]
        tuned = ", ".join(f"{k} {v}" for k, v in best["best"].items())
        body.append([m, tuned, f"{len(cand)}", fmt(*mean_ci(fin)), fmt(*mean_ci(fp)),
                     reach_cell(steps_to(p, 0.5)), reach_cell(steps_to(p, 0.2))])
    table(["method", "tuned (seed 1000)", "grid points that ran", "final value_error (5 seeds)",
           "td_fixed_point_error", "steps per agent to 0.5", "to 0.2"], body)
    s = rows(os.path.join(d, "scale_pfedtd_rep", "summary.csv"))
    print(f"Best rank-8 error of the 16 types: {float(s[0]['best_rank_d_error']):.3g}.\n")
    for m in ("pfedtd_rep", "local_rep"):  # how the tuning moved: the best over alpha at each beta
        cand = json.load(open(os.path.join(d, f"scale_tune_{m}", "best.json")))["candidates"]
        by_beta = {}
        for c in cand:
            b = float(c["beta"])
            if b not in by_beta or c["final_value_error"] < by_beta[b]["final_value_error"]:
                by_beta[b] = c
        fp = os.path.join(d, f"scale_tune_{m}", "failures.csv")
        failed = {float(r["beta"]) for r in rows(fp)} if os.path.exists(fp) else set()
        never = sorted(b for b in failed if b not in by_beta)
        print(f"{m} on the tuning seed, the best alpha at each beta (beta: error at alpha): " +
              "; ".join(f"{b:g}: {c['final_value_error']:.3g} at {c['alpha']}" for b, c in sorted(by_beta.items())) +
              (f"; beta {', '.join(f'{b:g}' for b in never)} diverged at every alpha tried" if never else "") + ".\n")
    js = json.load(open(os.path.join(d, "figures", "scale_N.json")))
    print("### Table 6: final value_error against N (1000 rounds of K = 100; 3 seeds, N > 4096: 1 seed)\n")
    ns = sorted({x for v in js.values() for x in v["x"]})
    body = []
    for m in SCALE + ["pfedtd_rep_half_beta"]:
        if m in js:
            at = {x: (mu, h, k) for x, mu, h, k in zip(js[m]["x"], js[m]["mean"], js[m]["ci95"], js[m]["n"])}
            body.append([m] + [(fmt(*at[n][:2]) + ("" if at[n][2] > 1 else " (1 seed)")) if n in at else "" for n in ns])
    table(["method"] + [f"N = {int(n)}" for n in ns], body)
    for name in ("scale_NL_pfedtd_rep", "scale_NL_pfedtd_rep_half_beta", "scale_NL_local_td_tabular"):
        p = os.path.join(d, name, "failures.csv")
        if os.path.exists(p):
            for r in rows(p):
                print(f"- {name[len('scale_NL_'):]} at N = {r.get('agents', '?')}: {r.get('error', '').strip()}")
    print()


def section6(d):
    r0 = rows(os.path.join(d, "transfer_tabular_local", "summary.csv"))[0]
    steps = int(r0["agent_steps"]) // int(r0["agents"])
    print(f"### Table 7: held-out types 12..15 of the 100x100 grid, {r0['agents']} new agents, K = {r0['local_steps']}, "
          f"{steps} steps per agent\n")
    tr = rows(os.path.join(d, "transfer_train", "summary.csv"))[0]
    print(f"Phi trained by pfedtd_rep on types 0..11 (N = 1024, 2000 rounds): final value_error "
          f"{float(tr['final_value_error']):.3g} on its own types.\n")
    body = []
    tuned = {}
    for tag, tune in (("frozen_phi", "transfer_tune_frozen"), ("tabular_local", "transfer_tune_tabular")):
        p = os.path.join(d, tune, "best.json")
        if os.path.exists(p):
            tuned[tag] = ", ".join(f"{k} {v}" for k, v in json.load(open(p))["best"].items()) + " (tuned here)"
    pb = json.load(open(os.path.join(d, "scale_tune_pfedtd_rep", "best.json")))["best"]
    for tag in ("warm_pfedtd_rep", "scratch_pfedtd_rep"):
        tuned[tag] = ", ".join(f"{k} {v}" for k, v in pb.items()) + " (section 5)"
    for tag in ("frozen_phi", "warm_pfedtd_rep", "scratch_pfedtd_rep", "tabular_local"):
        p = os.path.join(d, f"transfer_{tag}")
        fin = [float(r["final_value_error"]) for r in rows(os.path.join(p, "summary.csv"))]
        body.append([tag, tuned.get(tag, ""), reach_cell(steps_to(p, 0.8)), reach_cell(steps_to(p, 0.5)),
                     reach_cell(steps_to(p, 0.2)), fmt(*mean_ci(fin))])
    table(["method", "step sizes", "steps per agent to 0.8", "to 0.5", "to 0.2", "final value_error (5 seeds)"], body)
    span_floor(os.path.join(d, "transfer_env"), tr, r0, steps)


def span_floor(env, tr, r0, steps):
    """How far the held-out types lie from what the training types span: for each, the error (as
    value_error: squared, relative, in its own mu-norm) that the best rank-d basis of the training
    types' values leaves; and the agent-steps behind the transferred Phi beside the new agents'."""
    import numpy as np

    V, mu = np.load(os.path.join(env, "V.npy")), np.load(os.path.join(env, "mu.npy"))
    cfg = open(os.path.join(tr["dir"], "config.yaml")).read()  # the training run's own config
    key = lambda k: int(re.search(r"^\s*%s: (\d+)" % k, cfg, re.M).group(1))  # noqa: E731
    d, first = key("dim"), key("type_first")
    train = range(first, first + key("type_count"))
    held = [m for m in range(V.shape[0]) if m not in train]
    w = np.sqrt(mu[list(train)].mean(axis=0))
    seen = w > 0  # states the training types visit (walls never are); the basis is 0 elsewhere
    X = np.stack([w[seen] * V[m][seen] / np.sqrt(np.sum(mu[m] * V[m] ** 2)) for m in train], axis=1)
    U = np.zeros((V.shape[1], d))
    U[seen] = np.linalg.svd(X, full_matrices=False)[0][:, :d] / w[seen][:, None]  # in state space
    floors = []
    for m in held:
        sw = np.sqrt(mu[m])
        theta = np.linalg.lstsq(sw[:, None] * U, sw * V[m], rcond=None)[0]
        floors.append(np.sum(mu[m] * (U @ theta - V[m]) ** 2) / np.sum(mu[m] * V[m] ** 2))
    print(f"How far the held-out types lie from the training types' span: the best rank-{d} basis of types "
          f"{train[0]}..{train[-1]}'s values leaves on types {held[0]}..{held[-1]} an error (as value_error) of "
          + ", ".join(f"{f:.3g}" for f in floors)
          + " (a frozen Phi can do no better than its own span allows; these types share the layout and goals "
          f"of the training types, and differ in what each goal is worth). The transferred Phi took "
          f"{int(tr['agent_steps']):.3g} agent-steps to learn ({int(tr['agent_steps']) // int(tr['agents']):,} per agent, "
          f"{tr['agents']} agents); the new agents take {int(r0['agent_steps']):.3g} ({steps:,} per agent).\n")


def section7(d):
    print("### Table 8: decaying steps on the cliff walk (fits from N = 4; 10 seeds per point)\n")
    for name in ("rate", "rate_fixed_point"):
        js = json.load(open(os.path.join(d, "figures", name + ".json")))
        y = "value_error" if name == "rate" else "td_fixed_point_error"
        body = [["error vs N x T", fmt(*js["slope"])]]
        for t, e in js.get("by_T", {}).items():
            body.append([f"T = {t}: error vs N", fmt(*e["error_slope_vs_N"])])
            body.append([f"T = {t}: large-N limit", f"{e['limit']:.3g}"])
            if "excess_slope" in e:
                body.append([f"T = {t}: excess over the limit vs N (N = {e['excess_N'][0]}..{e['excess_N'][-1]})",
                             fmt(*e["excess_slope"])])
        for k, label in (("raw_slope", "spread of Phi, E||Phi - mean||^2, vs N"),
                         ("span_slope", "spread of span(Phi), E||P - mean P||^2, vs N"),
                         ("rounds_slope", "rounds to error 0.1 vs N")):
            if k in js:
                body.append([label, fmt(*js[k])])
        print(f"{y}:\n")
        table(["measure", "slope (95% CI) or value"], body)
        if name == "rate":
            body = []
            for t in sorted(set(js["T"])):
                cells = [fmt(m, h) for n, tt, m, h in zip(js["N"], js["T"], js["mean"], js["ci95"]) if tt == t]
                body.append([f"T = {t}"] + cells)
            table(["rounds"] + [f"N = {n}" for n in sorted(set(js["N"]))], body)


def fed_cells(sweep, key, hue="algorithm", threshold=0.1):
    """Per (hue, key value): final value errors, rounds to reach threshold (None: never), and the
    federation totals of the first run (mean participants, steps, staleness, epsilon)."""
    final, reach, fed, key_of = defaultdict(list), defaultdict(list), {}, {}
    for r in rows(os.path.join(sweep, "summary.csv")):
        k = (r.get(hue, ""), r[key])
        final[k].append(float(r["final_value_error"]))
        fed.setdefault(k, r)
        key_of[os.path.basename(r["dir"])] = k
    by_run = defaultdict(list)
    for r in rows(os.path.join(sweep, "sweep.csv")):
        by_run[r["run"]].append(r)
    for name, run in by_run.items():
        reach[key_of[name]].append(rounds_to_reach(run, threshold, "value_error"))
    failed = defaultdict(int)
    fpath = os.path.join(sweep, "failures.csv")
    if os.path.exists(fpath):
        for r in rows(fpath):
            failed[(r.get(hue, ""), r[key])] += 1
    return final, reach, fed, failed


def final_cell(final, failed, k):
    v = final.get(k, [])
    cell = fmt(*mean_ci(v)) if v else "-"
    return cell + (f" ({failed[k]} of {len(v) + failed[k]} diverged)" if failed.get(k) else "")


def rounds_cell(vals):
    hit = [v for v in vals if v is not None]
    if not hit:
        return f"never (0/{len(vals)})"
    return fmt(*mean_ci(hit)) + ("" if len(hit) == len(vals) else f" ({len(hit)}/{len(vals)})")


def section8(d):
    num = lambda x: float(x)  # noqa: E731
    algs = ["pfedtd_rep", "local_rep", "fedavg_rep", "local_td_tabular"]
    for name, key, title, extra in (
            ("fed_dropout", "federation.p_drop", "Table 9: dropout (an absent agent returns with 0.3 before a round)",
             ("present per round", lambda r: f"{float(r['mean_participants']):.0f}")),
            ("fed_stragglers", "federation.stragglers", "Table 10: stragglers (k uniform on 1..K-1 steps)",
             ("steps per participation", lambda r: f"{float(r['mean_steps']):.2f}"))):
        final, reach, fed, failed = fed_cells(os.path.join(d, name), key)
        print(f"### {title}; final value_error, mean ± 95% CI over seeds\n")
        body = []
        for v in sorted({k[1] for k in final}, key=num):
            body.append([v, extra[1](fed[("pfedtd_rep", v)])] + [final_cell(final, failed, (a, v)) for a in algs]
                        + [rounds_cell(reach[("pfedtd_rep", v)])])
        table([key, extra[0]] + algs + ["pfedtd_rep: rounds to 0.1"], body)
    final, reach, fed, failed = fed_cells(os.path.join(d, "fed_delay"), "federation.delay")
    plain = {}
    if os.path.exists(os.path.join(d, "fed_delay_plain")):
        plain, _, _, plain_failed = fed_cells(os.path.join(d, "fed_delay_plain"), "federation.delay")
    print("### Table 11: stale Phi (every agent starts from the Phi of `delay` rounds ago)\n")
    body = []
    for v in sorted({k[1] for k in final}, key=num):
        body.append([v] + [final_cell(final, failed, (a, v)) for a in ("pfedtd_rep", "fedavg_rep")]
                    + ([final_cell(plain, plain_failed, ("", v))] if plain else [])
                    + [rounds_cell(reach[("pfedtd_rep", v)])])
    table(["federation.delay", "pfedtd_rep", "fedavg_rep"] + (["pfedtd_rep, orthonormalize off"] if plain else [])
          + ["pfedtd_rep: rounds to 0.1"], body)
    final, reach, fed, failed = fed_cells(os.path.join(d, "fed_drawn_delay"), "federation.stale_decay")
    print("Delays drawn per agent and round, uniform on 0..8 (pfedtd_rep): " + "; ".join(
        f"stale_decay {v}: final {final_cell(final, failed, k)}, mean staleness "
        f"{float(fed[k]['mean_staleness']):.2f}, rounds to 0.1 {rounds_cell(reach[k])}"
        for k in sorted(final) for v in [k[1]]) + ".\n")
    final, reach, fed, failed = fed_cells(os.path.join(d, "fed_clip"), "federation.clip")
    print("### Table 12: clipping each agent's Phi change (pfedtd_rep, no noise; 0 = not clipped)\n")
    table(["federation.clip", "final value_error", "rounds to 0.1"],
          [[k[1], final_cell(final, failed, k), rounds_cell(reach[k])] for k in sorted(final, key=lambda k: num(k[1]))])
    final, reach, fed, failed = fed_cells(os.path.join(d, "fed_noise"), "agents", "federation.noise_multiplier")
    sigmas = sorted({k[0] for k in list(final) + list(failed)}, key=num)
    ns = sorted({k[1] for k in list(final) + list(failed)}, key=int)
    print("### Table 13: private aggregation (pfedtd_rep, clip 0.3, participation 0.25, 300 rounds): final "
          "value_error by noise multiplier and N; epsilon at delta = 1e-5 (RDP accountant)\n")
    body = []
    for sg in sigmas:
        eps = next((fed[k]["epsilon"] for k in fed if k[0] == sg and fed[k]["epsilon"] != ""), "")
        body.append([sg, f"{float(eps):.3g}" if eps else "none"] + [final_cell(final, failed, (sg, n)) for n in ns])
    table(["noise multiplier", "epsilon"] + [f"N = {n}" for n in ns], body)
    print("### Table 14: does N still help? pfedtd_rep's final value_error against N under each mechanism "
          "(dropout p_drop 0.3; stragglers 0.6; delay 4)\n")
    body = []
    for m in ("none", "dropout", "stragglers", "delay"):
        final, reach, fed, failed = fed_cells(os.path.join(d, "fed_N_" + m), "agents", "mechanism")
        cols = sorted({k[1] for k in final}, key=int)
        body.append([m] + [final_cell(final, failed, (m, n)) for n in cols])
    table(["mechanism"] + [f"N = {n}" for n in cols], body)


def section9(d):
    methods = [("pfedtd_rep", "PFedRL-Rep (Q-learning)"), ("local_rep", "local representation (Q)"),
               ("fedavg_rep", "FedAvg of Phi and theta (Q)"), ("fedq", "FedQ: shared theta, fixed features"),
               ("local_q", "local Q, fixed features"), ("tabular_q", "tabular Q-learning, local"),
               ("fedq_tabular", "tabular FedQ (one shared table)"), ("pfedsarsa_rep", "PFedRL-Rep (SARSA)"),
               ("fedsarsa", "FedSARSA: shared theta, fixed features"), ("tabular_sarsa", "tabular SARSA, local")]
    print("### Table 15: control on the 6x6 grid world (4 types, N = 256, 2000 rounds of K = 10; step sizes tuned on "
          "seed 1000 for the final policy gap; mean ± 95% CI over 5 seeds)\n")
    body = []
    for name, label in methods:
        p = os.path.join(d, "ctl_" + name)
        summ = rows(os.path.join(p, "summary.csv"))
        fails = len(rows(os.path.join(p, "failures.csv"))) if os.path.exists(os.path.join(p, "failures.csv")) else 0
        gap = [float(r["final_policy_gap"]) for r in summ]
        qe = [float(r["final_value_error"]) for r in summ]
        best = json.load(open(os.path.join(d, "ctl_tune_" + name, "best.json")))["best"]
        by_run = defaultdict(list)
        for r in rows(os.path.join(p, "sweep.csv")):
            by_run[r["run"]].append(r)
        reach = []
        for run in by_run.values():
            got = rounds_to_reach(run, 0.1, "policy_gap")
            reach.append(None if got is None else
                         next(int(r["agent_steps"]) / int(r["agents"]) for r in run if int(r["round"]) == got))
        body.append([label, ", ".join(f"{k} {v}" for k, v in best.items()),
                     fmt(*mean_ci(gap)) if gap else "-", fmt(*mean_ci(qe)) if qe else "-", reach_cell(reach),
                     f"{fails} of {len(summ) + fails}" if fails else "0"])
    table(["method", "tuned", "final policy_gap", "final q_error", "steps per agent to policy_gap 0.1",
           "diverged"], body)
    print("### Table 16: the same tuned steps, three times the budget (6000 rounds, 6 x 10^4 steps per agent)\n")
    body = []
    for name, label in methods:
        p = os.path.join(d, "ctl_long_" + name)
        if not os.path.exists(os.path.join(p, "summary.csv")):
            continue
        summ = rows(os.path.join(p, "summary.csv"))
        fails = len(rows(os.path.join(p, "failures.csv"))) if os.path.exists(os.path.join(p, "failures.csv")) else 0
        gap = [float(r["final_policy_gap"]) for r in summ]
        qe = [float(r["final_value_error"]) for r in summ]
        body.append([label, fmt(*mean_ci(gap)), fmt(*mean_ci(qe)), f"{fails} of {len(summ) + fails}" if fails else "0"])
    table(["method", "final policy_gap", "final q_error", "diverged"], body)
    g = group_final(os.path.join(d, "ctl_N"), "agents", "final_policy_gap")
    q = group_final(os.path.join(d, "ctl_N"), "agents")
    print("### Table 17: PFedRL-Rep (Q-learning) against N, its tuned step sizes (5 seeds)\n")
    table(["N", "final policy_gap", "final q_error", "runs"],
          [[n, fmt(*mean_ci(g[n])), fmt(*mean_ci(q[n])), len(g[n])] for n in sorted(g, key=int)])


def section10(d):
    """PFedDQN-Rep against local DQN and FedAvg of the whole network: CartPole at 8 and 64 agents,
    Acrobot at 8; each method's tuned Adam step, the final greedy return on the agents' own
    environments and on held-out parameters, the fraction of agents that solve their task."""
    methods = [("pfeddqn_rep", "PFedDQN-Rep (body averaged, heads kept)"), ("local_dqn", "local DQN"),
               ("fedavg_dqn", "FedAvg DQN (whole network averaged)")]
    for prefix, tune, title in [
            ("dqn", "dqn_tune", "CartPole-v1, 8 agents (pole half-lengths 0.1 .. 0.9), 200 rounds of K = 100"),
            ("dqn64", "dqn_tune", "CartPole-v1, 64 agents, the 8-agent tuned steps, 200 rounds of K = 100"),
            ("acro", "acro_tune", "Acrobot-v1, 8 agents (link-1 masses 0.5 .. 1.5), 300 rounds of K = 200")]:
        body, nseeds = [], 0
        for name, label in methods:
            summ = rows(os.path.join(d, f"{prefix}_{name}", "summary.csv"))
            fails = os.path.join(d, f"{prefix}_{name}", "failures.csv")
            nfail = len(rows(fails)) if os.path.exists(fails) else 0
            tuned = json.load(open(os.path.join(d, f"{tune}_{name}", "best.json")))
            cand = ", ".join(f"{c['dqn.lr']}: {c['late_return']:.0f}" for c in tuned["candidates"])
            ret = [float(r["final_return"]) for r in summ]
            late = [float(r["late_return"]) for r in summ]
            held = [float(r["final_heldout_return"]) for r in summ]
            succ = [float(r["final_success_rate"]) for r in summ]
            nseeds = max(nseeds, len(summ))
            body.append([label, f"{tuned['best']['dqn.lr']} ({cand})", fmt(*mean_ci(late), 3), fmt(*mean_ci(ret), 3),
                         fmt(*mean_ci(held), 3),
                         fmt(*mean_ci(succ), 2), f"{nfail} of {len(summ) + nfail}" if nfail else "0"])
        print(f"### {title} (Adam step tuned on seeds 1000, 1001 for the last quarter's mean greedy return; mean ± "
              f"95% CI over "
              f"{nseeds} seeds)\n")
        table(["method", "tuned lr (tuning: lr: return)", "greedy return, last quarter", "final greedy return",
               "final held-out return", "final success rate", "failed"], body)
    body, sizes = [], {}
    for name, label in methods:
        cells = []
        for prefix in ("dqn", "dqn64", "dqnN1", "dqnN2", "dqnN3"):
            summ = rows(os.path.join(d, f"{prefix}_{name}", "summary.csv"))
            late = [float(r["late_return"]) for r in summ]
            sizes[prefix] = summ[0]["agents"] if summ else "?"
            cells.append(f"{fmt(*mean_ci(late), 3)} ({len(late)} seeds)" if late else "-")
        body.append([label] + cells)
    print("### CartPole-v1 against N: the last quarter's mean greedy return, the 8-agent tuned steps, 200 rounds of "
          "K = 100 (mean ± 95% CI; fewer seeds at the larger N)\n")
    table(["method"] + [f"N = {sizes[p]}" for p in ("dqn", "dqn64", "dqnN1", "dqnN2", "dqnN3")], body)
    import glob
    arms = [("frozen", "trained body, frozen (heads learn)"), ("fine_tuned", "trained body, fine-tuned"),
            ("scratch", "a fresh network")]
    body = []
    for arm, label in arms:
        summ = [r for p in sorted(glob.glob(os.path.join(d, f"gen_{arm}_s*"))) for r in rows(os.path.join(p, "summary.csv"))]
        if not summ:
            continue
        early = []
        for p in sorted(glob.glob(os.path.join(d, f"gen_{arm}_s*"))):
            by_round = {int(r["round"]): float(r["greedy_return"]) for r in rows(os.path.join(p, "sweep.csv"))}
            first = sorted(by_round)
            early.append(by_round[first[len(first) // 3]])
        tuned = json.load(open(os.path.join(d, f"gen_tune_{arm}", "best.json")))
        cand = ", ".join(f"{c['dqn.lr']}: {c['late_return']:.0f}" for c in tuned["candidates"])
        body.append([label, f"{tuned['best']['dqn.lr']} ({cand})", fmt(*mean_ci(early), 3),
                     fmt(*mean_ci([float(r["late_return"]) for r in summ]), 3),
                     fmt(*mean_ci([float(r["final_return"]) for r in summ]), 3), len(summ)])
    trained = [float(r["late_return"]) for p in sorted(glob.glob(os.path.join(d, "gen_train_s*")))
               for r in rows(os.path.join(p, "summary.csv"))]
    print("### Generalization: 8 new agents on unseen pole lengths (bin 3, 0.7 .. 0.9), 60 rounds of K = 100, "
          "with the body 8 PFedDQN-Rep agents trained on bins 0-2 (their last-quarter return "
          f"{fmt(*mean_ci(trained), 3)}); each arm's step tuned on seed 1000; mean ± 95% CI over seeds, paired\n")
    table(["new agents start from", "tuned lr (tuning: lr: return)", "greedy return at a third of the rounds",
           "last quarter", "final", "seeds"], body)


def section0(d):
    """The machine time the runs took: the sum of every finished run's wall time (summary.json;
    set-up and failed runs not counted), and the largest."""
    total, biggest, n = 0.0, (0.0, ""), 0
    for root, _, files in os.walk(d):
        if "summary.json" in files:
            js = json.load(open(os.path.join(root, "summary.json")))
            w = float(js.get("wall_s") or 0) + float((js.get("setup") or {}).get("setup_s") or 0)
            total += w
            n += 1
            biggest = max(biggest, (w, os.path.relpath(root, d)))
    print(f"{n} finished runs, {total / 60:.0f} minutes of wall time in all (set-up included; failed runs not "
          f"counted); the longest {biggest[0] / 60:.1f} minutes ({biggest[1]}).\n")


SECTIONS = (section0, section1, section2, section3, section4, section5, section6, section7, section8, section9,
            section10)


def render(sec, runs):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try:
            sec(runs)
        except (OSError, KeyError, IndexError, ValueError) as e:
            print(f"({sec.__name__}: not available: {e})\n")
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", help="the OUT_DIR of run_all.sh full")
    ap.add_argument("--doc", help="write the tables into this markdown file, between its markers")
    ap.add_argument("--only", help="these sections alone (e.g. section10, or section5,section6): the runs of one "
                                   "section re-run, the other tables left as they are")
    a = ap.parse_args()
    chosen = SECTIONS
    if a.only:
        names = a.only.split(",")
        chosen = tuple(sec for sec in SECTIONS if sec.__name__ in names)
        unknown = set(names) - {sec.__name__ for sec in chosen}
        if unknown:
            ap.error(f"--only {','.join(sorted(unknown))}: no such section; allowed: "
                     + ", ".join(sec.__name__ for sec in SECTIONS))
    if not a.doc:
        for sec in chosen:
            print(render(sec, a.runs), end="")
        return
    text = open(a.doc).read()
    for sec in chosen:
        pat = re.compile(r"(<!-- tables:%s -->\n).*?(<!-- /tables -->)" % sec.__name__, re.S)
        if not pat.search(text):
            sys.exit(f"experiment_tables: {a.doc} has no <!-- tables:{sec.__name__} --> ... <!-- /tables --> block")
        body = render(sec, a.runs)
        text = pat.sub(lambda m: m.group(1) + body + m.group(2), text)
    tmp = a.doc + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, a.doc)
    print(f"experiment_tables: wrote the tables of {a.doc}")


if __name__ == "__main__":
    main()
