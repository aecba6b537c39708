"""Shared fixtures: the repository root, the pfedrl command, a small config."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def cli() -> str:
    """The pfedrl command to compare against: $PFEDRL_CLI, else the build tree's, else PATH's."""
    for c in (os.environ.get("PFEDRL_CLI"), str(ROOT / "build" / "pfedrl"), shutil.which("pfedrl")):
        if c and os.access(c, os.X_OK):
            return c
    pytest.skip("no pfedrl command found (set PFEDRL_CLI)")


@pytest.fixture
def cliffwalk(root: Path) -> str:
    return str(root / "examples" / "cliffwalk.yaml")
