"""The recording tests/test_classic.cc checks the C dynamics against is still Gymnasium's: every
step of tests/fixtures/classic_trajectories.csv replayed in Gymnasium from its state and action gives
the recorded next state exactly (scripts/classic_trajectories.py wrote it)."""
import csv
from pathlib import Path

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "classic_trajectories.csv"


def make(env_id, p):
    if env_id == "cartpole":
        env = gym.make("CartPole-v1").unwrapped
        env.gravity, env.masscart, env.masspole, env.length, env.polemass_length, env.force_mag, env.tau = p[:7]
        env.total_mass = env.masspole + env.masscart
        env.kinematics_integrator = "semi" if p[7] else "euler"
    else:
        env = gym.make("Acrobot-v1").unwrapped
        (env.dt, env.LINK_MASS_1, env.LINK_MASS_2, env.LINK_LENGTH_1, env.LINK_COM_POS_1, env.LINK_COM_POS_2,
         env.LINK_MOI) = p[:7]
        env.book_or_nips = "nips" if p[7] else "book"
    env.reset(seed=0)
    return env


def test_every_recorded_step_is_gymnasiums():
    envs, steps = {}, 0
    with open(FIXTURE) as f:
        for r in csv.DictReader(f):
            key = (r["env"], r["setting"])
            if r["kind"] == "reset":
                envs[key] = make(r["env"], [float(r[f"p{j}"]) for j in range(8)])
                continue
            env = envs[key]
            env.state = np.array([float(r[f"s{j}"]) for j in range(4)], dtype=np.float64)
            _, _, term, _, _ = env.step(int(r["action"]))
            assert [float(x) for x in env.state] == [float(r[f"n{j}"]) for j in range(4)], (key, steps)
            assert int(term) == int(r["terminated"]), (key, steps)
            steps += 1
    assert steps > 600 and len(envs) == 8
