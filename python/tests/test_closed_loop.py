"""Closed loop: the MNIST base network trained in PyTorch by l2l.torch reaches l2l-eval's loss."""
import math

import h5py
import numpy as np
import pytest

import l2l


def test_pytorch_mnist_agrees_with_l2l_eval(mnist_run):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F
    import l2l.torch

    train, evaluation, mnist = mnist_run
    with h5py.File(evaluation, "r") as file:
        lstm = file["problems/base/lstm"]
        expected, expected_error = float(lstm["mean"][200]), float(lstm["stderr"][200])
        runs = lstm["loss"].shape[0]
    assert expected < 1.0, f"the φ trained here leaves the base network at {expected}: the comparison would be at chance"
    with h5py.File(mnist, "r") as file:
        images = torch.tensor(file["test/images"][()].reshape(-1, 784), dtype=torch.float32) / 255
        labels = torch.tensor(file["test/labels"][()].astype(np.int64))
    phi = l2l.load(train)

    finals = []
    for r in range(runs):
        generator = torch.Generator().manual_seed(20161205 + r)
        # l2l's MLP: 784 → 20 sigmoid → 10, softmax cross-entropy, every weight and bias N(0, 0.01²).
        shapes = [(784, 20), (20,), (20, 10), (10,)]
        w1, b1, w2, b2 = (torch.nn.Parameter(0.01 * torch.randn(shape, generator=generator)) for shape in shapes)
        optimizer = l2l.torch.LearnedOptimizer([w1, b1, w2, b2], phi)

        def loss():
            batch = torch.randint(0, images.shape[0], (128,), generator=generator)  # with replacement, as l2l
            return F.cross_entropy(torch.sigmoid(images[batch] @ w1 + b1) @ w2 + b2, labels[batch])

        for _ in range(200):
            optimizer.zero_grad()
            loss().backward()
            optimizer.step()
        with torch.no_grad():
            finals.append(float(loss()))  # f(θ_200) on a fresh minibatch, as l2l-eval's last value
    mean = float(np.mean(finals))
    error = float(np.std(finals, ddof=1) / math.sqrt(len(finals)))
    bound = 3 * math.hypot(error, expected_error)
    print(f"closed loop, step 200 over {runs} runs: PyTorch {mean:.4f} ± {error:.4f}, l2l-eval {expected:.4f} ± {expected_error:.4f}")
    assert abs(mean - expected) <= bound, f"PyTorch {mean:.4f} ± {error:.4f}, l2l-eval {expected:.4f} ± {expected_error:.4f}"
