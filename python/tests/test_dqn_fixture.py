"""tests/fixtures/dqn_reference.txt, which tests/test_dqn.cc checks the C DQN step against, is what the
independent NumPy implementation (scripts/dqn_reference.py) computes: regenerated here and compared
value by value (to 1e-12: a NumPy release may round a last digit differently)."""
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def parse(path):
    out, case = {}, None
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#") or parts[0] == "end":
            continue
        if parts[0] == "case":
            case = parts[1]
            continue
        out[(case, parts[0])] = np.array([float(x) for x in parts[2:]])
    return out


def test_the_fixture_is_the_numpy_reference(tmp_path):
    fresh = tmp_path / "dqn_reference.txt"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "dqn_reference.py"), str(fresh)], check=True)
    want, got = parse(ROOT / "tests" / "fixtures" / "dqn_reference.txt"), parse(fresh)
    assert sorted(want) == sorted(got)
    for key in want:
        assert np.allclose(want[key], got[key], rtol=1e-12, atol=1e-15), key
