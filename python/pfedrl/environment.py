"""Environments from arrays: P and R as NumPy arrays or scipy.sparse matrices, written once as the
folder of sparse rows that ``pfedrl export`` writes and ``env.kind: file`` with ``env.dir`` reads.

The folder is named by a hash of its content, under the cache (``$PFEDRL_CACHE``, else
``$XDG_CACHE_HOME/pfedrl``, else ``~/.cache/pfedrl``): the same arrays give the same folder, so a
checkpoint of a simulation built from arrays resumes (its config names the folder) for as long as the
cache keeps it, and building the same environment again writes nothing.

Shapes (M types, S states, A actions; rows = S, or S A with control, row s A + a for state s and
action a):

- ``P``: a dense array ``[M, S, S]`` (control: ``[M, S, A, S]``), or a sequence of M scipy.sparse
  matrices ``[rows, S]`` (a single one is one type).
- ``R``: the reward of each transition, the shape of ``P`` (dense or sparse; read where P is
  nonzero), or one reward per row: ``[M, S]`` (control: ``[M, S, A]``).

Every value is checked by the library when the simulation is built (rows summing to 1, next states
in range, finite rewards), with the position named.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from typing import Any, List, Sequence, Tuple

import numpy as np

__all__ = ["write_environment", "cache_dir"]

_FILES = ("P_shape", "P_indptr", "P_indices", "P_data", "R_data")


def cache_dir() -> str:
    """Where environments built from arrays are kept (see the module's docstring)."""
    if os.environ.get("PFEDRL_CACHE"):
        return os.environ["PFEDRL_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pfedrl")


def _is_sparse(x: Any) -> bool:
    return hasattr(x, "tocsr") and hasattr(x, "nnz")


def _types(P: Any) -> Tuple[List[Any], bool]:
    """P as a list of per-type matrices [rows, S], and whether they are sparse."""
    if _is_sparse(P):
        return [P], True
    if not _sparse_input(P):
        a = np.asarray(P)
        if a.dtype == object or a.ndim not in (3, 4):
            raise ValueError(f"P has shape {a.shape}; allowed: [M, S, S], with control [M, S, A, S], or a sequence "
                             "of M scipy.sparse matrices [rows, S]")
        return [m.reshape(-1, a.shape[-1]) for m in a], False
    mats = list(P)
    if not all(_is_sparse(m) for m in mats):
        raise TypeError("P as a sequence: allowed: M scipy.sparse matrices [rows, S] (or one dense array)")
    return mats, True


def _pattern(Pm: Any, sparse: bool) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One type's rows in CSR: offsets [rows+1], next states, probabilities, and each entry's row."""
    if sparse:
        c = Pm.tocsr().copy()
        c.sum_duplicates()  # canonical: sorted, one entry per next state
        indptr = np.asarray(c.indptr, dtype=np.int64)
        cols, data = np.asarray(c.indices, dtype=np.int64), np.asarray(c.data, dtype=np.float64)
    else:
        d = np.asarray(Pm, dtype=np.float64)
        nz = d != 0  # negative entries kept: the library names them
        rows_i, cols = np.nonzero(nz)
        indptr = np.concatenate([[0], np.cumsum(nz.sum(axis=1))]).astype(np.int64)
        data = d[rows_i, cols]
    rows = np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))
    return indptr, cols, data, rows


def _sparse_input(x: Any) -> bool:
    """A scipy.sparse matrix, or a sequence of them (not a nested list of numbers)."""
    return _is_sparse(x) or (isinstance(x, Sequence) and len(x) > 0 and _is_sparse(x[0]))


def _rewards(R: Any, m: int, nrows: int, S: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Type m's reward at each entry of its pattern (rows, cols)."""
    if _sparse_input(R):
        Rm = R if _is_sparse(R) else R[m]
        if not _is_sparse(Rm):
            raise TypeError("R as a sequence: allowed: M scipy.sparse matrices of P's shape")
        c = Rm.tocsr().copy()
        c.sum_duplicates()
        if c.shape != (nrows, S):
            raise ValueError(f"R[{m}] has shape {c.shape}; allowed: P's [{nrows}, {S}]")
        r_rows = np.repeat(np.arange(nrows, dtype=np.int64), np.diff(c.indptr))
        key, want = r_rows * S + c.indices, rows * S + cols
        at = np.searchsorted(key, want)
        hit = (at < len(key)) & (key[np.minimum(at, len(key) - 1)] == want) if len(key) else np.zeros(len(want), bool)
        out = np.zeros(len(want))
        out[hit] = np.asarray(c.data, dtype=np.float64)[at[hit]]
        return out
    a = np.asarray(R, dtype=np.float64)[m]
    if a.size == nrows:  # one reward per row: [S], or [S, A] with control
        return a.reshape(nrows)[rows]
    if a.size == nrows * S:
        return a.reshape(nrows, S)[rows, cols]
    raise ValueError(f"R[{m}] has shape {a.shape}; allowed: P's shape, or one reward per row ({nrows} of them)")


def _arrays(P: Any, R: Any) -> dict:
    mats, sparse = _types(P)
    M = len(mats)
    nrows, S = mats[0].shape
    if any(m.shape != (nrows, S) for m in mats):
        raise ValueError("P: every type's matrix must have the same shape [rows, S]")
    if R is None:
        raise TypeError("R is missing: with P, give R (the reward of each transition, or of each row)")
    if not _sparse_input(R) and np.asarray(R).shape[:1] != (M,):
        raise ValueError(f"R has shape {np.asarray(R).shape}; allowed: one entry per type first (M = {M})")
    ip, idx, pd, rd = [], [], [], []
    at = 0
    for m, Pm in enumerate(mats):
        indptr, cols, data, rows = _pattern(Pm, sparse)
        ip.append(indptr + at)
        idx.append(cols)
        pd.append(data)
        rd.append(_rewards(R, m, nrows, S, rows, cols))
        at += len(cols)
    return {"P_shape": np.array([M, nrows, S], dtype=np.int64), "P_indptr": np.stack(ip),
            "P_indices": np.concatenate(idx).astype(np.int32), "P_data": np.concatenate(pd),
            "R_data": np.concatenate(rd)}


def write_environment(P: Any, R: Any, folder: Any = None) -> str:
    """Write P and R as a folder of sparse rows and return its path: ``folder`` if given (it must not
    exist), else the cache's folder for this content (reused when it is there)."""
    arrays = _arrays(P, R)
    h = hashlib.sha256()
    for name in _FILES:
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name} {a.dtype.str} {a.shape};".encode())
        h.update(a.tobytes())
    if folder is None:
        root = os.path.join(cache_dir(), "envs")
        folder = os.path.join(root, h.hexdigest()[:32])
        if os.path.isfile(os.path.join(folder, "R_data.npy")):
            return folder
    else:
        folder = os.fspath(folder)
        if os.path.exists(folder):
            raise FileExistsError(f"{folder} exists; allowed: a new folder (nothing is written over)")
    parent = os.path.dirname(os.path.abspath(folder))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".pfedrl-env-", dir=parent)  # whole, then renamed: never half-written
    try:
        for name in _FILES:
            np.save(os.path.join(tmp, name + ".npy"), arrays[name])
        try:
            os.rename(tmp, folder)
        except OSError:
            if not os.path.isfile(os.path.join(folder, "R_data.npy")):
                raise
            shutil.rmtree(tmp)  # another process wrote the same content first
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder
