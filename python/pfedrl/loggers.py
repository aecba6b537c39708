"""Loggers of a run's evaluations, as ``run`` callbacks: each is called with every evaluation (the
dict of ``Simulation.metrics``) and writes its numbers at that round. They never stop a run.

>>> sim.run(500, callback=pfedrl.loggers.TensorBoard("runs/tb"))      # tensorboard --logdir runs/tb
>>> sim.run(500, callback=pfedrl.loggers.WandB(project="pfedrl", config=sim.config))

Each needs its own package (tensorboardX or PyTorch's tensorboard; wandb), imported only when the
logger is made; without it, an ImportError says what to install.
"""
from __future__ import annotations

import math
from typing import Any, Dict

#: The metrics each logger writes (the others, such as the round itself, are the step or bookkeeping).
LOGGED = ("value_error", "td_fixed_point_error", "best_rank_d_error", "phi_norm", "theta_norm", "agent_steps",
          "agent_steps_per_sec", "participants", "mean_steps", "mean_staleness", "epsilon", "policy_gap")


def _numbers(m: Dict[str, float]) -> Dict[str, float]:
    """The metrics worth a point: finite numbers (NaN marks one that does not apply to this run)."""
    return {k: float(m[k]) for k in LOGGED if k in m and math.isfinite(float(m[k]))}


class TensorBoard:
    """Every evaluation's metrics as TensorBoard scalars ``prefix + name`` at step = round."""

    def __init__(self, logdir: str, prefix: str = "") -> None:
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as e:
                raise ImportError("pfedrl.loggers.TensorBoard needs tensorboardX (pip install tensorboardX) "
                                  "or PyTorch's tensorboard") from e
        self.writer = SummaryWriter(logdir)
        self.prefix = prefix

    def __call__(self, m: Dict[str, float]) -> None:
        step = int(m["round"])
        for k, v in _numbers(m).items():
            self.writer.add_scalar(self.prefix + k, v, step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandB:
    """Every evaluation's metrics logged to a Weights & Biases run at step = round; ``init`` is
    passed to ``wandb.init`` (project, name, config, mode="offline", ...)."""

    def __init__(self, **init: Any) -> None:
        try:
            import wandb
        except ImportError as e:
            raise ImportError("pfedrl.loggers.WandB needs wandb (pip install wandb)") from e
        self.wandb = wandb
        self.run = wandb.init(**init)

    def __call__(self, m: Dict[str, float]) -> None:
        self.run.log(_numbers(m), step=int(m["round"]))

    def close(self) -> None:
        self.run.finish()
