"""The Simulation class and the configuration schema (see the package docstring)."""
from __future__ import annotations

import ctypes
import operator
import os
import signal
import sys
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple, Union

import numpy as np

from . import _lib
from ._lib import Error, FederationTotals, Metrics, SetupInfo, lib
from .environment import write_environment

PathLike = Union[str, "os.PathLike[str]"]

_METRIC_FIELDS = [name for name, _ in Metrics._fields_ if name != "size"]


class PfedrlError(RuntimeError):
    """An error reported by the library: ``status`` (the C pfr_status code), ``status_text`` and the
    library's message naming what was wrong and what is allowed."""

    def __init__(self, status: int, message: str):
        self.status = int(status)
        self.status_text = lib.pfr_status_string(self.status).decode()
        self.message = message
        super().__init__(message if message else self.status_text)


class ConfigError(PfedrlError, ValueError):
    """A configuration key, value or file the library refused."""


class ArgumentError(PfedrlError, ValueError):
    """An argument out of its range (a round count, a type, an agent), refused before the library
    sees it: C would wrap it silently."""


def _raise(status: int, message: str) -> None:
    if status == _lib.ERR_CONFIG:
        raise ConfigError(status, message)
    raise PfedrlError(status, message)


def _check(status: int, err: Optional[Error] = None, what: str = "") -> None:
    if status != _lib.OK:
        msg = err.msg.decode(errors="replace") if err is not None else ""
        _raise(status, f"{what}: {msg}" if what and msg else (msg or what))


_INT64_MAX = 2**63 - 1


def _integer(value: Any, name: str, lo: int, hi: int) -> int:
    """An integer argument checked as Python code expects, before C would wrap it silently
    (2**64 + 2 as 2, 1.7 as 1): TypeError for what is not an integer (a float, a string, a bool),
    ValueError outside [lo, hi]."""
    if isinstance(value, bool) or not hasattr(type(value), "__index__"):
        raise TypeError(f"{name} must be an integer, not {type(value).__name__} {value!r}")
    v = operator.index(value)
    if not lo <= v <= hi:
        raise ArgumentError(_lib.ERR_INVALID_ARGUMENT, f"{name} must be in [{lo}, {hi}], not {v}")
    return v


def _c_text(value: Any, what: str) -> bytes:
    """Text for C: a str (or a path), without NUL bytes (C would end the text there)."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, bytes):
        raise TypeError(f"{what} must be a str, not bytes {value!r}")
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__} {value!r}")
    if "\0" in value:
        raise ValueError(f"{what} {value!r} holds a NUL byte; allowed: text without one")
    return value.encode()


def _text(value: Any) -> str:
    """A Python value as the config's text form (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (os.PathLike,)):
        return os.fspath(value)
    if isinstance(value, bytes):
        raise TypeError(f"config values are str, numbers or bools, not bytes {value!r}")
    if isinstance(value, (list, tuple)):  # a list key (dqn.hidden): w1,w2,...
        return ",".join(_text(v) for v in value)
    return str(value)


def _flatten(overrides: Mapping[str, Any], prefix: str = "") -> Dict[str, str]:
    """{"env": {"kind": "gridworld"}, "env__width": 20, "alpha": 0.1} -> dotted keys, text values."""
    out: Dict[str, str] = {}
    for key, value in overrides.items():
        if not isinstance(key, str):
            raise TypeError(f"config keys are str, not {type(key).__name__} {key!r}")
        name = prefix + key.replace("__", ".")
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = _text(value)
    return out


def config_keys() -> Dict[str, Dict[str, str]]:
    """Every configuration key: ``{name: {"help": ..., "default": ..., "allowed": ...}}`` (values in
    the text form that YAML files and keyword overrides use)."""
    out: Dict[str, Dict[str, str]] = {}
    buf = ctypes.create_string_buffer(2048)
    for i in range(lib.pfr_config_key_count()):
        name = lib.pfr_config_key_name(i).decode()
        lib.pfr_config_key_default(i, buf, len(buf))
        default = buf.value.decode()
        lib.pfr_config_key_allowed(i, buf, len(buf))
        out[name] = {"help": lib.pfr_config_key_help(i).decode(), "default": default, "allowed": buf.value.decode()}
    return out


def engines() -> str:
    """Which engines loaded and which devices were found (what ``pfedrl info`` prints)."""
    buf = ctypes.create_string_buffer(4096)
    lib.pfr_describe_engines(buf, len(buf))
    return buf.value.decode()


