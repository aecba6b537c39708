"""The Python package against the command line and the C library's contract."""
from __future__ import annotations

import csv
import gc
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict

import numpy as np
import pytest

import pfedrl

SMALL = dict(agents=96, rounds=12, eval_every=4, threads=2)


def test_same_bits_as_the_command_line(cli: str, cliffwalk: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    subprocess.run([cli, "run", cliffwalk, "-q", "-o", str(out), "--theta"]
                   + [a for k, v in SMALL.items() for a in ("-s", f"{k}={v}")], check=True)
    sim = pfedrl.Simulation(config=cliffwalk, **SMALL)
    sim.run(SMALL["rounds"])
    assert np.array_equal(sim.phi, np.load(out / "phi.npy"))
    assert np.array_equal(sim.theta, np.load(out / "theta.npy"))
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    py = sim.metrics
    assert [int(r["round"]) for r in rows] == [m["round"] for m in py] == [0, 4, 8, 12]
    for r, m in zip(rows, py):
        assert int(r["agent_steps"]) == m["agent_steps"]
        for k in ("value_error", "td_fixed_point_error", "best_rank_d_error", "phi_norm", "theta_norm"):
            assert float(r[k]) == float(f"{m[k]:.9g}"), k  # the CSV holds 9 significant digits
        for k in ("participants", "mean_steps", "mean_staleness"):
            assert (r[k] == "" and np.isnan(m[k])) or float(r[k]) == float(f"{m[k]:.9g}"), k
    summary = json.loads((out / "summary.json").read_text())
    assert summary["final_value_error"] == float(f"{py[-1]['value_error']:.9g}")
    fed = sim.federation
    assert summary["federation"]["participations"] == fed["participations"] == SMALL["agents"] * SMALL["rounds"]
    assert summary["federation"]["epsilon"] is None and np.isnan(fed["epsilon"])


def test_pooled_value_error_is_the_agents_squared_errors_over_their_values(cliffwalk: str) -> None:
    # pooled = sum_m n_m e_m |V_m|^2_mu / sum_m n_m |V_m|^2_mu, from the per-type errors and the truth
    with pfedrl.Simulation(cliffwalk, agents=64, eval_every=5, algorithm="fedavg_rep") as sim:
        sim.run(10)
        by_type = sim.metrics_by_type()[-1]
        M, N = sim.num_types, sim.num_agents
        counts = np.array([len(range(m, N, M)) for m in range(M)], dtype=float)
        v2 = np.array([np.sum(mu * v * v) for v, mu in (sim.ground_truth(m) for m in range(M))])
        pooled = float(np.sum(counts * by_type * v2) / np.sum(counts * v2))
        last = sim.metrics[-1]
        assert last["pooled_value_error"] == pytest.approx(pooled, rel=1e-12)
        assert sim.evaluate()["pooled_value_error"] == last["pooled_value_error"]  # without the history too


def test_metrics_struct_is_the_librarys_list() -> None:
    # pfedrl's Metrics is a copy of the C list (PFR_METRICS_FIELDS): the same names, types, offsets
    import ctypes

    from pfedrl._lib import Metrics, lib

    c_types = {"int64_t": ctypes.c_int64, "uint64_t": ctypes.c_uint64, "double": ctypes.c_double}
    fields, i = [], 0
    while True:
        ty, at = ctypes.c_char_p(), ctypes.c_size_t()
        name = lib.pfr_metrics_field(i, ctypes.byref(ty), ctypes.byref(at))
        if name is None:
            break
        fields.append((name.decode(), c_types[ty.value.decode()], at.value))
        i += 1
    ours = [(n, t, getattr(Metrics, n).offset) for n, t in Metrics._fields_ if n != "size"]
    assert ours == fields


def test_cpu_kernel_asked_for_runs_with_the_same_bits(cliffwalk: str) -> None:
    runs = {}
    for kernel in ("scalar", "per_agent", "auto"):
        sim = pfedrl.Simulation(config=cliffwalk, cpu_kernel=kernel, dim=8, **SMALL)
        sim.run(4)
        runs[kernel] = (sim.setup_info["cpu_kernel"], sim.phi)
    assert runs["scalar"][0] == "scalar" and runs["per_agent"][0] == "per_agent"
    assert runs["auto"][0] in ("avx512", "avx2", "per_agent")
    assert np.array_equal(runs["scalar"][1], runs["per_agent"][1])
    assert np.array_equal(runs["scalar"][1], runs["auto"][1])


def test_federation_mechanisms_and_privacy(cliffwalk: str) -> None:
    sim = pfedrl.Simulation(config=cliffwalk, agents=200, federation={"p_drop": 0.2, "p_return": 0.3, "clip": 0.1,
                                                                      "noise_multiplier": 1.0})
    sim.run(20)
    fed = sim.federation
    assert fed["private_rounds"] == 20 and fed["epsilon"] > 0
    assert 0.4 * 200 < fed["mean_participants"] < 0.9 * 200
    assert sim.metrics[-1]["epsilon"] == fed["epsilon"]
    with pytest.raises(pfedrl.ConfigError, match="needs federation.clip"):
        pfedrl.Simulation(config=cliffwalk, federation={"noise_multiplier": 1.0})


def test_overrides_nested_and_dotted(cliffwalk: str) -> None:
    a = pfedrl.Simulation(config=cliffwalk, agents=8, env={"types": 2, "slip_max": 0.2})
    b = pfedrl.Simulation(config=cliffwalk, agents=8, env__types=2, overrides={"env.slip_max": 0.2})
    assert a.config == b.config
    assert a.config["env.types"] == 2 and a.num_types == 2 and a.config_text["env.types"] == "2"
    c = pfedrl.Simulation(env={"kind": "randomwalk", "states": 7}, agents=4, dim=2, orthonormalize=False)
    assert c.num_states == 7 and c.config["orthonormalize"] is False


def test_arrays_are_copies_with_the_documented_shapes(cliffwalk: str) -> None:
    sim = pfedrl.Simulation(config=cliffwalk, agents=20)
    phi, theta, states = sim.phi, sim.theta, sim.states
    assert phi.shape == (48, 8) and phi.dtype == np.float32
    assert theta.shape == (20, 8) and theta.dtype == np.float32
    assert states.shape == (20,) and states.dtype == np.uint32 and states.max() < 48
    before = phi.copy()
    phi[:] = 7.0  # writing into the copy changes nothing inside
    assert np.array_equal(sim.phi, before)
    sim.run(3)
    assert not np.array_equal(sim.phi, before)  # and a later read sees the run
    assert np.array_equal(before, np.asarray(before))
    v, mu = sim.ground_truth(1)
    assert v.shape == mu.shape == (48,) and abs(mu.sum() - 1) < 1e-12
    sv = sim.type_singular_values()
    assert sv[0] == 1.0 and np.all(np.diff(sv) <= 0)
    assert np.array_equal(sim.agent_phi(3), sim.phi)  # shared Phi: every agent sees the same
    by_type = sim.metrics_by_type()
    assert by_type.shape == (len(sim.metrics), 4)


def test_setters_round_trip(cliffwalk: str) -> None:
    sim = pfedrl.Simulation(config=cliffwalk, agents=10)
    rng = np.random.default_rng(0)
    phi = rng.standard_normal((48, 8)).astype(np.float32)
    theta = rng.standard_normal((10, 8)).astype(np.float32)
    states = rng.integers(0, 48, 10).astype(np.uint32)
    sim.phi, sim.theta, sim.states = phi, theta, states
    assert np.array_equal(sim.phi, phi) and np.array_equal(sim.theta, theta) and np.array_equal(sim.states, states)
    with pytest.raises(ValueError, match="shape"):
        sim.phi = phi[:10]
    with pytest.raises(pfedrl.PfedrlError):
        sim.states = np.full(10, 48, dtype=np.uint32)  # a state outside the chain


def test_save_then_load_goes_on_bit_for_bit(cliffwalk: str, tmp_path: Path) -> None:
    straight = pfedrl.Simulation(config=cliffwalk, **SMALL)
    straight.run(12)
    first = pfedrl.Simulation(config=cliffwalk, **SMALL)
    first.run(5)
    ck = tmp_path / "ck.pfr"
    first.save(ck)
    first.close()
    resumed = pfedrl.Simulation.load(ck, threads=1)
    assert resumed.round == 5
    resumed.run(7)
    assert np.array_equal(resumed.phi, straight.phi)
    assert np.array_equal(resumed.theta, straight.theta)
    assert np.array_equal(resumed.states, straight.states)
    assert resumed.metrics[-1]["value_error"] == straight.metrics[-1]["value_error"]


def test_metrics_frame(cliffwalk: str) -> None:
    pd = pytest.importorskip("pandas")
    sim = pfedrl.Simulation(config=cliffwalk, agents=16).run(10)
    df = sim.metrics_frame()
    assert isinstance(df, pd.DataFrame)
    assert list(df["round"]) == [0, 10] and "value_error" in df.columns and "size" not in df.columns


def test_layer_widths_as_a_list() -> None:
    """dqn.hidden takes a Python list (one width per hidden layer) and reads back as one; a single
    width stays an int."""
    keys = {"env.kind": "cartpole", "algorithm": "pfeddqn_rep", "agents": 4, "dim": 8}
    sim = pfedrl.Simulation(**{k.replace(".", "__"): v for k, v in keys.items()}, dqn__hidden=[16, 8])
    assert sim.config["dqn.hidden"] == [16, 8] and sim.config_text["dqn.hidden"] == "[16, 8]"
    assert sim.body().size == (4 * 16 + 16) + (16 * 8 + 8) + (8 * 8 + 8)
    assert pfedrl.Simulation(**{k: v for k, v in sim.config.items() if v != ""}).config == sim.config  # a round trip
    assert pfedrl.Simulation(**{k.replace(".", "__"): v for k, v in keys.items()}).config["dqn.hidden"] == 64
    with pytest.raises(pfedrl.PfedrlError, match="more than 7 widths"):
        pfedrl.Simulation(**{k.replace(".", "__"): v for k, v in keys.items()}, dqn__hidden=[8] * 8)


def test_config_keys_carry_help_defaults_and_what_is_allowed() -> None:
    keys = pfedrl.config_keys()
    assert keys["algorithm"]["default"] == "pfedtd_rep"
    assert "local_td_tabular" in keys["algorithm"]["allowed"]
    assert keys["agents"]["default"] == "1024" and keys["agents"]["help"]
    assert all(set(v) == {"help", "default", "allowed"} for v in keys.values())
    sim = pfedrl.Simulation(agents=4)
    # the handle's config is resolved: env.types 0 ("the family's default") became the cliff walk's 4
    expected = {k: v["default"] for k, v in keys.items()} | {"agents": "4", "env.types": "4"}
    assert sim.config_text == expected
    typed = sim.config  # the same values as Python types
    assert typed["agents"] == 4 and typed["alpha"] == float(keys["alpha"]["default"])
    assert typed["orthonormalize"] is False and typed["algorithm"] == "pfedtd_rep" and typed["init_phi"] == ""
    assert all(type(typed[k]) in (int, float, bool, str) for k in typed)
    assert pfedrl.Simulation(**{k: v for k, v in typed.items() if v != ""}).config == typed  # round trip


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(no_such_key=1), "no_such_key"),
        (dict(alpha="fast"), "alpha"),
        (dict(agents=0), "agents"),
        (dict(algorithm="sarsa"), "allowed"),
        (dict(env={"kind": "file"}), "env.p_file"),
    ],
)
def test_bad_configs_raise_with_the_librarys_message(kwargs: dict, match: str) -> None:
    with pytest.raises(pfedrl.PfedrlError, match=match) as e:
        pfedrl.Simulation(**kwargs)
    assert e.value.message and e.value.status != 0


