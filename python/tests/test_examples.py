"""The examples of python/examples/ run as the README shows them, on a φ the tests trained."""
import os
import re
import subprocess
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")


@pytest.mark.parametrize("example, module", [("torch_mnist.py", "torch"), ("jax_mnist.py", "optax")])
def test_example_trains(mnist_run, example, module):
    pytest.importorskip(module)
    train, _, mnist = mnist_run
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, example), train, mnist], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    losses = [float(x) for x in re.findall(r"loss ([0-9.]+)", result.stdout)]
    assert len(losses) == 5 and losses[0] > 2.0 and losses[-1] < 1.0, result.stdout
