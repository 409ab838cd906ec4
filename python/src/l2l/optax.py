"""The learned optimizer as an `optax.GradientTransformation` (the [jax] extra).

    import l2l, l2l.optax, optax
    phi = l2l.load("runs/mnist/seed=20161205/train.h5")
    optimizer = l2l.optax.learned(phi)
    state = optimizer.init(params)
    updates, state = optimizer.update(grads, state)            # jit-compatible
    params = optax.apply_updates(params, updates)

The transformation returns the learned optimizer's update itself (θ ← θ + update: no learning
rate to chain after it). Its state is a pytree of the params' structure: per leaf the LSTM's
(h, c) per layer (leaf shape + (H,)), the normalised preprocessing's m and v, and a step count;
float32, the numpy reference's step (`l2l.numpy`).
"""
from __future__ import annotations

from typing import NamedTuple, Tuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._phi import Phi


class LearnedState(NamedTuple):
    """h and c: tuples (one per LSTM layer) of pytrees like the params, each leaf shape + (H,);
    m and v: pytrees like the params; step: the steps taken (int32)."""

    h: Tuple
    c: Tuple
    m: object
    v: object
    step: jnp.ndarray


def learned(phi: Phi) -> optax.GradientTransformation:
    layers = [(jnp.asarray(w, jnp.float32), jnp.asarray(b, jnp.float32)) for w, b in phi.layers]
    out_w, out_b = jnp.asarray(phi.out_w[:, 0], jnp.float32), jnp.asarray(phi.out_b[0], jnp.float32)
    p, scale = phi.preprocessing, np.float32(phi.output_scale)

    def init(params):
        zeros = lambda units: jax.tree_util.tree_map(lambda x: jnp.zeros(jnp.shape(x) + (units,), jnp.float32), params)
        like = jax.tree_util.tree_map(lambda x: jnp.zeros(jnp.shape(x), jnp.float32), params)
        return LearnedState(tuple(zeros(u) for u in phi.hidden_sizes), tuple(zeros(u) for u in phi.hidden_sizes),
                            like, like, jnp.zeros((), jnp.int32))

    def preprocess(g, m, v, t):
        if p.kind == "identity":
            return g[..., None], m, v
        if p.kind == "log_and_sign":
            k = np.float32(p.k)
            logs = jnp.maximum(jnp.log(jnp.abs(g) + np.finfo(np.float32).eps) / k, np.float32(-1))
            signs = jnp.clip(g * np.float32(np.exp(k)), -1, 1)
            return jnp.stack([logs, signs], axis=-1), m, v
        beta1, beta2 = np.float32(p.beta1), np.float32(p.beta2)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        mean_correction, square_correction = 1 / (1 - beta1 ** t), 1 / (1 - beta2 ** t)
        s = jnp.sqrt(v * square_correction) + np.float32(p.epsilon)
        return jnp.stack([g / s, m * mean_correction / s], axis=-1), m, v

    def leaf(g, hs, cs, m, v, t):
        g = jnp.asarray(g, jnp.float32)
        below, m, v = preprocess(g, m, v, t)
        new_h, new_c = [], []
        for (w, b), h, c in zip(layers, hs, cs):
            units = h.shape[-1]
            z = jnp.concatenate([below, h], axis=-1) @ w + b
            i, j, f, o = z[..., :units], z[..., units:2 * units], z[..., 2 * units:3 * units], z[..., 3 * units:]
            c = _sigmoid(f + 1) * c + _sigmoid(i) * jnp.tanh(j)
            h = jnp.tanh(c) * _sigmoid(o)
            new_h.append(h)
            new_c.append(c)
            below = h
        return scale * (below @ out_w + out_b), tuple(new_h), tuple(new_c), m, v

    def update(updates, state, params=None):
        del params
        t = (state.step + 1).astype(jnp.float32)
        leaves, treedef = jax.tree_util.tree_flatten(updates)
        count = len(state.h)
        hs = [treedef.flatten_up_to(state.h[l]) for l in range(count)]
        cs = [treedef.flatten_up_to(state.c[l]) for l in range(count)]
        ms, vs = treedef.flatten_up_to(state.m), treedef.flatten_up_to(state.v)
        out, new_h, new_c, new_m, new_v = [], [[] for _ in range(count)], [[] for _ in range(count)], [], []
        for index, g in enumerate(leaves):
            u, h, c, m, v = leaf(g, [hs[l][index] for l in range(count)], [cs[l][index] for l in range(count)], ms[index], vs[index], t)
            out.append(u.astype(jnp.asarray(g).dtype))
            for l in range(count):
                new_h[l].append(h[l])
                new_c[l].append(c[l])
            new_m.append(m)
            new_v.append(v)
        unflatten = lambda xs: jax.tree_util.tree_unflatten(treedef, xs)
        return unflatten(out), LearnedState(tuple(unflatten(x) for x in new_h), tuple(unflatten(x) for x in new_c),
                                            unflatten(new_m), unflatten(new_v), state.step + 1)

    return optax.GradientTransformation(init, update)


def _sigmoid(x):
    # l2l's form: σ(x) = (1 + tanh(x/2)) / 2.
    return (1 + jnp.tanh(x * 0.5)) * 0.5
