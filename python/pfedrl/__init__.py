"""pfedrl — personalized federated reinforcement learning with shared representations, at scale.

A thin layer over the C library (libpfedrl, through its public API): build a simulation from a YAML
config and keyword overrides, run rounds, read Phi, theta, states, the ground truth and the
metrics as NumPy arrays (copies: nothing points into the library's memory), save and load
checkpoints. Errors raise :class:`PfedrlError` with the library's message (:class:`ConfigError` and
:class:`ArgumentError` are also ValueErrors); an argument of the wrong type raises TypeError; Ctrl-C
during a set-up or a run raises KeyboardInterrupt (a run stops at the end of a round and the
simulation goes on; a set-up at its next stage, keeping nothing).

>>> import pfedrl
>>> sim = pfedrl.Simulation(config="examples/cliffwalk.yaml", agents=4096)
>>> sim.run(100)
>>> sim.metrics[-1]["value_error"]
"""
from __future__ import annotations

from . import environment, loggers
from ._lib import lib as _libc
from .simulation import ArgumentError, ConfigError, PfedrlError, Simulation, config_keys, engines

__all__ = ["Simulation", "PfedrlError", "ConfigError", "ArgumentError", "config_keys", "engines", "loggers",
           "environment", "__version__"]

#: The version of the loaded C library ("major.minor.patch").
__version__: str = _libc.pfr_version().decode()