def test_every_other_error_path_raises(cliffwalk: str, tmp_path: Path) -> None:
    with pytest.raises(pfedrl.ConfigError, match="does not exist"):
        pfedrl.Simulation(config=tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("agents: [1, 2\n")
    with pytest.raises(pfedrl.ConfigError):
        pfedrl.Simulation(config=bad)
    with pytest.raises(pfedrl.PfedrlError, match="does not exist"):
        pfedrl.Simulation.load(tmp_path / "none.pfr")
    junk = tmp_path / "junk.pfr"
    junk.write_bytes(b"not a checkpoint at all" * 10)
    with pytest.raises(pfedrl.PfedrlError) as e:
        pfedrl.Simulation.load(junk)
    assert "junk.pfr" in str(e.value)
    sim = pfedrl.Simulation(config=cliffwalk, agents=8)
    with pytest.raises(pfedrl.PfedrlError, match=r"type must be in \[0, 3\], not 99"):
        sim.ground_truth(99)
    with pytest.raises(pfedrl.PfedrlError, match=r"agent must be in \[0, 7\], not 8"):
        sim.agent_phi(8)
    sim.run(2)
    ck = tmp_path / "ck.pfr"
    sim.save(ck)
    with pytest.raises(pfedrl.PfedrlError, match="alpha"):
        pfedrl.Simulation.load(ck, alpha=0.5)  # would change the results: refused
    with pytest.raises(pfedrl.PfedrlError):
        sim.save(tmp_path / "no" / "such" / "dir" / "ck.pfr")
    diverge = pfedrl.Simulation(config=cliffwalk, agents=8, alpha=1, beta=1, env={"reward_scale": 1e6})
    with pytest.raises(pfedrl.PfedrlError, match="diverged|lost rank"):
        diverge.run(200)
    sim.close()
    with pytest.raises(pfedrl.PfedrlError, match="closed"):
        sim.run(1)
    sim.close()  # twice is fine


def test_memory_does_not_grow_over_create_destroy_cycles(cliffwalk: str) -> None:
    def rss_kib() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024

    def cycle() -> None:
        with pfedrl.Simulation(config=cliffwalk, agents=64) as s:
            s.run(1)
            _ = s.metrics, s.phi

    for _ in range(50):  # warm up: allocator pools, OpenMP threads
        cycle()
    gc.collect()
    start = rss_kib()
    for _ in range(1000):
        cycle()
    gc.collect()
    grown = rss_kib() - start
    # a leak of one handle's smallest part (Phi, 1.5 KiB) per cycle would be > 1.5 MiB
    assert grown < 1024, f"resident memory grew {grown} KiB over 1000 cycles"


def test_version_and_engines() -> None:
    assert pfedrl.__version__.count(".") == 2
    assert "cpu" in pfedrl.engines().lower()


def test_quickstart_example_runs(root: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "q.png"
    subprocess.run([os.sys.executable, str(root / "examples" / "quickstart.py"), "--agents", "8", "32", "--rounds", "6",
                    "--out", str(out)], check=True, capture_output=True)
    assert out.stat().st_size > 0


def test_ctrl_c_stops_at_the_end_of_a_round_and_the_simulation_goes_on(cliffwalk: str) -> None:
    code = f"""
import os, signal, threading, pfedrl
sim = pfedrl.Simulation(config={cliffwalk!r}, agents=2048)
threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
try:
    sim.run(10**7)
    print("not stopped")
except KeyboardInterrupt:
    r = sim.round
    sim.run(2)
    print("stopped", r, sim.round)
"""
    out = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    words = out.stdout.split()
    assert words[0] == "stopped", out.stdout
    r, after = int(words[1]), int(words[2])
    assert 0 < r < 10**7 and after == r + 2


def test_control_metrics(cliffwalk: str) -> None:
    sim = pfedrl.Simulation(config=cliffwalk, agents=32, control={"kind": "qlearning", "epsilon": 0.3},
                            algorithm="local_td_tabular")
    assert sim.num_states == 48 * 4  # a row per state-action pair
    sim.run(50)
    m = sim.metrics[-1]
    assert np.isfinite(m["policy_gap"]) and m["policy_agents"] == 32  # 4 types x 8 agents
    assert m["value_error"] < sim.metrics[0]["value_error"] == 1.0  # the error of Q, from an empty table
    assert sim.phi.shape == (48 * 4, 1)



def test_arguments_are_checked_before_c_would_wrap_or_cut_them(cliffwalk: str, tmp_path: Path) -> None:
    sim = pfedrl.Simulation(config=cliffwalk, agents=8)
    for bad in (2**64 + 2, 2**63, -1):  # 2**64 + 2 ran 2 rounds through ctypes' int64
        with pytest.raises(ValueError, match="rounds must be in"):
            sim.run(bad)
    for bad in (1.7, 2.0, "2", True, None):  # 1.7 ran one round
        with pytest.raises(TypeError, match="rounds must be an integer"):
            sim.run(bad)
    assert sim.round == 0
    sim.run(np.int64(2))  # NumPy integers are integers
    assert sim.round == 2
    with pytest.raises(pfedrl.ArgumentError, match=r"type must be in \[0, 3\], not 4294967296"):
        sim.ground_truth(2**32)  # was type 0 through ctypes' int
    with pytest.raises(ValueError):
        sim.ground_truth(-1)
    with pytest.raises(TypeError):
        sim.ground_truth(0.0)
    with pytest.raises(ValueError, match=r"agent must be in \[0, 7\]"):
        sim.agent_phi(2**64)
    # C ends text at a NUL byte: what followed it was dropped silently
    with pytest.raises(ValueError, match="NUL"):
        pfedrl.Simulation(config=cliffwalk, agents="8\0junk")
    with pytest.raises(ValueError, match="NUL"):
        pfedrl.Simulation(config=cliffwalk, overrides={"agents\0x": 8})
    with pytest.raises(ValueError, match="NUL"):
        pfedrl.Simulation(config=cliffwalk + "\0.txt")
    with pytest.raises(ValueError, match="NUL"):
        sim.save(str(tmp_path / "a.pfr") + "\0b")
    with pytest.raises(ValueError, match="NUL"):
        pfedrl.Simulation.load(str(tmp_path / "a.pfr") + "\0b")
    with pytest.raises(TypeError, match="config keys are str"):
        pfedrl.Simulation(config=cliffwalk, overrides={1: 2})


@pytest.mark.parametrize("after", [0.7, 1.5])
def test_ctrl_c_during_set_up_stops_it_and_keeps_nothing(tmp_path: Path, after: float) -> None:
    # a 400 x 400 grid world of 4 types takes a few seconds to set up (its ground truth, type by type);
    # the progress report shows the stage reached: "ready" only when a set-up completes. When the
    # KeyboardInterrupt comes, the set-up's thread has ended (a Ctrl-C that interrupted Thread.join
    # once let the interpreter exit under a C call still running: exit 139)
    code = f"""
import os, signal, threading, pfedrl
threading.Timer({after}, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
try:
    pfedrl.Simulation(env={{"kind": "gridworld", "width": 400, "height": 400, "types": 4}}, agents=256, threads=1,
                      progress=True)
    print("not stopped")
except KeyboardInterrupt as e:
    print("stopped:", e, [t.name for t in threading.enumerate()])
"""
    out = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "stopped: set-up stopped; nothing kept ['MainThread']", (out.stdout, out.stderr)
    assert "set-up:" in out.stderr and "ready" not in out.stderr, out.stderr


def test_copies_and_pickles_are_refused_not_crashes(cliffwalk: str, tmp_path: Path) -> None:
    import copy
    import pickle

    with pfedrl.Simulation(cliffwalk, agents=64) as sim:
        for attempt in (copy.copy, copy.deepcopy, pickle.dumps):
            with pytest.raises(TypeError, match="cannot be (copied|pickled)"):
                attempt(sim)
        sim.run(2)
        sim.save(tmp_path / "c.pfr")  # the way to an independent one, which goes on by itself
        with pfedrl.Simulation.load(tmp_path / "c.pfr") as other:
            other.run(1)
            assert other.round == 3 and sim.round == 2


def test_short_runs_without_their_own_evaluations_keep_one_long_runs_history(cliffwalk: str) -> None:
    keys = dict(agents=64, eval_every=5)
    with pfedrl.Simulation(cliffwalk, **keys) as one, pfedrl.Simulation(cliffwalk, **keys) as many:
        one.run(12)
        for _ in range(12):
            many.run(1, evaluate=False)
        assert [m["round"] for m in many.metrics] == [0, 5, 10]  # no row of its own per run(1)
        assert [m["round"] for m in one.metrics] == [0, 5, 10, 12]  # the default: the last round too
        assert np.array_equal(one.phi, many.phi) and np.array_equal(one.theta, many.theta)
        for a, b in zip(one.metrics[:3], many.metrics):
            assert a["value_error"] == b["value_error"]
        with pytest.raises(TypeError, match="evaluate must be True or False"):
            many.run(1, evaluate="no")


def test_metrics_by_type_frame_is_labelled_by_round_and_type(cliffwalk: str) -> None:
    with pfedrl.Simulation(cliffwalk, agents=64, eval_every=2) as sim:
        sim.run(4)
        wide = sim.metrics_by_type()
        frame = sim.metrics_by_type_frame()
        assert list(frame.columns) == ["round", "agent_steps", "type", "value_error"]
        assert len(frame) == wide.size
        table = frame.pivot(index="round", columns="type", values="value_error")
        assert list(table.index) == [0, 2, 4] and list(table.columns) == list(range(sim.num_types))
        assert np.array_equal(table.to_numpy(), wide, equal_nan=True)


def test_progress_into_a_log_is_plain_lines_with_rate_and_time_left(cliffwalk: str) -> None:
    # stderr not a terminal: a line per set-up stage and per evaluation, no carriage returns
    code = f"""
import sys
sys.modules["tqdm"] = sys.modules["tqdm.auto"] = None  # as where tqdm is not installed
import pfedrl
sim = pfedrl.Simulation({cliffwalk!r}, agents=256, eval_every=50, progress=True)
sim.run(200, progress=True)
"""
    out = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "\r" not in out.stderr
    lines = out.stderr.splitlines()
    rounds = [line for line in lines if line.startswith("round ")]
    assert [line.split()[1] for line in rounds] == ["0/200", "50/200", "100/200", "150/200", "200/200"], lines
    assert "rounds/s" in rounds[-1] and "ETA" in rounds[-1]
    assert any(line.startswith("set-up: ground truth") for line in lines)
    assert len(lines) < 20


def test_progress_is_a_tqdm_bar_where_tqdm_is_installed(cliffwalk: str, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("tqdm")
    with pfedrl.Simulation(cliffwalk, agents=64, eval_every=50) as sim:
        sim.run(200, progress=True)
    err = capsys.readouterr().err
    assert "200/200" in err and "round" in err and "value_error=" in err, err
    assert "ETA" not in err  # not the plain report


def test_evaluations_iterate_the_history_of_one_run_and_stop_early(cliffwalk: str) -> None:
    one = pfedrl.Simulation(config=cliffwalk, **SMALL)
    one.run(10)
    it = pfedrl.Simulation(config=cliffwalk, **SMALL)
    seen = list(it.evaluations(10))
    assert [m["round"] for m in seen] == [m["round"] for m in one.metrics] == [0, 4, 8, 10]
    keys = ("round", "agent_steps", "value_error", "td_fixed_point_error", "phi_norm", "theta_norm")
    assert [[m[k] for k in keys] for m in seen] == [[m[k] for k in keys] for m in one.metrics]
    assert np.array_equal(it.phi, one.phi) and np.array_equal(it.theta, one.theta)
    early = pfedrl.Simulation(config=cliffwalk, **SMALL)
    for m in early.evaluations(10):
        if m["round"] == 4:
            break
    assert early.round == 4 and [m["round"] for m in early.metrics] == [0, 4]
    early.run(6)  # goes on: the straight run's bits
    assert np.array_equal(early.phi, one.phi)
    with pytest.raises(TypeError):
        early.evaluations(1.5)


def test_a_callback_sees_each_evaluation_and_can_stop_the_run(cliffwalk: str) -> None:
    sim = pfedrl.Simulation(config=cliffwalk, **SMALL)
    got = []
    sim.run(12, callback=lambda m: got.append(m["round"]))
    assert got == [0, 4, 8, 12]
    stop = pfedrl.Simulation(config=cliffwalk, **SMALL)
    stop.run(12, callback=lambda m: m["round"] < 4)  # False at round 4: stop there
    assert stop.round == 4
    with pytest.raises(TypeError):
        stop.run(1, callback=3)


def _tensorboard_scalars(logdir: Path) -> Dict[str, Dict[int, float]]:
    """The scalars of TensorBoard event files (TFRecord: length, its CRC, an Event, its CRC)."""
    from tensorboardX.proto import event_pb2
    out: Dict[str, Dict[int, float]] = {}
    for path in logdir.rglob("events.out.tfevents.*"):
        data = path.read_bytes()
        at = 0
        while at < len(data):
            n = int.from_bytes(data[at:at + 8], "little")
            event = event_pb2.Event.FromString(data[at + 12:at + 12 + n])
            at += 12 + n + 4
            for v in event.summary.value:
                out.setdefault(v.tag, {})[event.step] = v.simple_value
    return out


def test_a_tensorboard_logger_writes_each_evaluation(cliffwalk: str, tmp_path: Path) -> None:
    pytest.importorskip("tensorboardX")
    sim = pfedrl.Simulation(config=cliffwalk, **SMALL)
    log = pfedrl.loggers.TensorBoard(str(tmp_path / "tb"))
    sim.run(12, callback=log)
    log.close()
    got = _tensorboard_scalars(tmp_path / "tb")
    want = {m["round"]: m["value_error"] for m in sim.metrics}
    assert sorted(got["value_error"]) == [0, 4, 8, 12]
    assert all(got["value_error"][r] == pytest.approx(v, rel=1e-6) for r, v in want.items())  # float32 on disk
    assert "epsilon" not in got  # NaN (no noise): not a point


def test_a_wandb_logger_logs_each_evaluation_at_its_round(cliffwalk: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import types
    logged, inits = [], []

    class Run:  # what the logger uses of a wandb run
        def log(self, data: Dict[str, float], step: int) -> None:
            logged.append((step, data))

        def finish(self) -> None:
            logged.append(("finished", {}))

    fake = types.ModuleType("wandb")
    fake.init = lambda **kw: inits.append(kw) or Run()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "wandb", fake)
    sim = pfedrl.Simulation(config=cliffwalk, **SMALL)
    log = pfedrl.loggers.WandB(project="p", mode="offline")
    sim.run(8, callback=log)
    log.close()
    assert inits == [{"project": "p", "mode": "offline"}]
    assert [s for s, _ in logged] == [0, 4, 8, "finished"]
    assert logged[1][1]["value_error"] == sim.metrics[1]["value_error"] and "epsilon" not in logged[1][1]


def test_the_neural_instance_from_python(cli: str, tmp_path: Path) -> None:
    """A CartPole run from Python gives the command line's networks and returns; the linear arrays
    are refused with the reason."""
    keys = {"env.kind": "cartpole", "algorithm": "pfeddqn_rep", "agents": 6, "dim": 8, "rounds": 4,
            "local_steps": 50, "eval_every": 2, "threads": 2, "dqn.hidden": 16, "dqn.learn_start": 20}
    out, cfg = tmp_path / "run", tmp_path / "cartpole.yaml"
    cfg.write_text("env:\n  kind: cartpole\nalgorithm: pfeddqn_rep\n")
    subprocess.run([cli, "run", str(cfg), "-q", "-o", str(out)]
                   + [a for k, v in keys.items() for a in ("-s", f"{k}={v}")], check=True)
    sim = pfedrl.Simulation(**{k.replace(".", "__"): v for k, v in keys.items()})
    history = sim.run(4).metrics
    assert np.array_equal(sim.body(), np.load(out / "body.npy"))
    assert np.array_equal(sim.heads, np.load(out / "heads.npy"))
    assert sim.heads.shape == (6, 2, 8)
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert float(rows[-1]["greedy_return"]) == history[-1]["greedy_return"]
    assert json.loads((out / "summary.json").read_text())["final_return"] == history[-1]["greedy_return"]
    with pytest.raises(pfedrl.PfedrlError, match="networks, not chains"):
        sim.phi