class _Config:
    """An owned pfr_config handle."""

    def __init__(self) -> None:
        self.ptr = ctypes.c_void_p()
        err = Error()
        _check(lib.pfr_config_create(ctypes.byref(self.ptr), ctypes.byref(err)), err)

    def load(self, path: PathLike) -> None:
        p = _c_text(path, "config")
        if not os.path.exists(p):
            raise ConfigError(_lib.ERR_IO, f"config file {p.decode()!r} does not exist")
        err = Error()
        _check(lib.pfr_config_load_yaml(self.ptr, p, ctypes.byref(err)), err)

    def set(self, key: str, value: str) -> None:
        err = Error()
        k, v = _c_text(key, "config key"), _c_text(value, f"the value of {key}")
        _check(lib.pfr_config_set(self.ptr, k, v, ctypes.byref(err)), err)

    def close(self) -> None:
        if self.ptr:
            lib.pfr_config_destroy(self.ptr)
            self.ptr = ctypes.c_void_p()


def _config_dict(cfg_ptr: int) -> Dict[str, str]:
    buf = ctypes.create_string_buffer(2048)
    out = {}
    for i in range(lib.pfr_config_key_count()):
        lib.pfr_config_key_value(cfg_ptr, i, buf, len(buf))
        out[lib.pfr_config_key_name(i).decode()] = buf.value.decode()
    return out


_KEY_TYPES: Dict[str, Callable[[str], Any]] = {}


def _key_type(key: str) -> Callable[[str], Any]:
    """The Python type of a key's values, from what the library says it allows (an integer, a
    number, true or false; else text: names and file paths)."""
    if not _KEY_TYPES:
        for name, k in config_keys().items():
            allowed = k["allowed"]
            _KEY_TYPES[name] = (int if allowed.startswith("an integer") else
                                _widths if allowed.startswith("a width") else
                                float if allowed.startswith("a number") else
                                (lambda v: v == "true") if allowed == "true or false" else str)
    return _KEY_TYPES.get(key, str)


def _widths(text: str) -> Any:
    """A list key's value: one number as an int, a list ("[128, 64]") as a list of ints."""
    text = text.strip()
    if not text.startswith("["):
        return int(text)
    return [int(w) for w in text.strip("[]").split(",")]


def _typed(text: Dict[str, str]) -> Dict[str, Any]:
    return {k: _key_type(k)(v) for k, v in text.items()}


class _Progress:
    """The progress report on stderr (set-up stages, then rounds with their rate and the time left):
    the rounds as a tqdm bar where tqdm is installed; otherwise one line redrawn on a terminal, and
    elsewhere (a log, a notebook's captured stream) plain lines, a set-up stage when it starts and
    the rounds at each evaluation or every 10 s, so a log is not flooded."""

    def __init__(self, enabled: bool, target: int = 0, first: int = 0):
        self.enabled, self.target, self.first, self.last = enabled, target, first, ""
        self.tty = enabled and sys.stderr.isatty()
        self.t0 = self.logged = time.monotonic()
        self.stage = ""
        self.bar = None  # tqdm's, for rounds, where tqdm is installed (a notebook widget in Jupyter)
        if enabled and target > first:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=target - first, unit="round", desc="pfedrl")

    def setup(self, stage: str, fraction: float) -> None:
        if not self.enabled:
            return
        if self.tty:
            self._show(f"set-up: {stage} {100 * fraction:5.1f}%")
        elif stage != self.stage:
            self.stage = stage
            self._line(f"set-up: {stage} ({time.monotonic() - self.t0:.1f} s)")

    def round(self, done: int, metrics: Optional[Dict[str, float]]) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(done - self.first - self.bar.n)
            if metrics:
                self.bar.set_postfix(value_error=f"{metrics['value_error']:.4g}")
            return
        if metrics:
            self.last = f"  value_error {metrics['value_error']:.4g}"
        now = time.monotonic()
        elapsed, ran = now - self.t0, done - self.first
        pace = ""
        if ran > 0 and elapsed > 0:
            left = (self.target - done) * elapsed / ran
            pace = f"  {ran / elapsed:.3g} rounds/s  ETA {left:.0f}s"
        text = f"round {done}/{self.target}{self.last}{pace}"
        if self.tty:
            self._show(text)
        elif metrics or done == self.target or now - self.logged >= 10.0:
            self.logged = now
            self._line(text)

    def _show(self, line: str) -> None:
        sys.stderr.write("\r" + line[:100].ljust(60))
        sys.stderr.flush()

    def _line(self, line: str) -> None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()


