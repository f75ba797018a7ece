#!/usr/bin/env python3
"""The reference solver softlabel is checked against: the exact optimum of the linear model's objective.

    python3 Scripts/reference_solver.py TRAIN.csv TEST.csv [L2]     (L2 defaults to 0.001, softlabel's default)

Objective (the same as `softlabel train` with default flags): mean KL(p || softmax(x W + b)) over the training
rows + (L2/2) sum W^2, on features z-scored with the training mean and population std (a constant feature
maps to 0). Minimised with scipy's L-BFGS-B to full convergence; prints the held-out KL and accuracy (against
the majority class) to compare with `softlabel eval --model M.json TEST.csv`. Reads softlabel's CSV format
with `label:<class>` columns (numpy and scipy only; not a dependency of the Swift package).
"""
import csv
import sys

import numpy as np
from scipy.optimize import minimize


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:]
    labels = [i for i, c in enumerate(header) if c.startswith("label:")]
    features = [i for i, c in enumerate(header) if c != "id" and not c.startswith("label")]
    x = np.array([[float(r[i]) for i in features] for r in rows])
    p = np.array([[float(r[i]) for i in labels] for r in rows])
    return x, p / p.sum(1, keepdims=True)


def log_softmax(z):
    m = z.max(1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(1, keepdims=True))


def main():
    x, p = load(sys.argv[1])
    xt, pt = load(sys.argv[2])
    l2 = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-3
    mean, std = x.mean(0), x.std(0)
    std[std == 0] = 1  # constant in training: (x - mean) / 1 is 0 there
    xs, xts = (x - mean) / std, (xt - mean) / std
    n, d = xs.shape
    k = p.shape[1]

    def objective(theta):
        w, b = theta[:d * k].reshape(d, k), theta[d * k:]
        logq = log_softmax(xs @ w + b)
        g = (np.exp(logq) - p) / n
        value = -(p * logq).sum() / n + 0.5 * l2 * (w * w).sum()
        return value, np.concatenate([(xs.T @ g + l2 * w).ravel(), g.sum(0)])

    res = minimize(objective, np.zeros(d * k + k), jac=True, method="L-BFGS-B",
                   options=dict(maxiter=20000, gtol=1e-10, ftol=1e-15))
    w, b = res.x[:d * k].reshape(d, k), res.x[d * k:]

    def metrics(features, targets):
        logq = log_softmax(features @ w + b)
        safe = np.where(targets > 0, targets, 1)
        kl = (np.where(targets > 0, targets * np.log(safe), 0).sum(1) - (targets * logq).sum(1)).mean()
        return kl, (logq.argmax(1) == targets.argmax(1)).mean()

    print(f"{res.message} after {res.nit} iterations; objective {res.fun:.10f}")
    print("train kl %.6f accuracy %.4f" % metrics(xs, p))
    print("test  kl %.6f accuracy %.4f" % metrics(xts, pt))


if __name__ == "__main__":
    main()
