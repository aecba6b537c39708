"""scripts/plot.py run: one run's folder drawn next to it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def test_a_runs_folder_is_drawn_next_to_it(cli: str, root: Path, cliffwalk: str, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "run"
    subprocess.run([cli, "run", cliffwalk, "-q", "-o", str(out), "-s", "agents=64", "-s", "rounds=20",
                    "-s", "eval_every=5"], check=True, capture_output=True)
    p = subprocess.run([sys.executable, str(root / "scripts" / "plot.py"), "run", str(out)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    for ext in ("png", "pdf"):
        assert (out / f"plot.{ext}").stat().st_size > 1000
    assert "plot.png" in p.stdout
    bad = subprocess.run([sys.executable, str(root / "scripts" / "plot.py"), "run", str(tmp_path / "none")],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "metrics.csv" in bad.stderr


def _plot_module(root: Path):
    import importlib.util
    spec = importlib.util.spec_from_file_location("pfedrl_plot", root / "scripts" / "plot.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_sweep_figures_name_each_algorithm_and_give_it_one_colour(root: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    plot = _plot_module(root)
    # the same algorithm: the same readable name and colour whether the hue is the algorithm or a
    # method tag; every algorithm its own colour
    assert plot.hue_style("algorithm", "pfedtd_rep") == plot.hue_style("method", "pfedtd_rep")
    assert plot.hue_style("algorithm", "pfedtd_rep")[0].startswith("PFedTD-Rep")
    colours = [c for _, c in plot.ALGORITHMS.values()]
    assert len(set(colours)) == len(colours)
    assert plot.hue_style("federation.noise_multiplier", "1")[0] == "noise multiplier 1"
    assert plot.pretty("value_error") != "value error" and plot.pretty("env.slip_max") == "slip max"
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    plot.set_title(ax, "100x100 grid world, 16 types, N=1024, K=100: error vs agent-steps per agent")
    assert "\n" in ax.get_title()  # wrapped, not cut off at the figure's edge
    plt.close(fig)
    # a sweep drawn end to end, its lines in the algorithms' colours
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    rows = ["run,seed,algorithm,agents,round,agent_steps,value_error"]
    for alg in ("fedtd", "pfedtd_rep"):
        for seed in (0, 1):
            for rnd in (0, 10, 20):
                rows.append(f"{alg}-{seed},{seed},{alg},8,{rnd},{80 * rnd},{1.0 / (1 + rnd + seed)}")
    (sweep / "sweep.csv").write_text("\n".join(rows) + "\n")
    seen = {}
    real_plot = plot.plt.Axes.plot

    def spy(self, *a, **k):
        lines = real_plot(self, *a, **k)
        seen[k.get("label", "")] = lines[0].get_color()
        return lines
    plot.plt.Axes.plot = spy
    try:
        plot.main(["curves", str(sweep), "--out", str(tmp_path / "fig"), "--title", "t"])
    finally:
        plot.plt.Axes.plot = real_plot
    assert (tmp_path / "fig.png").stat().st_size > 1000
    import matplotlib.colors as mc
    for alg in ("fedtd", "pfedtd_rep"):
        name, colour = plot.ALGORITHMS[alg]
        label = next(k for k in seen if k.startswith(name))
        assert mc.to_hex(seen[label]) == mc.to_hex(colour)


def test_a_sweep_is_also_one_parquet_file(cli: str, root: Path, cliffwalk: str, tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    out = tmp_path / "sw"
    p = subprocess.run([sys.executable, str(root / "scripts" / "sweep.py"), cliffwalk, "--vary", "seed=0,1",
                        "--set", "agents=32", "--set", "rounds=4", "--set", "eval_every=2", "--out", str(out),
                        "--pfedrl", cli, "--jobs", "1"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    rows = pd.read_parquet(out / "sweep.parquet")
    assert len(rows) == len(pd.read_csv(out / "sweep.csv")) == 2 * 3  # rounds 0, 2, 4 of two runs
    assert rows["value_error"].dtype.kind == "f" and rows["round"].dtype.kind == "i"
    assert sorted(rows["seed"].unique()) == [0, 1]
    assert len(pd.read_parquet(out / "summary.parquet")) == 2
