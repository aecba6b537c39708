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
