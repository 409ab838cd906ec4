"""The PyTorch and optax back ends against l2l's traces (teacher forcing), and their state."""
import numpy as np
import pytest

import l2l
from test_numpy import tolerance

LABELS = ["identity", "log_and_sign", "normalised", "smoke"]


def trace_and_phi(runs, label):
    if label not in runs:
        pytest.skip("no data/mnist.h5 for the smoke run (make data)")
    train, trace = runs[label]
    return l2l.load_trace(trace), l2l.load(train)


@pytest.mark.parametrize("label", LABELS)
def test_torch_matches_l2l(runs, label):
    torch = pytest.importorskip("torch")
    import l2l.torch

    trace, phi = trace_and_phi(runs, label)
    n = trace.theta0.size
    # Any shape: the coordinates as a matrix and a vector, split across two parameters.
    split = n // 3
    first = torch.nn.Parameter(torch.tensor(trace.theta0[:split].copy()))
    second = torch.nn.Parameter(torch.tensor(trace.theta0[split:].copy()))
    optimizer = l2l.torch.LearnedOptimizer([first, second], phi)
    worst = 0.0
    for gradient, expected in zip(trace.gradient, trace.update):
        before = np.concatenate([first.detach().numpy(), second.detach().numpy()]).copy()
        first.grad = torch.tensor(gradient[:split].copy())
        second.grad = torch.tensor(gradient[split:].copy())
        optimizer.step()
        after = np.concatenate([first.detach().numpy(), second.detach().numpy()])
        # θ_{t+1} − θ_t is the update up to one float32 rounding of θ's magnitude.
        rounding = np.spacing(np.abs(after).astype(np.float32)).max()
        worst = max(worst, float(np.max(np.abs((after - before) - expected))) - rounding)
    assert worst <= tolerance(phi), f"{label}: {worst:.3g} > {tolerance(phi):.3g}"


def test_torch_state_dict_resumes_exactly(runs):
    torch = pytest.importorskip("torch")
    import l2l.torch

    trace, phi = trace_and_phi(runs, "normalised")
    def parameter():
        return torch.nn.Parameter(torch.tensor(trace.theta0.reshape(4, -1).copy()))

    def steps(optimizer, p, rows):
        for gradient in trace.gradient[rows]:
            p.grad = torch.tensor(gradient.reshape(4, -1).copy())
            optimizer.step()

    straight = parameter()
    whole = l2l.torch.LearnedOptimizer([straight], phi)
    steps(whole, straight, slice(0, 20))
    resumed_p = parameter()
    first = l2l.torch.LearnedOptimizer([resumed_p], phi)
    steps(first, resumed_p, slice(0, 8))
    saved = first.state_dict()
    again = l2l.torch.LearnedOptimizer([resumed_p], phi)
    again.load_state_dict(saved)
    steps(again, resumed_p, slice(8, 20))
    assert torch.equal(straight, resumed_p)


def test_torch_closure_and_no_autograd(runs):
    torch = pytest.importorskip("torch")
    import l2l.torch

    _, phi = trace_and_phi(runs, "log_and_sign")
    p = torch.nn.Parameter(torch.ones(5))
    optimizer = l2l.torch.LearnedOptimizer([p], phi)

    def closure():
        optimizer.zero_grad()
        loss = (p ** 2).sum()
        loss.backward()
        return loss

    loss = optimizer.step(closure)
    assert float(loss.detach()) == 5.0 and not p.grad_fn and p.requires_grad
    assert not torch.equal(p.detach(), torch.ones(5))
    p.grad = torch.tensor([0.0, float("nan"), 0, 0, 0])
    with pytest.raises(FloatingPointError, match="coordinate 1"):
        optimizer.step()


@pytest.mark.parametrize("label", LABELS)
def test_optax_matches_l2l(runs, label):
    jax = pytest.importorskip("jax")
    pytest.importorskip("optax")
    import jax.numpy as jnp
    import l2l.optax

    trace, phi = trace_and_phi(runs, label)
    n = trace.theta0.size
    split = n // 3
    params = {"a": jnp.asarray(trace.theta0[:split]), "b": jnp.asarray(trace.theta0[split:])}
    transformation = l2l.optax.learned(phi)
    state = transformation.init(params)
    update = jax.jit(transformation.update)
    worst = 0.0
    for gradient, expected in zip(trace.gradient, trace.update):
        grads = {"a": jnp.asarray(gradient[:split]), "b": jnp.asarray(gradient[split:])}
        updates, state = update(grads, state)
        got = np.concatenate([np.asarray(updates["a"]), np.asarray(updates["b"])])
        worst = max(worst, float(np.max(np.abs(got - expected))))
    assert worst <= tolerance(phi), f"{label}: {worst:.3g} > {tolerance(phi):.3g}"
    assert int(state.step) == trace.gradient.shape[0]
