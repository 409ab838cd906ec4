"""Loading φ, the learned optimizer's weights, from an l2l `train.h5` (docs/hdf5-layout.md)."""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple, Union

import h5py
import numpy as np

FORMAT = "l2l-train"
FORMAT_VERSIONS = (2, 3)


class LoadError(ValueError):
    """A file that cannot give a usable φ; the message names the file and the object."""

    def __init__(self, path: str, obj: str, reason: str):
        self.path, self.object, self.reason = path, obj, reason
        super().__init__(f"{path}: {obj}: {reason}" if obj else f"{path}: {reason}")


@dataclass(frozen=True)
class Preprocessing:
    """How a coordinate's gradient becomes the LSTM's input (paper Appendix A; Lv et al. 2017).

    kind is "identity", "log_and_sign" (with k) or "normalised" (with beta1, beta2, epsilon).
    """

    kind: str
    k: float = 0.0
    beta1: float = 0.0
    beta2: float = 0.0
    epsilon: float = 0.0

    @property
    def input_size(self) -> int:
        return 1 if self.kind == "identity" else 2

    @staticmethod
    def parse(text: str, path: str = "", obj: str = "/phi@preprocessing") -> "Preprocessing":
        """Reads l2l's description: identity, LogAndSign(k: 10.0), Normalised(beta1: …, beta2: …, epsilon: …)."""
        text = text.strip()
        if text == "identity":
            return Preprocessing("identity")
        number = r"([-+0-9.eE]+|inf|nan)"
        match = re.fullmatch(rf"LogAndSign\(k: {number}\)", text)
        if match:
            return Preprocessing("log_and_sign", k=_finite(float(match.group(1)), path, obj))
        match = re.fullmatch(rf"Normalised\(beta1: {number}, beta2: {number}, epsilon: {number}\)", text)
        if match:
            beta1, beta2, epsilon = (_finite(float(g), path, obj) for g in match.groups())
            return Preprocessing("normalised", beta1=beta1, beta2=beta2, epsilon=epsilon)
        raise LoadError(path, obj, f"unknown preprocessing '{text}' (this package reads identity, LogAndSign(k: …) and Normalised(beta1: …, beta2: …, epsilon: …))")


