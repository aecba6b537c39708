"""Environments from arrays (pfedrl.environment): NumPy and scipy.sparse input, the folder that
`pfedrl export` writes, the cache, checkpoints, and bad input."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import List, Tuple

import numpy as np
import pytest

import pfedrl

KEYS = dict(agents=64, rounds=20, dim=4, eval_every=10, seed=5, threads=1)


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PFEDRL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def exported(cli: str, tmp_path: Path, control: str = "none") -> Tuple[Path, Path]:
    """A two-type cliff walk's config and the folder `pfedrl export` writes for it."""
    cfg = tmp_path / f"c-{control}.yaml"
    cfg.write_text(f"env:\n  kind: cliffwalk\n  types: 2\ncontrol:\n  kind: {control}\n")
    out = tmp_path / f"env-{control}"
    subprocess.run([cli, "export", str(cfg), "-q", "-o", str(out)], check=True)
    return cfg, out


def sparse_types(folder: Path) -> Tuple[List, List]:
    """The exported folder's chains as scipy.sparse matrices, P and R per type."""
    sp = pytest.importorskip("scipy.sparse")
    M, rows, S = np.load(folder / "P_shape.npy")
    ip, nx = np.load(folder / "P_indptr.npy"), np.load(folder / "P_indices.npy")
    p, r = np.load(folder / "P_data.npy"), np.load(folder / "R_data.npy")
    P, R = [], []
    for m in range(M):
        a, b = ip[m, 0], ip[m, -1]
        P.append(sp.csr_array((p[a:b], nx[a:b], ip[m] - a), shape=(rows, S)))
        R.append(sp.csr_array((r[a:b], nx[a:b], ip[m] - a), shape=(rows, S)))
    return P, R


def history(sim: pfedrl.Simulation) -> List[Tuple[float, float]]:
    return [(m["value_error"], m["td_fixed_point_error"]) for m in sim.metrics]


def test_sparse_and_dense_arrays_are_the_exported_environment(cli: str, tmp_path: Path, cache: Path) -> None:
    cfg, folder = exported(cli, tmp_path)
    P, R = sparse_types(folder)
    with pfedrl.Simulation(P=P, R=R, **KEYS) as a, \
            pfedrl.Simulation(env={"kind": "file", "dir": str(folder)}, **KEYS) as b, \
            pfedrl.Simulation(cfg, **KEYS) as generated:
        a.run(20)
        b.run(20)
        generated.run(20)
        assert a.num_states == 48 and a.num_types == 2
        # the same chains, entry for entry: the same bits as the exported folder itself
        assert history(a) == history(b)
        assert np.array_equal(a.phi, b.phi)
        # and the generated family's problem (its chains to the last bit or so)
        for (x, _), (y, _) in zip(history(a), history(generated)):
            assert x == pytest.approx(y, rel=1e-6)
        folder_a = a.config["env.dir"]
    assert Path(folder_a).parent == cache / "envs"
    # dense arrays of the same content: the same folder (content-addressed), nothing written again
    dense_p = np.stack([m.toarray() for m in P])
    dense_r = np.stack([m.toarray() for m in R])
    stamp = os.stat(Path(folder_a) / "P_data.npy").st_mtime_ns
    assert pfedrl.environment.write_environment(dense_p, dense_r) == folder_a
    assert os.stat(Path(folder_a) / "P_data.npy").st_mtime_ns == stamp
    assert len(list((cache / "envs").iterdir())) == 1


def test_rewards_per_row_and_a_checkpoint_that_resumes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    M, S = 3, 20
    P = rng.random((M, S, S)) * (rng.random((M, S, S)) < 0.2)
    P[:, np.arange(S), (np.arange(S) + 1) % S] += 0.5  # a ring: one closed class
    P /= P.sum(axis=2, keepdims=True)
    R = rng.standard_normal((M, S))
    with pfedrl.Simulation(P=P, R=R, **KEYS) as sim:
        # a reward per row is the reward of every transition from that row
        full = np.repeat(R[:, :, None], S, axis=2)
        assert pfedrl.environment.write_environment(P, full) == sim.config["env.dir"]
        sim.run(10)
        sim.save(tmp_path / "c.pfr")
        sim.run(10)
        with pfedrl.Simulation.load(tmp_path / "c.pfr") as again:
            again.run(10)
            assert np.array_equal(again.phi, sim.phi) and history(again)[-1] == history(sim)[-1]
        v, mu = sim.ground_truth(0)
        # V = (I - gamma P)^-1 r, from the arrays themselves
        gamma = sim.config["gamma"]
        assert np.allclose(v, np.linalg.solve(np.eye(S) - gamma * P[0], R[0]), atol=1e-9)


def test_control_from_an_mdp_array(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    M, S, A = 2, 6, 3
    P = rng.random((M, S, A, S)) + 0.05
    P /= P.sum(axis=3, keepdims=True)
    R = rng.standard_normal((M, S, A))
    with pfedrl.Simulation(P=P, R=R, control={"kind": "qlearning"}, agents=16, dim=4, threads=1) as sim:
        assert sim.num_states == S * A  # rows of Phi: (state, action) pairs
        sim.run(5)
        assert np.isfinite(sim.metrics[-1]["value_error"]) and np.isfinite(sim.metrics[-1]["policy_gap"])
        folder = Path(sim.config["env.dir"])
    shape = np.load(folder / "P_shape.npy")
    assert list(shape) == [M, S * A, S]


def test_bad_arrays_are_named() -> None:
    P = np.full((1, 3, 3), 1 / 3)
    with pytest.raises(TypeError, match="R is missing"):
        pfedrl.Simulation(P=P)
    with pytest.raises(TypeError, match="R without P"):
        pfedrl.Simulation(R=np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"P has shape \(3, 3\); allowed: \[M, S, S\]"):
        pfedrl.Simulation(P=P[0], R=np.zeros((1, 3)))
    with pytest.raises(ValueError, match="one reward per row"):
        pfedrl.Simulation(P=P, R=np.zeros((1, 4)))
    bad = P.copy()
    bad[0, 1, 2] = 0.5
    with pytest.raises(pfedrl.PfedrlError, match="row 1 of type 0 sums to 1.16666"):
        pfedrl.Simulation(P=bad, R=np.zeros((1, 3)), dim=2)
    with pytest.raises(pfedrl.ConfigError, match="env.dir and env.p_file/env.r_file are both set"):
        pfedrl.Simulation(P=P, R=np.zeros((1, 3)), env={"p_file": "P.npy", "r_file": "R.npy"}, dim=2)


def test_a_given_folder_is_never_written_over(tmp_path: Path) -> None:
    P, R = np.full((1, 2, 2), 0.5), np.zeros((1, 2))
    out = pfedrl.environment.write_environment(P, R, tmp_path / "mine")
    assert sorted(os.listdir(out)) == ["P_data.npy", "P_indices.npy", "P_indptr.npy", "P_shape.npy", "R_data.npy"]
    with pytest.raises(FileExistsError, match="nothing is written over"):
        pfedrl.environment.write_environment(P, R, tmp_path / "mine")
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".pfedrl-env-")]
