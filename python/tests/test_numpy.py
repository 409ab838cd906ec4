"""The numpy reference against l2l: the same updates, step for step, for the gradients l2l gave."""
import os

import h5py
import numpy as np
import pytest

import l2l
import l2l.numpy as reference

# l2l's kernels use a rational tanh within 3e-7 of tanh (and σ(x) = (1 + tanh(x/2))/2 from it), and
# sum the gate products in another order than numpy's matmul. A gate off by 3e-7 moves the cell
# c' = σ(f + 1)·c + σ(i)·tanh(j) by 3e-7·|c|, and |c| grows as a trained optimizer runs (to 8
# within 8 steps, 80 by step 160, for the recipe's φ on MNIST); tanh(c') and out_w carry that to
# the update, scaled by output_scale · ‖out_w‖₁. Measured in units of output_scale·(‖out_w‖₁ + 1):
# 3e-7 for the tiny runs below, 3.5e-6 for the recipe's φ (1,000 trajectories) over 200 steps,
# at steps 5-8 and a few coordinates (99.9 % of them stay below 1.5e-7 absolute). The bound is
# 1e-5 in those units, about three times the worst measured.
def tolerance(phi):
    return 1e-5 * phi.output_scale * (float(np.abs(phi.out_w).sum()) + 1)


def teacher_forced(phi, trace):
    """The numpy updates for the trace's gradients, and the worst difference per step."""
    state = reference.initial_state(phi, trace.theta0.size)
    worst = []
    for gradient, expected in zip(trace.gradient, trace.update):
        update, state = reference.step(phi, gradient, state)
        worst.append(float(np.max(np.abs(update - expected))))
    return np.array(worst)


@pytest.mark.parametrize("label", ["identity", "log_and_sign", "normalised", "smoke"])
def test_updates_match_l2l(runs, label):
    if label not in runs:
        pytest.skip("no data/mnist.h5 for the smoke run (make data)")
    train, trace_path = runs[label]
    trace = l2l.load_trace(trace_path)
    phi = l2l.load(train)
    assert trace.train_path == train and phi.source.endswith("/phi/best")
    worst = teacher_forced(phi, trace)
    assert worst.shape == (60,)
    assert np.all(worst <= tolerance(phi)), f"{label}: worst |Δ| per step {worst.max():.3g} > {tolerance(phi):.3g} at step {int(worst.argmax())}"
    # The updates are not trivially zero: the comparison has something to compare.
    assert np.abs(trace.update).max() > 100 * tolerance(phi)


def test_a_wrong_phi_is_caught(runs):
    """The comparison can fail: another φ (the last, not the best) or another preprocessing does not match."""
    train, trace_path = runs["log_and_sign"]
    trace = l2l.load_trace(trace_path)
    phi = l2l.load(train)
    phi.layers[0][0][0, 0] += 0.05
    assert teacher_forced(phi, trace).max() > tolerance(phi)
    phi = l2l.load(train)
    phi.preprocessing = l2l.Preprocessing("log_and_sign", k=6.0)
    assert teacher_forced(phi, trace).max() > tolerance(phi)


def test_load_choices(runs):
    train, _ = runs["identity"]
    best, latest = l2l.load(train), l2l.load(train, which="latest")
    assert best.preprocessing == l2l.Preprocessing("identity") and latest.hidden_sizes == [20, 20]
    assert best.epoch in (4, 8, 12) and latest.epoch == 12
    snapshot = l2l.load(train, which="trajectory:12")
    for (w, b), (w2, b2) in zip(snapshot.layers, latest.layers):
        np.testing.assert_array_equal(w, w2)
        np.testing.assert_array_equal(b, b2)
    folder = train.rsplit("/", 1)[0]
    assert l2l.load(folder).source == best.source
    if "smoke" in runs:  # a sweep's folder and a member's folder name
        smoke = runs["smoke"][0]
        sweep = os.path.dirname(os.path.dirname(smoke))
        assert l2l.load(sweep, member="seed=1").source == l2l.load(smoke).source
        with pytest.raises(l2l.LoadError, match="the folder's members: seed=1"):
            l2l.load(sweep)
    normalised = l2l.load(runs["normalised"][0])
    assert normalised.preprocessing == l2l.Preprocessing("normalised", beta1=0.95, beta2=0.95, epsilon=1e-8)


def test_bad_files_name_the_file_and_object(runs, tmp_path):
    train, trace = runs["identity"]
    with pytest.raises(l2l.LoadError, match="/@format.*expected 'l2l-train'"):
        l2l.load(trace)
    with pytest.raises(l2l.LoadError, match="no snapshot after 5 trajectories"):
        l2l.load(train, which="trajectory:5")
    with pytest.raises(l2l.LoadError, match="expected 'best', 'latest' or 'trajectory:N'"):
        l2l.load(train, which="worst")
    not_hdf5 = tmp_path / "train.h5"
    not_hdf5.write_bytes(b"not an HDF5 file")
    with pytest.raises(l2l.LoadError, match="not a readable HDF5 file"):
        l2l.load(not_hdf5)

    def broken(edit):
        copy = tmp_path / "copy.h5"
        copy.write_bytes(open(train, "rb").read())
        with h5py.File(copy, "r+") as file:
            edit(file)
        return copy

    def nan(file):
        file["/phi/best/lstm1/w"][0, 0] = np.nan
    with pytest.raises(l2l.LoadError, match=r"/phi/best/lstm1/w: is not finite at \(0, 0\)"):
        l2l.load(broken(nan))

    def shape(file):
        del file["/phi/best/out/w"]
        file["/phi/best/out/w"] = np.zeros((19, 1), np.float32)
    with pytest.raises(l2l.LoadError, match=r"/phi/best/out/w: has shape \(19, 1\), expected \(20, 1\)"):
        l2l.load(broken(shape))

    def dtype(file):
        del file["/phi/best/out/b"]
        file["/phi/best/out/b"] = np.zeros((1,), np.float64)
    with pytest.raises(l2l.LoadError, match="/phi/best/out/b: has type float64, expected float32"):
        l2l.load(broken(dtype))

    def preprocessing(file):
        file["phi"].attrs["preprocessing"] = "Mystery(k: 1)"
    with pytest.raises(l2l.LoadError, match="/phi@preprocessing: unknown preprocessing 'Mystery"):
        l2l.load(broken(preprocessing))

    def scale(file):
        file["phi"].attrs["output_scale"] = np.float32(np.inf)
    with pytest.raises(l2l.LoadError, match="/phi@output_scale: is inf"):
        l2l.load(broken(scale))

    def version(file):
        file.attrs["format_version"] = np.int32(9)
    with pytest.raises(l2l.LoadError, match="/@format_version: is 9"):
        l2l.load(broken(version))


def test_a_non_finite_gradient_is_refused(runs):
    phi = l2l.load(runs["identity"][0])
    state = reference.initial_state(phi, 20)
    gradient = np.zeros(20, np.float32)
    gradient[3] = np.nan
    with pytest.raises(FloatingPointError, match="coordinate 3"):
        reference.step(phi, gradient, state)
