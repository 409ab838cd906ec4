"""l2l in Python: load the learned optimizer φ from an l2l `train.h5` and optimize with it.

    import l2l
    phi = l2l.load("runs/mnist/seed=20161205/train.h5")       # /phi/best
    import l2l.numpy                                          # the reference step (numpy)
    import l2l.torch                                          # torch.optim.Optimizer ([torch] extra)
    import l2l.optax                                          # optax.GradientTransformation ([jax] extra)

The step is the one l2l-train and l2l-eval take (docs/hdf5-layout.md in the l2l repository);
`l2l-eval --trace` writes a reference trace that the tests check every back end against.
"""
from ._phi import FORMAT, FORMAT_VERSIONS, LoadError, Phi, Preprocessing, load
from ._trace import Trace, load_trace

__all__ = ["load", "Phi", "Preprocessing", "LoadError", "FORMAT", "FORMAT_VERSIONS", "Trace", "load_trace"]
__version__ = "0.1.0"
