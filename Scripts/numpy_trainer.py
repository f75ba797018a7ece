#!/usr/bin/env python3
"""The hand-written numpy reference for Scripts/bench: minibatch SGD with momentum on softmax + KL,
the same computation softlabel does (linear or one ReLU hidden layer), timed per epoch.

    python3 Scripts/numpy_trainer.py X.npy Y.npy [--hidden H] [--epochs 6] [--batch-size 256]

Prints one line: median seconds per epoch over the epochs after the first (numpy's BLAS uses every core).
"""
import argparse
import time

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("features")
ap.add_argument("labels")
ap.add_argument("--hidden", type=int, default=0)
ap.add_argument("--epochs", type=int, default=6)
ap.add_argument("--batch-size", type=int, default=256)
ap.add_argument("--lr", type=float, default=0.01)
ap.add_argument("--momentum", type=float, default=0.9)
a = ap.parse_args()

X = np.load(a.features, mmap_mode=None).astype(np.float32, copy=False)
P = np.load(a.labels).astype(np.float32, copy=False)
P /= P.sum(1, keepdims=True)
n, d = X.shape
k = P.shape[1]
rng = np.random.default_rng(1)
sizes = [d] + ([a.hidden] if a.hidden else []) + [k]
W = [(rng.standard_normal((i, o)) * np.sqrt(2 / i)).astype(np.float32) for i, o in zip(sizes[:-1], sizes[1:])]
b = [np.zeros(o, np.float32) for o in sizes[1:]]
vW = [np.zeros_like(w) for w in W]
vb = [np.zeros_like(x) for x in b]

times = []
for epoch in range(a.epochs):
    t0 = time.perf_counter()
    order = rng.permutation(n)
    total = 0.0
    for s in range(0, n, a.batch_size):
        idx = order[s:s + a.batch_size]
        x, p = X[idx], P[idx]
        m = len(idx)
        acts = [x]
        for l in range(len(W)):
            z = acts[-1] @ W[l] + b[l]
            acts.append(np.maximum(z, 0) if l < len(W) - 1 else z)
        z = acts[-1]
        z = z - z.max(1, keepdims=True)
        logq = z - np.log(np.exp(z).sum(1, keepdims=True))
        q = np.exp(logq)
        total += float(-(p * logq).sum())
        g = (q - p) / m
        for l in range(len(W) - 1, -1, -1):
            gW = acts[l].T @ g
            gb = g.sum(0)
            if l > 0:
                g = (g @ W[l].T) * (acts[l] > 0)
            vW[l] = a.momentum * vW[l] + gW
            vb[l] = a.momentum * vb[l] + gb
            W[l] -= a.lr * vW[l]
            b[l] -= a.lr * vb[l]
    times.append(time.perf_counter() - t0)
steady = sorted(times[1:] if len(times) > 1 else times)
print(f"numpy median_seconds_per_epoch {steady[len(steady) // 2]:.4f} epochs {' '.join(f'{t:.4f}' for t in times)}"
      f" loss {total / n:.6f}")
