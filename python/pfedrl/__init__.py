"""pfedrl — personalized federated reinforcement learning with shared representations, at scale.

A thin layer over the C library (libpfedrl, through its public API): build a simulation from a YAML
config and keyword overrides, run rounds, read Phi, theta, states, the ground truth and the
metrics as NumPy arrays (copies: nothing points into the library's memory), save and load
checkpoints. Errors raise :class:`PfedrlError` with the library's message.

>>> import pfedrl
>>> sim = pfedrl.Simulation(config="examples/cliffwalk.yaml", agents=4096)
>>> sim.run(100)
>>> sim.metrics[-1]["value_error"]
"""
from __future__ import annotations

from ._lib import lib as _libc
from .simulation import ConfigError, PfedrlError, Simulation, config_keys, engines

__all__ = ["Simulation", "PfedrlError", "ConfigError", "config_keys", "engines", "__version__"]

#: The version of the loaded C library ("major.minor.patch").
__version__: str = _libc.pfr_version().decode()
