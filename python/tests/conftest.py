"""Fixtures: real l2l runs made by the tests themselves with the Swift binaries (never downloaded).

L2L_BIN names the folder of l2l-train and l2l-eval (default: the repository's .build/release);
L2L_DATA the data folder with mnist.h5 (default: the repository's data/). `make python-test`
builds both first.
"""
import os
import subprocess

import pytest

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("L2L_BIN", os.path.join(REPOSITORY, ".build", "release"))
DATA = os.environ.get("L2L_DATA", os.path.join(REPOSITORY, "data"))

PREPROCESSINGS = {
    "identity": "{kind: identity}",
    "log_and_sign": "{kind: log_and_sign, k: 5}",
    "normalised": "{kind: normalised, beta1: 0.95, beta2: 0.95, epsilon: 1.0e-8}",
}


def quadratic_pipeline(name, preprocessing):
    return f"""name: {name}
seed: 7
optimizee: {{kind: quadratic, problems: 4, dimensions: 5, distribution: gaussian}}
optimizer:
  layers: [20, 20]
  preprocessing: {PREPROCESSINGS[preprocessing]}
  output_scale: 0.5
training:
  epochs: 12
  steps: 20
  unroll: 5
  meta_learning_rate: 0.003
  loss_weights: uniform
  validation_period: 4
  validation_size: 2
  history_period: 4
evaluation:
  horizon: 60
  runs: 2
  tuning_runs: 1
  learning_rates: {{log10_from: -2, log10_to: 0, log10_step: 1}}
  problems:
    - {{name: quadratic, kind: quadratic, problems: 4, dimensions: 5, distribution: gaussian}}
"""


def run(*arguments):
    result = subprocess.run([os.path.join(BIN, arguments[0]), *arguments[1:]], capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(arguments)} failed ({result.returncode}):\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    """{label: (train.h5 path, trace path)}: quadratics under each preprocessing, and the smoke
    pipeline's MNIST run (when data/mnist.h5 exists), each with a 60-step trace of run 0."""
    if not os.path.exists(os.path.join(BIN, "l2l-train")):
        pytest.fail(f"no l2l-train in {BIN}: build the Swift package first (make build) or set L2L_BIN")
    folder = tmp_path_factory.mktemp("runs")
    made = {}
    for preprocessing in PREPROCESSINGS:
        pipeline = folder / f"{preprocessing}.yaml"
        pipeline.write_text(quadratic_pipeline(f"q-{preprocessing}", preprocessing))
        out = folder / preprocessing
        run("l2l-train", str(pipeline), "--out", str(out), "--threads", "1")
        trace = folder / f"{preprocessing}-trace.h5"
        run("l2l-eval", str(pipeline), "--out", str(out), "--trace", str(trace), "--trace-steps", "60", "--threads", "1")
        made[preprocessing] = (str(out / "train.h5"), str(trace))
    mnist = os.path.join(DATA, "mnist.h5")
    if os.path.exists(mnist):
        smoke = os.path.join(REPOSITORY, "pipelines", "smoke.yaml")
        out = folder / "smoke"
        run("l2l-train", smoke, "--out", str(out), "--member", "0", "--data", DATA, "--threads", "1")
        trace = folder / "smoke-trace.h5"
        run("l2l-eval", smoke, "--out", str(out), "--member", "0", "--data", DATA, "--trace", str(trace), "--trace-steps", "60", "--threads", "1")
        made["smoke"] = (str(out / "seed=1" / "train.h5"), str(trace))
    return made


CLOSED_LOOP = """name: closed-loop
seed: 11
optimizee: {kind: mnist, hidden: [20], activation: sigmoid, batch_size: 128}
optimizer:
  layers: [20, 20]
  preprocessing: {kind: log_and_sign, k: 10}
  output_scale: 0.1
training:
  epochs: 60
  steps: 100
  unroll: 20
  meta_learning_rate: 0.003
  meta_learning_rate_schedule: {warmup_updates: 100}
  meta_gradient_clip: 50
  loss_weights: uniform
  validation_period: 20
  validation_size: 4
  history_period: 20
evaluation:
  horizon: 200
  runs: 10
  tuning_runs: 1
  learning_rates: {log10_from: -1, log10_to: -1, log10_step: 1}
  problems:
    - {name: base, kind: mnist, hidden: [20], activation: sigmoid, batch_size: 128}
"""


@pytest.fixture(scope="session")
def mnist_run(tmp_path_factory):
    """(train.h5, eval.h5, mnist.h5): 60 trajectories of MNIST meta-training (about a minute on one
    core; its φ takes the base network to a loss of about 0.3 in 200 steps) and l2l-eval's 10 runs
    of 200 steps on the test split."""
    mnist = os.path.join(DATA, "mnist.h5")
    if not os.path.exists(mnist):
        pytest.skip("no data/mnist.h5 (make data)")
    folder = tmp_path_factory.mktemp("closed-loop")
    pipeline = folder / "closed-loop.yaml"
    pipeline.write_text(CLOSED_LOOP)
    out = folder / "run"
    run("l2l-train", str(pipeline), "--out", str(out), "--data", DATA)
    run("l2l-eval", str(pipeline), "--out", str(out), "--data", DATA)
    return str(out / "train.h5"), str(out / "eval.h5"), mnist