@dataclass
class Phi:
    """φ: the weights of the coordinate-wise LSTM optimizer (paper §2.1), float32.

    `layers[l]` is (w, b): w of shape (inputs + H, 4H), rows the layer's input then its previous h,
    columns the gates i, j, f, o; `out_w` (H, 1) and `out_b` (1,) map the top h to the update,
    which is multiplied by `output_scale`.
    """

    layers: List[Tuple[np.ndarray, np.ndarray]]
    out_w: np.ndarray
    out_b: np.ndarray
    preprocessing: Preprocessing
    output_scale: float
    source: str = ""
    epoch: Optional[int] = None
    attributes: Dict[str, object] = field(default_factory=dict)

    @property
    def hidden_sizes(self) -> List[int]:
        return [b.shape[0] // 4 for _, b in self.layers]


def load(path: Union[str, os.PathLike], which: str = "best", member: Optional[str] = None) -> Phi:
    """φ from an l2l run.

    path: a `train.h5`, a run folder holding one, or a sweep's folder (then name the `member`, its
    folder name such as "seed=20161205"). which: "best" (/phi/best, what l2l-eval uses),
    "latest" (/phi/latest), or "trajectory:N" (the /phi/history snapshot after N trajectories).

    Raises LoadError naming the file and the object for anything it cannot use: another format,
    a missing tensor, a wrong shape or type, a NaN or infinite value, an unknown preprocessing.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        candidate = os.path.join(path, member, "train.h5") if member else os.path.join(path, "train.h5")
        if not os.path.exists(candidate):
            members = sorted(m for m in os.listdir(path) if os.path.exists(os.path.join(path, m, "train.h5")))
            hint = f"; the folder's members: {', '.join(members)}" if members else ""
            raise LoadError(candidate, "", f"no such file{hint}")
        path = candidate
    elif member:
        raise LoadError(path, "", "member= goes with a sweep's folder, not a train.h5")
    if not os.path.exists(path):
        raise LoadError(path, "", "no such file")
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise LoadError(path, "", f"not a readable HDF5 file ({error})") from None
    with file:
        found = _text(file.attrs.get("format"))
        if found != FORMAT:
            raise LoadError(path, "/@format", f"is {found!r}, expected {FORMAT!r} (an l2l-train run)")
        version = file.attrs.get("format_version")
        if version is None or int(version) not in FORMAT_VERSIONS:
            raise LoadError(path, "/@format_version", f"is {version}, this package reads {FORMAT_VERSIONS}")
        if "phi" not in file:
            raise LoadError(path, "/phi", "missing")
        phi_group = file["phi"]
        attributes = {name: _plain(value) for name, value in phi_group.attrs.items()}
        for name in ("layers", "preprocessing", "output_scale"):
            if name not in phi_group.attrs:
                raise LoadError(path, f"/phi@{name}", "missing")
        hidden = [int(h) for h in np.atleast_1d(phi_group.attrs["layers"])]
        if not hidden or any(h < 1 for h in hidden):
            raise LoadError(path, "/phi@layers", f"is {hidden}, expected positive hidden sizes")
        preprocessing = Preprocessing.parse(_text(phi_group.attrs["preprocessing"]), path)
        output_scale = _finite(float(phi_group.attrs["output_scale"]), path, "/phi@output_scale")
        names = _tensor_names(hidden)
        values, source, epoch = _select(file, path, which, names)
        shapes = _tensor_shapes(hidden, preprocessing.input_size)
        tensors = {}
        for name in names:
            array = values[name]
            if array.shape != shapes[name]:
                raise LoadError(path, f"{source}/{name}", f"has shape {array.shape}, expected {shapes[name]} for layers {hidden} and {preprocessing.kind} inputs")
            if not np.all(np.isfinite(array)):
                bad = np.argwhere(~np.isfinite(array))[0]
                raise LoadError(path, f"{source}/{name}", f"is not finite at {tuple(int(i) for i in bad)} ({array[tuple(bad)]})")
            tensors[name] = array
    layers = [(tensors[f"lstm{l + 1}/w"], tensors[f"lstm{l + 1}/b"]) for l in range(len(hidden))]
    return Phi(layers, tensors["out/w"], tensors["out/b"], preprocessing, output_scale, f"{path}:{source}", epoch, attributes)


def _tensor_names(hidden):
    return [f"lstm{l + 1}/{t}" for l in range(len(hidden)) for t in ("w", "b")] + ["out/w", "out/b"]


def _tensor_shapes(hidden, inputs):
    shapes, below = {}, inputs
    for l, h in enumerate(hidden):
        shapes[f"lstm{l + 1}/w"] = (below + h, 4 * h)
        shapes[f"lstm{l + 1}/b"] = (4 * h,)
        below = h
    shapes["out/w"] = (below, 1)
    shapes["out/b"] = (1,)
    return shapes


def _select(file, path, which, names):
    """{tensor name: float32 array}, the object they came from, and its epoch."""
    if which in ("best", "latest"):
        group_name = f"/phi/{which}"
        if group_name not in file:
            raise LoadError(path, group_name, "missing")
        group = file[group_name]
        epoch = group.attrs.get("epoch")
        if which == "best" and epoch is None:
            raise LoadError(path, group_name, "holds no validated φ yet (the run has not reached its first validation); load which='latest'")
        values = {}
        for name in names:
            if name not in group:
                raise LoadError(path, f"{group_name}/{name}", "missing")
            dataset = group[name]
            if dataset.dtype != np.float32:
                raise LoadError(path, f"{group_name}/{name}", f"has type {dataset.dtype}, expected float32")
            values[name] = dataset[()]
        return values, group_name, None if epoch is None else int(epoch)
    match = re.fullmatch(r"trajectory:(\d+)", str(which))
    if not match:
        raise LoadError(path, "", f"which={which!r}: expected 'best', 'latest' or 'trajectory:N'")
    trajectory = int(match.group(1))
    for name in ("/phi/history/epoch", "/phi/history/values"):
        if name not in file:
            raise LoadError(path, name, "missing")
    epochs = file["/phi/history/epoch"][()]
    rows = np.nonzero(epochs == trajectory)[0]
    if len(rows) == 0:
        raise LoadError(path, "/phi/history/epoch", f"has no snapshot after {trajectory} trajectories (it has {', '.join(str(int(e)) for e in epochs[:8])}{', …' if len(epochs) > 8 else ''})")
    history = file["/phi/history/values"]
    if history.dtype != np.float32:
        raise LoadError(path, "/phi/history/values", f"has type {history.dtype}, expected float32")
    flat = history[int(rows[0])]
    values = {}
    for name in names:
        reference = file.get(f"/phi/latest/{name}")
        if reference is None or "offset" not in reference.attrs:
            raise LoadError(path, f"/phi/latest/{name}@offset", "missing (the history's layout is read from it)")
        offset, count = int(reference.attrs["offset"]), int(np.prod(reference.shape))
        if offset < 0 or offset + count > flat.shape[0]:
            raise LoadError(path, f"/phi/latest/{name}@offset", f"{offset} + {count} values does not fit the {flat.shape[0]} of a snapshot")
        values[name] = flat[offset:offset + count].reshape(reference.shape)
    return values, f"/phi/history/values[{int(rows[0])}]", trajectory


def _text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return None if value is None else str(value)


def _plain(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _finite(value, path, obj):
    if not math.isfinite(value):
        raise LoadError(path, obj, f"is {value}, expected a finite number")
    return value
