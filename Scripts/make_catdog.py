#!/usr/bin/env python3
"""Generate Data/catdog: a small "cat vs dog" set with human-style probability labels.

Each image has a hidden "catness" s ~ N(0, 1). Its feature vector (16 numbers, standing in for an
image embedding) is a noisy linear view of s plus nuisance dimensions. A person looking at the image
states a probability that it is a cat, P(cat) = sigmoid(2.5 s + noise), rounded to the nearest 5%
("90% cat, 10% dog"); clear images get 100/0. Labels are written as `label:cat`, `label:dog`.

Deterministic: numpy's default_rng(2026). Run from the package root:
    python3 Scripts/make_catdog.py
"""
import numpy as np

rng = np.random.default_rng(2026)
n, d = 600, 16
s = rng.normal(size=n)
direction = rng.normal(size=d)
direction /= np.linalg.norm(direction)
nuisance = rng.normal(size=(n, d))
features = 1.5 * np.outer(s, direction) + nuisance
features[:, :4] += rng.normal(size=(n, 1)) * 0.8  # a shared "lighting" factor on the first four
p_cat = 1 / (1 + np.exp(-(2.5 * s + rng.normal(scale=0.5, size=n))))
p_cat = np.round(p_cat * 20) / 20  # people say 85%, 90%, 95%...

def write(path, rows):
    with open(path, "w") as f:
        f.write("id," + ",".join(f"e{j}" for j in range(d)) + ",label:cat,label:dog\n")
        for i in rows:
            cat = p_cat[i]
            f.write(f"img{i:04d}," + ",".join(f"{v:.4f}" for v in features[i]) + f",{cat:.2f},{1 - cat:.2f}\n")

write("Data/catdog/train.csv", range(0, 480))
write("Data/catdog/test.csv", range(480, n))
