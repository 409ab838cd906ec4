"""The reference implementation: the coordinate-wise LSTM step in numpy, float32, vectorised over
coordinates (docs/hdf5-layout.md). The PyTorch and JAX back ends compute the same step.

    import l2l, l2l.numpy
    phi = l2l.load("runs/mnist/seed=20161205/train.h5")
    state = l2l.numpy.initial_state(phi, theta.size)
    update, state = l2l.numpy.step(phi, gradient, state)     # θ ← θ + update
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

from ._phi import Phi, Preprocessing

F32 = np.float32
EPSILON = np.finfo(np.float32).eps  # LogAndSign's ε: Float.ulpOfOne, 1.1920929e-7


@dataclass
class State:
    """The optimizer's state for N coordinates: (h, c) per layer, each (H, N) float32 (unit-major,
    as l2l stores it), the normalised preprocessing's m and v (N each, zero otherwise unused), and
    the steps taken (for its bias corrections)."""

    h: List[np.ndarray]
    c: List[np.ndarray]
    m: np.ndarray
    v: np.ndarray
    step: int = 0


def initial_state(phi: Phi, coordinates: int) -> State:
    """The state before the first step: everything zero, as at the start of every l2l run."""
    zeros = [np.zeros((h, coordinates), F32) for h in phi.hidden_sizes]
    return State(zeros, [z.copy() for z in zeros], np.zeros(coordinates, F32), np.zeros(coordinates, F32), 0)


def preprocess(preprocessing: Preprocessing, gradient: np.ndarray, state: State) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The LSTM's inputs (inputs × N) and the moments after this gradient (m, v)."""
    g = np.asarray(gradient, F32)
    if not np.all(np.isfinite(g)):
        bad = int(np.argwhere(~np.isfinite(g))[0][0])
        raise FloatingPointError(f"the gradient is not finite at coordinate {bad} ({g[bad]}); the learned optimizer cannot take a step from it")
    if preprocessing.kind == "identity":
        return g[None, :], state.m, state.v
    if preprocessing.kind == "log_and_sign":
        k = F32(preprocessing.k)
        logs = np.maximum(np.log(np.abs(g) + EPSILON) / k, F32(-1))
        signs = np.clip(g * np.exp(k, dtype=F32), F32(-1), F32(1))
        return np.stack([logs, signs]).astype(F32), state.m, state.v
    beta1, beta2, epsilon = F32(preprocessing.beta1), F32(preprocessing.beta2), F32(preprocessing.epsilon)
    t = F32(state.step + 1)
    m = beta1 * state.m + (F32(1) - beta1) * g
    v = beta2 * state.v + (F32(1) - beta2) * g * g
    mean_correction = F32(1) / (F32(1) - np.power(beta1, t, dtype=F32))
    square_correction = F32(1) / (F32(1) - np.power(beta2, t, dtype=F32))
    s = np.sqrt(v * square_correction) + epsilon
    return np.stack([g / s, m * mean_correction / s]).astype(F32), m.astype(F32), v.astype(F32)


def sigmoid(x: np.ndarray) -> np.ndarray:
    # l2l's form: σ(x) = (1 + tanh(x/2)) / 2, exact in float32 for large |x|.
    return (F32(1) + np.tanh(x * F32(0.5))) * F32(0.5)


def step(phi: Phi, gradient: np.ndarray, state: State) -> Tuple[np.ndarray, State]:
    """One step of the learned optimizer for N coordinates: the update g_t (θ_{t+1} = θ_t + g_t) and
    the next state. Per coordinate, with x the preprocessed gradient:

        z = [x, h] · w + b;  i, j, f, o = z split in four
        c' = σ(f + 1)·c + σ(i)·tanh(j);  h' = tanh(c')·σ(o)
        g_t = output_scale · (h'_top · out_w + out_b)
    """
    x, m, v = preprocess(phi.preprocessing, gradient, state)
    below = x
    hs, cs = [], []
    for (w, b), h, c in zip(phi.layers, state.h, state.c):
        units = h.shape[0]
        z = w.T @ np.concatenate([below, h]) + b[:, None]  # (4H, N)
        i, j, f, o = z[:units], z[units:2 * units], z[2 * units:3 * units], z[3 * units:]
        c_next = sigmoid(f + F32(1)) * c + sigmoid(i) * np.tanh(j)
        h_next = np.tanh(c_next) * sigmoid(o)
        hs.append(h_next.astype(F32))
        cs.append(c_next.astype(F32))
        below = h_next
    update = F32(phi.output_scale) * (phi.out_w[:, 0] @ below + phi.out_b[0])
    return update.astype(F32), State(hs, cs, m, v, state.step + 1)


class Optimizer:
    """The learned optimizer on flat float32 parameter vectors: `theta = opt.step(theta, grad)`."""

    def __init__(self, phi: Phi, coordinates: int):
        self.phi = phi
        self.state = initial_state(phi, coordinates)

    def step(self, theta: np.ndarray, gradient: np.ndarray) -> np.ndarray:
        update, self.state = step(self.phi, gradient, self.state)
        return (np.asarray(theta, F32) + update).astype(F32)
