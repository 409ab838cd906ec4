"""Reading a reference trace written by `l2l-eval --trace` (format l2l-trace, version 1)."""
from __future__ import annotations

import os
from dataclasses import dataclass

import h5py
import numpy as np

from ._phi import LoadError

TRACE_FORMAT = "l2l-trace"


@dataclass
class Trace:
    """One evaluation run of the learned optimizer, step by step: `gradient[t]` is ∇f(θ_t) as the
    optimizer received it and `update[t]` the update it returned (steps × coordinates, float32),
    `theta0` θ₀ and `loss[t]` f(θ_t); `train_path` and `phi_source` say which φ produced it."""

    gradient: np.ndarray
    update: np.ndarray
    theta0: np.ndarray
    loss: np.ndarray
    train_path: str
    phi_source: str
    problem: str
    preprocessing: str


def load_trace(path: str) -> Trace:
    path = os.fspath(path)
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise LoadError(path, "", f"not a readable HDF5 file ({error})") from None
    with file:
        found = file.attrs.get("format")
        found = found.decode() if isinstance(found, bytes) else found
        if found != TRACE_FORMAT:
            raise LoadError(path, "/@format", f"is {found!r}, expected {TRACE_FORMAT!r} (written by l2l-eval --trace)")
        if int(file.attrs.get("format_version", -1)) != 1:
            raise LoadError(path, "/@format_version", f"is {file.attrs.get('format_version')}, this package reads 1")
        arrays = {}
        for name in ("gradient", "update", "theta0", "loss"):
            if name not in file:
                raise LoadError(path, f"/{name}", "missing")
            arrays[name] = file[name][()]
        if arrays["gradient"].shape != arrays["update"].shape or arrays["gradient"].shape[1:] != arrays["theta0"].shape:
            raise LoadError(path, "/update", f"shapes do not agree: gradient {arrays['gradient'].shape}, update {arrays['update'].shape}, theta0 {arrays['theta0'].shape}")
        text = lambda name: (lambda v: v.decode() if isinstance(v, bytes) else str(v))(file.attrs.get(name, ""))
        return Trace(arrays["gradient"], arrays["update"], arrays["theta0"], arrays["loss"],
                     text("train_path"), text("phi_source"), text("problem"), text("preprocessing"))
