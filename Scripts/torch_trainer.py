#!/usr/bin/env python3
"""The PyTorch reference for Scripts/bench: the same training as Scripts/numpy_trainer.py (minibatch SGD with
momentum on softmax + KL, linear or one ReLU hidden layer, batch 256), written the way a PyTorch user would
(nn.Linear, F.log_softmax, autograd, torch.optim.SGD), on the CPU with --threads threads, timed per epoch.
Also measures PyTorch's matrix-multiply rate on the layer shapes one training step runs (forward X W^T, weight
gradient dZ^T X, and for a hidden layer the input gradient dZ W), the machine's matmul roofline for that workload.

    python3 Scripts/torch_trainer.py X.npy Y.npy [--hidden H] [--epochs 6] [--batch-size 256] [--threads 2]

Prints one line: median seconds per epoch over the epochs after the first, the epochs, and the matmul rate
(GFLOP/s: the FLOPs of one step's products divided by the best of repeated timings of those products, the
higher of a measurement before the training and one after it; both are printed at the end of the line).
Exit 3 (and a message) when torch is not installed.
"""
import argparse
import sys
import time

import numpy as np

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("torch is not installed (pip install torch --index-url https://download.pytorch.org/whl/cpu)", file=sys.stderr)
    sys.exit(3)

ap = argparse.ArgumentParser()
ap.add_argument("features")
ap.add_argument("labels")
ap.add_argument("--hidden", type=int, default=0)
ap.add_argument("--epochs", type=int, default=6)
ap.add_argument("--batch-size", type=int, default=256)
ap.add_argument("--lr", type=float, default=0.01)
ap.add_argument("--momentum", type=float, default=0.9)
ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(1)

X = torch.from_numpy(np.load(a.features).astype(np.float32, copy=False))
P = torch.from_numpy(np.load(a.labels).astype(np.float32, copy=False))
P = P / P.sum(1, keepdim=True)
n, d = X.shape
k = P.shape[1]
sizes = [d] + ([a.hidden] if a.hidden else []) + [k]
layers = [torch.nn.Linear(i, o) for i, o in zip(sizes[:-1], sizes[1:])]
model = torch.nn.Sequential(*[m for l, lin in enumerate(layers) for m in ([lin, torch.nn.ReLU()] if l < len(layers) - 1 else [lin])])
opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum)

# The matmul roofline: the products of one step on these layer shapes, timed alone (best of several runs),
# once before the training and once after it; the higher rate is the machine's (this machine is shared: one
# measurement taken while something else ran made a workload look faster than the roofline).
m = a.batch_size
products = []
for l, (i, o) in enumerate(zip(sizes[:-1], sizes[1:])):
    products.append((torch.randn(m, i), torch.randn(i, o)))        # forward  (m, i) @ (i, o)
    products.append((torch.randn(o, m), torch.randn(m, i)))        # dW       (o, m) @ (m, i)
    if l > 0:
        products.append((torch.randn(m, o), torch.randn(o, i)))    # dX       (m, o) @ (o, i)
flops = sum(2 * p.shape[0] * p.shape[1] * q.shape[1] for p, q in products)


def matmul_gflops():
    best = float("inf")
    for _ in range(30):
        t0 = time.perf_counter()
        for _ in range(20):
            for p, q in products:
                torch.mm(p, q)
        best = min(best, (time.perf_counter() - t0) / 20)
    return flops / best / 1e9


rate_before = matmul_gflops()

g = torch.Generator().manual_seed(1)
times = []
for epoch in range(a.epochs):
    t0 = time.perf_counter()
    order = torch.randperm(n, generator=g)
    total = 0.0
    for s in range(0, n, a.batch_size):
        idx = order[s:s + a.batch_size]
        x, p = X[idx], P[idx]
        logq = F.log_softmax(model(x), dim=1)
        loss = F.kl_div(logq, p, reduction="batchmean")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += float(loss) * len(idx)
    times.append(time.perf_counter() - t0)
rate_after = matmul_gflops()
matmul_rate = max(rate_before, rate_after)
steady = sorted(times[1:] if len(times) > 1 else times)
print(f"torch median_seconds_per_epoch {steady[len(steady) // 2]:.4f} epochs {' '.join(f'{t:.4f}' for t in times)}"
      f" matmul_gflops {matmul_rate:.1f} loss {total / n:.6f} matmul_gflops_before_after {rate_before:.1f} {rate_after:.1f}")
