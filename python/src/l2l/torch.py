"""The learned optimizer as a `torch.optim.Optimizer` (the [torch] extra).

    import l2l, l2l.torch
    phi = l2l.load("runs/mnist/seed=20161205/train.h5")
    optimizer = l2l.torch.LearnedOptimizer(model.parameters(), phi)
    for x, y in batches:
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()

Every coordinate of every parameter (any shape) has its own LSTM state, as in l2l; the step runs
under `torch.no_grad()` (no autograd through the optimizer) in float32 and is the numpy
reference's (`l2l.numpy`), checked against l2l's traces in the tests.
"""
from __future__ import annotations

import torch

from ._phi import Phi


class LearnedOptimizer(torch.optim.Optimizer):
    """θ ← θ + g(∇f(θ), h; φ) for every parameter coordinate, φ fixed (paper eq. 1).

    State per parameter: `h{l}` and `c{l}` (numel × H per LSTM layer l), `m` and `v` (numel; the
    normalised preprocessing's moments) and `step`; `state_dict()` and `load_state_dict()` carry
    them like any optimizer's.
    """

    def __init__(self, params, phi: Phi):
        super().__init__(params, defaults={})
        self.phi = phi
        self._weights = {}

    def _tensors(self, device):
        """φ's tensors on `device`, float32, made once per device."""
        if device not in self._weights:
            as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)
            self._weights[device] = ([(as_tensor(w), as_tensor(b)) for w, b in self.phi.layers],
                                     as_tensor(self.phi.out_w[:, 0]), as_tensor(self.phi.out_b[0]))
        return self._weights[device]

    @torch.no_grad()
    def step(self, closure=None):
        """One step for every parameter with a gradient; returns the closure's loss, if given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for parameter in group["params"]:
                if parameter.grad is None:
                    continue
                if parameter.grad.is_sparse:
                    raise RuntimeError("the learned optimizer takes dense gradients")
                state = self.state[parameter]
                if not state:
                    self._initialise(state, parameter)
                update = self._update(parameter.grad.reshape(-1).to(torch.float32), state)
                parameter.add_(update.reshape(parameter.shape).to(parameter.dtype))
        return loss

    def _initialise(self, state, parameter):
        n, device = parameter.numel(), parameter.device
        for index, units in enumerate(self.phi.hidden_sizes):
            state[f"h{index}"] = torch.zeros(n, units, dtype=torch.float32, device=device)
            state[f"c{index}"] = torch.zeros(n, units, dtype=torch.float32, device=device)
        state["m"] = torch.zeros(n, dtype=torch.float32, device=device)
        state["v"] = torch.zeros(n, dtype=torch.float32, device=device)
        state["step"] = 0

    def _update(self, g, state):
        if not torch.isfinite(g).all():
            bad = int(torch.nonzero(~torch.isfinite(g))[0][0])
            raise FloatingPointError(f"the gradient is not finite at coordinate {bad} ({float(g[bad])}); the learned optimizer cannot take a step from it")
        layers, out_w, out_b = self._tensors(g.device)
        below = self._preprocess(g, state)
        for index, (w, b) in enumerate(layers):
            h, c = state[f"h{index}"], state[f"c{index}"]
            units = h.shape[1]
            z = torch.cat([below, h], dim=1) @ w + b
            i, j, f, o = z[:, :units], z[:, units:2 * units], z[:, 2 * units:3 * units], z[:, 3 * units:]
            c = _sigmoid(f + 1) * c + _sigmoid(i) * torch.tanh(j)
            h = torch.tanh(c) * _sigmoid(o)
            state[f"h{index}"], state[f"c{index}"] = h, c
            below = h
        state["step"] += 1
        return self.phi.output_scale * (below @ out_w + out_b)

    def _preprocess(self, g, state):
        """The LSTM's inputs, coordinates × inputs."""
        p = self.phi.preprocessing
        if p.kind == "identity":
            return g[:, None]
        if p.kind == "log_and_sign":
            k = torch.tensor(p.k, dtype=torch.float32)
            logs = torch.clamp(torch.log(torch.abs(g) + torch.finfo(torch.float32).eps) / k, min=-1)
            signs = torch.clamp(g * torch.exp(k), -1, 1)
            return torch.stack([logs, signs], dim=1)
        beta1, beta2 = torch.tensor(p.beta1, dtype=torch.float32), torch.tensor(p.beta2, dtype=torch.float32)
        t = torch.tensor(float(state["step"] + 1), dtype=torch.float32)
        m = beta1 * state["m"] + (1 - beta1) * g
        v = beta2 * state["v"] + (1 - beta2) * g * g
        state["m"], state["v"] = m, v
        # As l2l computes them: the corrections as factors, then √, ε, and the divisions.
        mean_correction, square_correction = 1 / (1 - beta1 ** t), 1 / (1 - beta2 ** t)
        s = torch.sqrt(v * square_correction) + p.epsilon
        return torch.stack([g / s, m * mean_correction / s], dim=1)


def _sigmoid(x):
    # l2l's form: σ(x) = (1 + tanh(x/2)) / 2.
    return (1 + torch.tanh(x * 0.5)) * 0.5
