"""Train an MNIST MLP in PyTorch with a learned optimizer that l2l meta-trained.

    python python/examples/torch_mnist.py runs/mnist/seed=20161205/train.h5 data/mnist.h5
"""
import sys

import h5py
import torch
import torch.nn.functional as F

import l2l
import l2l.torch

train_h5, mnist_h5 = sys.argv[1], sys.argv[2]
with h5py.File(mnist_h5, "r") as f:
    images = torch.tensor(f["test/images"][()].reshape(-1, 784), dtype=torch.float32) / 255
    labels = torch.tensor(f["test/labels"][()]).long()

model = torch.nn.Sequential(torch.nn.Linear(784, 20), torch.nn.Sigmoid(), torch.nn.Linear(20, 10))
for p in model.parameters():                       # the initialisation l2l meta-trained with
    torch.nn.init.normal_(p, std=0.01)

optimizer = l2l.torch.LearnedOptimizer(model.parameters(), l2l.load(train_h5))
for step in range(200):
    batch = torch.randint(0, len(images), (128,))
    loss = F.cross_entropy(model(images[batch]), labels[batch])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step % 50 == 0 or step == 199:
        print(f"step {step}: loss {loss.item():.4f}")