class Simulation:
    """N agents running PFedTD-Rep (or a baseline) on M environment types.

    ``Simulation(config="examples/cliffwalk.yaml", agents=4096, alpha=0.2, env={"types": 8})``: the
    YAML file (optional), then every keyword as a config key. Nested keys are given as dicts or with
    ``__`` for the dot (``env__kind="gridworld"``); ``overrides`` takes dotted names as they are
    (``overrides={"env.kind": "gridworld"}``). Set-up (the environment and its ground truth) happens
    here; ``progress=True`` reports it on stderr.

    ``P`` and ``R`` bring an environment of your own, as NumPy arrays or scipy.sparse matrices
    (``P`` [M, S, S], with control [M, S, A, S], or M sparse matrices [rows, S]; ``R`` the same
    shape, or one reward per row): they are written once to a folder of the cache named by their
    content (:func:`pfedrl.environment.write_environment`) and read as ``env.kind: file`` with
    ``env.dir``, so a checkpoint of the simulation resumes from the same folder.
    """

    def __init__(
        self,
        config: Optional[PathLike] = None,
        *,
        overrides: Optional[Mapping[str, Any]] = None,
        progress: bool = False,
        P: Any = None,
        R: Any = None,
        **keys: Any,
    ) -> None:
        self._ptr = ctypes.c_void_p()
        cfg = _Config()
        try:
            if config is not None:
                cfg.load(config)
            if P is not None or R is not None:  # env.kind file over the arrays' folder in the cache
                if P is None:
                    raise TypeError("R without P: give both (the transitions P and their rewards R)")
                cfg.set("env.kind", "file")
                cfg.set("env.dir", write_environment(P, R))
            for k, v in {**_flatten(keys), **_flatten(overrides or {})}.items():
                cfg.set(k, v)
            self._create(lambda fn, stop, err: lib.pfr_sim_create_stoppable(cfg.ptr, fn, None, stop,
                                                                            ctypes.byref(self._ptr), err), progress)
        finally:
            cfg.close()

    def _create(self, call: Callable[[Any, Any, Any], int], progress: bool) -> None:
        """The set-up, in a worker thread so that Ctrl-C reaches this one at once (the library holds
        no Python lock meanwhile): it then asks the set-up to stop at its next stage, waits for that,
        and raises KeyboardInterrupt with nothing kept."""
        bar = _Progress(progress)
        fn = _lib.SETUP_PROGRESS_FN(lambda _u, stage, frac: bar.setup(stage.decode(), frac))
        err, stop, status, done = Error(), ctypes.c_int(0), [], threading.Event()

        def work() -> None:
            try:
                status.append(call(fn, ctypes.byref(stop), ctypes.byref(err)))
            finally:
                done.set()

        # the end is told by an Event, not by Thread.join/is_alive: a Ctrl-C that interrupts join()
        # can leave the thread looking finished while its C call still runs (seen: the interpreter
        # then exited under it and crashed in the progress callback)
        worker = threading.Thread(target=work, name="pfedrl set-up", daemon=True)
        worker.start()
        try:
            while not done.wait(0.05):
                pass
        except KeyboardInterrupt:
            stop.value = 1
            while True:  # until the set-up has stopped (at its next stage); a second Ctrl-C changes nothing
                try:
                    if done.wait(0.05):
                        break
                except KeyboardInterrupt:
                    pass
            if status and status[0] == _lib.OK:  # it ended before it saw the request
                self.close()
            raise KeyboardInterrupt("set-up stopped; nothing kept") from None
        finally:
            bar.close()
        _check(status[0], err)
        self._on_round = _lib.PROGRESS_FN(self._round_callback)
        self._bar: Optional[_Progress] = None
        lib.pfr_sim_set_progress(self._ptr, self._on_round, None)
        # the shapes are fixed for the handle's life: read once, not on every array access
        c = self.config
        self._S, self._M = int(lib.pfr_sim_num_states(self._ptr)), int(lib.pfr_sim_num_types(self._ptr))
        self._N = int(c["agents"])
        self._d = 1 if c["algorithm"].endswith("_tabular") else int(c["dim"])  # the table: one column

    @classmethod
    def load(cls, path: PathLike, *, progress: bool = False, **overrides: Any) -> "Simulation":
        """A simulation from a checkpoint written by :meth:`save` (or ``pfedrl run``): running it on
        gives the same bits as a run that never stopped. ``overrides`` may change only what does not
        change results (rounds, threads, backend, eval_every, checkpoint_every, cuda_*)."""
        cp = _c_text(path, "checkpoint")
        if not os.path.exists(cp):
            raise PfedrlError(_lib.ERR_IO, f"checkpoint {cp.decode()!r} does not exist")
        pairs = [_c_text(f"{k}={v}", "override") for k, v in _flatten(overrides).items()]
        arr = (ctypes.c_char_p * max(1, len(pairs)))(*pairs)
        self = cls.__new__(cls)
        self._ptr = ctypes.c_void_p()
        self._create(lambda fn, stop, err: lib.pfr_sim_load_stoppable(cp, arr, len(pairs), fn, None, stop,
                                                                      ctypes.byref(self._ptr), err), progress)
        return self

    # ---- life ----------------------------------------------------------------------------------
    def close(self) -> None:
        """Free the simulation (also done when it is garbage collected, or on leaving a ``with``)."""
        if getattr(self, "_ptr", None):
            lib.pfr_sim_destroy(self._ptr)
            self._ptr = ctypes.c_void_p()

    def __enter__(self) -> "Simulation":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def _handle(self) -> ctypes.c_void_p:
        if not getattr(self, "_ptr", None):
            raise PfedrlError(_lib.ERR_INVALID_ARGUMENT, "this Simulation was closed")
        return self._ptr

    def _fail(self, status: int, what: str) -> None:
        msg = lib.pfr_sim_last_error(self._ptr).decode(errors="replace")
        _raise(status, f"{what}: {msg}" if msg else what)

    # ---- running -------------------------------------------------------------------------------
    def _round_callback(self, _user: Any, _sim: Any, rnd: int, m: Any) -> None:
        if self._bar is not None:
            self._bar.round(int(rnd), _metrics_dict(m.contents) if m else None)

    def run(self, rounds: int, progress: bool = False, evaluate: bool = True,
            callback: Optional[Callable[[Dict[str, float]], Any]] = None) -> "Simulation":
        """Run ``rounds`` more rounds, evaluating every ``eval_every`` rounds and, with ``evaluate``
        (the default), after the last; ``evaluate=False`` adds no evaluation of its own, so a loop of
        ``run(1, evaluate=False)`` keeps the history (and the time) of one long run. ``callback``, if
        given, is called with each evaluation as it is made (a dict, as in ``metrics``); when it
        returns ``False`` the run stops there (the rest of the rounds are not run). Ctrl-C stops at
        the end of the current round (the simulation stays usable: save it or run on) and raises
        KeyboardInterrupt. Returns self."""
        rounds = _integer(rounds, "rounds", 0, _INT64_MAX - self.round)
        if not isinstance(evaluate, bool):
            raise TypeError(f"evaluate must be True or False, not {type(evaluate).__name__}")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, not {type(callback).__name__}")
        if callback is None:
            bar = _Progress(progress, self.round + rounds, self.round)
            try:
                self._run(rounds, evaluate, bar)
            finally:
                bar.close()
            return self
        for m in self._evaluations(rounds, progress, evaluate):
            if callback(m) is False:
                break
        return self

    def evaluations(self, rounds: int, progress: bool = False) -> Iterator[Dict[str, float]]:
        """Run ``rounds`` more rounds, yielding each evaluation as it is made (a dict, as in
        ``metrics``): every ``eval_every`` rounds (and round 0 on a new simulation) and after the
        last round, as ``run(rounds)`` makes them, with the same bits and history. Leaving the loop
        early (``break``) leaves the simulation at the round of the last evaluation it yielded,
        usable: run on, evaluate or save it::

            for m in sim.evaluations(500):
                if m["value_error"] < 0.05:
                    break
        """
        rounds = _integer(rounds, "rounds", 0, _INT64_MAX - self.round)
        return self._evaluations(rounds, progress, True)

    def _evaluations(self, rounds: int, progress: bool, evaluate: bool) -> Iterator[Dict[str, float]]:
        # From one evaluation round to the next (each a run that adds no evaluation of its own), the
        # last with the evaluation after the last round: the evaluations of one run(rounds).
        every = max(1, self.config["eval_every"])
        target = self.round + rounds
        bar = _Progress(progress, target, self.round)
        h = self._handle()
        try:
            seen = lib.pfr_sim_metrics_count(h)
            self._run(0, rounds == 0 and evaluate, bar)  # (a new simulation's round 0, before any step)
            while True:
                for i in range(seen, lib.pfr_sim_metrics_count(h)):
                    yield self._metrics_at(i)
                seen = lib.pfr_sim_metrics_count(h)
                if self.round >= target:
                    return
                step = min(target, (self.round // every + 1) * every) - self.round
                self._run(step, evaluate and self.round + step == target, bar)
        finally:
            bar.close()

    def _run(self, rounds: int, evaluate: bool, bar: "_Progress") -> None:
        h = self._handle()
        flags = _lib.RUN_EVALUATE_END if evaluate else 0
        self._bar = bar
        interrupted = []
        old = None
        if threading.current_thread() is threading.main_thread():
            def on_sigint(_sig: int, _frame: Any) -> None:
                interrupted.append(True)
                lib.pfr_sim_request_stop(h)
            old = signal.signal(signal.SIGINT, on_sigint)
        try:
            status = lib.pfr_sim_run_ex(h, rounds, flags)
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
            self._bar = None
        if status == _lib.ERR_INTERRUPTED and interrupted:
            raise KeyboardInterrupt(f"stopped at the end of round {self.round}")
        if status != _lib.OK:
            self._fail(status, "run")

    def evaluate(self) -> Dict[str, float]:
        """The metrics now, without adding them to the history."""
        m = Metrics()
        status = lib.pfr_sim_evaluate(self._handle(), ctypes.byref(m), ctypes.sizeof(m))
        if status != _lib.OK:
            self._fail(status, "evaluate")
        return _metrics_dict(m)

    def save(self, path: PathLike) -> None:
        """Write a checkpoint (versioned, with a CRC-32; written to a temporary file, then renamed)."""
        err = Error()
        _check(lib.pfr_sim_save(self._handle(), _c_text(path, "checkpoint path"), ctypes.byref(err)), err)

    # ---- what it is ----------------------------------------------------------------------------
    @property
    def config(self) -> Dict[str, Any]:
        """Every config key of this simulation, resolved, as Python values: int, float, bool, str
        (names and paths), or a list of ints (dqn.hidden with several widths). ``config_text``
        gives the text form that YAML and overrides use."""
        return _typed(self.config_text)

    @property
    def config_text(self) -> Dict[str, str]:
        """Every config key of this simulation, in the text form of YAML files and overrides."""
        return _config_dict(lib.pfr_sim_config(self._handle()))

    @property
    def num_states(self) -> int:
        self._handle()
        return self._S

    @property
    def num_types(self) -> int:
        self._handle()
        return self._M

    @property
    def num_agents(self) -> int:
        self._handle()
        return self._N

    @property
    def dim(self) -> int:
        """Columns of Phi (1 for the tabular learners, whatever ``dim`` says)."""
        self._handle()
        return self._d

    @property
    def round(self) -> int:
        """Rounds completed."""
        return int(lib.pfr_sim_round(self._handle()))

    @property
    def backend(self) -> str:
        return lib.pfr_sim_backend(self._handle()).decode()

    @property
    def threads(self) -> int:
        return int(lib.pfr_sim_threads(self._handle()))

    @property
    def description(self) -> str:
        """One line on the environment family and its types."""
        return lib.pfr_sim_env_description(self._handle()).decode()

    @property
    def warnings(self) -> List[str]:
        text = lib.pfr_sim_warnings(self._handle()).decode()
        return [w for w in text.splitlines() if w]

    @property
    def setup_info(self) -> Dict[str, Any]:
        """Set-up time, how well the ground truth was solved (residuals), and the CPU engine's kernel
        that runs (cpu_kernel resolved; "" on the CUDA engine)."""
        si = SetupInfo()
        _check(lib.pfr_sim_setup_info(self._handle(), ctypes.byref(si), ctypes.sizeof(si)), None, "setup_info")
        return {"setup_s": si.setup_s, "truth_s": si.truth_s, "truth_method": si.truth_method.decode(),
                "truth_residual_v": si.truth_resid_v, "truth_residual_mu": si.truth_resid_mu,
                "cpu_kernel": (si.cpu_kernel or b"").decode()}

    @property
    def federation(self) -> Dict[str, Any]:
        """Federation over every round so far: participations, mean participants per round, mean
        steps and staleness per participation, and the privacy spent (epsilon at delta; NaN without
        noise)."""
        t = FederationTotals()
        _check(lib.pfr_sim_federation_totals(self._handle(), ctypes.byref(t), ctypes.sizeof(t)), None, "federation")
        return {"rounds": t.rounds, "participations": t.participations, "mean_participants": t.mean_participants,
                "mean_steps": t.mean_steps, "mean_staleness": t.mean_staleness, "private_rounds": t.private_rounds,
                "epsilon": t.epsilon, "delta": t.delta, "rdp_order": t.rdp_order}

    def type_singular_values(self) -> np.ndarray:
        """The normalized singular values of the M types' values (how different the types are)."""
        h = self._handle()
        n = min(self.num_states, self.num_types)
        out = np.empty(n, dtype=np.float64)
        got = lib.pfr_sim_type_singular_values(h, out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), n)
        if got < 0:
            raise PfedrlError(_lib.ERR_NO_MEMORY, "type_singular_values: out of memory")
        return out

    # ---- arrays (copies) -----------------------------------------------------------------------
    def _get(self, fn: Callable[..., int], shape: Tuple[int, ...], dtype: Any, *args: Any) -> np.ndarray:
        out = np.empty(shape, dtype=dtype)
        status = fn(self._handle(), *args, out.ctypes.data_as(ctypes.c_void_p), out.size)
        if status != _lib.OK:
            self._fail(status, fn.__name__)
        return out

    @property
    def phi(self) -> np.ndarray:
        """The shared representation Phi, float32 [S, d] (local learners: agent 0's)."""
        return self._get(lib.pfr_sim_get_phi, (self.num_states, self.dim), np.float32)

    @phi.setter
    def phi(self, value: np.ndarray) -> None:
        self._set(lib.pfr_sim_set_phi, value, (self.num_states, self.dim), np.float32)

    def agent_phi(self, agent: int) -> np.ndarray:
        """Phi as agent ``agent`` sees it: the shared one, or its own (local learners)."""
        agent = _integer(agent, "agent", 0, self.num_agents - 1)
        return self._get(lib.pfr_sim_get_agent_phi, (self.num_states, self.dim), np.float32, agent)

    def body(self, agent: int = 0) -> np.ndarray:
        """The neural instance (env.kind cartpole, acrobot): agent ``agent``'s body, float32, every
        layer's W [out, in] row-major then its b [out], layer by layer (pfeddqn_rep, fedavg_dqn: the
        shared body, every agent's)."""
        agent = _integer(agent, "agent", 0, self.num_agents - 1)
        n = int(lib.pfr_sim_body_size(self._handle()))
        return self._get(lib.pfr_sim_get_body, (n,), np.float32, agent)

    @property
    def heads(self) -> np.ndarray:
        """The neural instance: every agent's head, float32 [N, A, d] (Q_i(s, a) = heads[i, a] . body(s))."""
        h = self._handle()
        A, d = int(lib.pfr_sim_num_actions(h)), self.dim
        out = np.empty((self.num_agents, A, d), dtype=np.float32)
        for i in range(self.num_agents):
            out[i] = self._get(lib.pfr_sim_get_head, (A, d), np.float32, i)
        return out

    @property
    def theta(self) -> np.ndarray:
        """Every agent's weights theta_i, float32 [N, d]."""
        return self._get(lib.pfr_sim_get_thetas, (self.num_agents, self.dim), np.float32)

    @theta.setter
    def theta(self, value: np.ndarray) -> None:
        self._set(lib.pfr_sim_set_theta, value, (self.num_agents, self.dim), np.float32)

    @property
    def states(self) -> np.ndarray:
        """Every agent's current Markov-chain state, uint32 [N]."""
        return self._get(lib.pfr_sim_get_states, (self.num_agents,), np.uint32)

    @states.setter
    def states(self, value: np.ndarray) -> None:
        self._set(lib.pfr_sim_set_states, value, (self.num_agents,), np.uint32)

    def _set(self, fn: Callable[..., int], value: Any, shape: Tuple[int, ...], dtype: Any) -> None:
        arr = np.ascontiguousarray(value, dtype=dtype)
        if arr.shape != shape:
            raise ValueError(f"expected an array of shape {shape}, got {arr.shape}")
        status = fn(self._handle(), arr.ctypes.data_as(ctypes.c_void_p), arr.size)
        if status != _lib.OK:
            self._fail(status, fn.__name__)

    def ground_truth(self, type: int) -> Tuple[np.ndarray, np.ndarray]:
        """Type ``type``'s true values V_m and stationary distribution mu_m, float64 [S] each."""
        S = self.num_states
        type = _integer(type, "type", 0, self.num_types - 1)
        v, mu = np.empty(S), np.empty(S)
        status = lib.pfr_sim_get_ground_truth(self._handle(), type, v.ctypes.data_as(ctypes.c_void_p),
                                              mu.ctypes.data_as(ctypes.c_void_p), S)
        if status != _lib.OK:
            self._fail(status, "ground_truth")
        return v, mu

    # ---- metrics -------------------------------------------------------------------------------
    @property
    def metrics(self) -> List[Dict[str, float]]:
        """The evaluation history: one dict per evaluation (round, agent_steps, value_error, ...)."""
        return [self._metrics_at(i) for i in range(lib.pfr_sim_metrics_count(self._handle()))]

    def _metrics_at(self, i: int) -> Dict[str, float]:
        m = Metrics()
        _check(lib.pfr_sim_metrics_get(self._handle(), i, ctypes.byref(m), ctypes.sizeof(m)), None, "metrics")
        return _metrics_dict(m)

    def metrics_by_type(self) -> np.ndarray:
        """Each evaluation's mean value error per type, float64 [evaluations, M] (NaN: no agent)."""
        h = self._handle()
        n, M = lib.pfr_sim_metrics_count(h), self.num_types
        out = np.empty((n, M))
        for i in range(n):
            row = out[i]
            _check(lib.pfr_sim_metrics_by_type(h, i, row.ctypes.data_as(ctypes.c_void_p), M), None, "metrics_by_type")
        return out

    def metrics_frame(self) -> "Any":
        """The history as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("metrics_frame needs pandas: pip install pandas") from e
        return pd.DataFrame(self.metrics, columns=_METRIC_FIELDS)

    def metrics_by_type_frame(self) -> "Any":
        """metrics_by_type() labelled, as pandas DataFrame in long form: one row per evaluation and
        type, columns ``round``, ``agent_steps``, ``type``, ``value_error`` (as metrics_by_type.csv
        of the command line; needs pandas). ``.pivot(index="round", columns="type",
        values="value_error")`` gives the wide table."""
        try:
            import pandas as pd
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("metrics_by_type_frame needs pandas: pip install pandas") from e
        errors, history = self.metrics_by_type(), self.metrics
        n, M = errors.shape
        return pd.DataFrame({
            "round": np.repeat([int(m["round"]) for m in history], M),
            "agent_steps": np.repeat([int(m["agent_steps"]) for m in history], M),
            "type": np.tile(np.arange(M), n),
            "value_error": errors.reshape(-1),
        })

    def __copy__(self) -> "Simulation":
        # a copy would share the C handle, and the first of the two to close would free it under the
        # other (a crash, not an error): no copies; save() and Simulation.load() make an independent one
        raise TypeError("a pfedrl.Simulation cannot be copied (it owns the C library's handle); for an "
                        "independent one: sim.save(path); Simulation.load(path)")

    def __deepcopy__(self, memo: Dict[int, Any]) -> "Simulation":
        return self.__copy__()

    def __reduce__(self) -> Any:
        raise TypeError("a pfedrl.Simulation cannot be pickled (it owns the C library's handle); "
                        "save() writes a checkpoint that Simulation.load() reads")

    def __repr__(self) -> str:
        if not getattr(self, "_ptr", None):
            return "<pfedrl.Simulation (closed)>"
        c = self.config
        return (f"<pfedrl.Simulation {c['algorithm']} N={c['agents']} S={self.num_states} d={self.dim} "
                f"M={self.num_types} round={self.round} backend={self.backend}>")


def _metrics_dict(m: Metrics) -> Dict[str, float]:
    d: Dict[str, float] = {}
    for name in _METRIC_FIELDS:
        if Metrics.__dict__[name].offset >= m.size:  # an older library did not fill it
            continue
        v = getattr(m, name)
        d[name] = int(v) if name in ("round", "agent_steps") else float(v)
    return d
