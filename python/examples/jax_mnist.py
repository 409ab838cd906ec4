"""Train an MNIST MLP in JAX with optax and a learned optimizer that l2l meta-trained.

    python python/examples/jax_mnist.py runs/mnist/seed=20161205/train.h5 data/mnist.h5
"""
import sys

import h5py
import jax
import jax.numpy as jnp
import optax

import l2l
import l2l.optax

train_h5, mnist_h5 = sys.argv[1], sys.argv[2]
with h5py.File(mnist_h5, "r") as f:
    images = jnp.asarray(f["test/images"][()].reshape(-1, 784), jnp.float32) / 255
    labels = jnp.asarray(f["test/labels"][()], jnp.int32)

key = jax.random.PRNGKey(0)
keys = jax.random.split(key, 5)
params = {"w1": 0.01 * jax.random.normal(keys[0], (784, 20)), "b1": 0.01 * jax.random.normal(keys[1], (20,)),
          "w2": 0.01 * jax.random.normal(keys[2], (20, 10)), "b2": 0.01 * jax.random.normal(keys[3], (10,))}


def loss_fn(params, x, y):
    logits = jax.nn.sigmoid(x @ params["w1"] + params["b1"]) @ params["w2"] + params["b2"]
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


optimizer = l2l.optax.learned(l2l.load(train_h5))
state = optimizer.init(params)


@jax.jit
def step(params, state, x, y):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
    updates, state = optimizer.update(grads, state)
    return optax.apply_updates(params, updates), state, loss


key = keys[4]
for t in range(200):
    key, sample = jax.random.split(key)
    batch = jax.random.randint(sample, (128,), 0, images.shape[0])
    params, state, loss = step(params, state, images[batch], labels[batch])
    if t % 50 == 0 or t == 199:
        print(f"step {t}: loss {float(loss):.4f}")
