#!/usr/bin/env python3
"""Independent numpy computation of every `softlabel eval` metric, for the tests' fixtures.

Nothing here shares code with the Swift implementation: the metrics are written from their definitions
with numpy arrays in float64.

    python3 Scripts/make_metric_fixtures.py
        writes Tests/Fixtures/metrics/small.csv (a fixed file of logits and soft labels, with hand-picked
        edge cases: ties in p and in z, zeros in p, a saturated softmax) and small_expected.json (the
        metrics at temperatures 1 and 2.5, and the KL-optimal temperature).

    python3 Scripts/make_metric_fixtures.py --model M.json --data D.csv [--out E.json] [--ordinal]
        the metrics of a softlabel model file on a data file (standardisation, Dense + ReLU layers,
        temperature), as `softlabel eval --json [--ordinal]` prints them.

The small fixture also gets paired.csv (two models' logits and ordinal soft labels) and paired_expected.json:
each metric's difference B - A with its 95% paired percentile bootstrap interval, drawn with numpy's own
generator (see paired_bootstrap below), for the test that softlabel's intervals agree with numpy's.

Run from the package root. Deterministic: numpy default_rng(5).
"""
import argparse
import csv
import json
import math

import numpy as np

BINS = 15


def log_softmax(z):
    m = z.max(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def xlogy(x, y):
    """x * log(y), 0 where x == 0."""
    safe = np.where(x > 0, y, 1.0)
    return np.where(x > 0, x * np.log(safe), 0.0)


def metrics(z, p, classes):
    """The eval metrics for logits z (n, k) and labels p (n, k), both float64."""
    n, k = z.shape
    logq = log_softmax(z)
    q = np.exp(logq)
    entropy = -xlogy(p, p).sum(axis=1)
    cross_entropy = -np.where(p > 0, p * logq, 0.0).sum(axis=1)
    kl = (xlogy(p, p) - np.where(p > 0, p * logq, 0.0)).sum(axis=1)
    m = (p + q) / 2
    js = 0.5 * (xlogy(p, p) - xlogy(p, m)).sum(axis=1) + 0.5 * (xlogy(q, q) - xlogy(q, m)).sum(axis=1)
    tv = 0.5 * np.abs(p - q).sum(axis=1)
    brier = ((q - p) ** 2).sum(axis=1)

    label = p.argmax(axis=1)  # numpy's argmax returns the first maximum
    pred = q.argmax(axis=1)
    correct = label == pred
    ranked = np.argsort(-q, axis=1, kind="stable")  # stable: equal q keep class order
    top2 = (ranked[:, :2] == label[:, None]).any(axis=1)

    manhattan = np.abs(p - q).sum(axis=1)
    # Wasserstein-1 on the ordered classes 0..k-1: the L1 distance between the CDFs.
    wasserstein = np.abs(np.cumsum(p, axis=1) - np.cumsum(q, axis=1))[:, :-1].sum(axis=1)
    entropy_q = -xlogy(q, q).sum(axis=1)
    entropy_correlation = pearson(entropy, entropy_q)

    conf = q.max(axis=1)
    b = np.minimum(np.floor(conf * BINS).astype(int), BINS - 1)
    reliability = []
    ece = 0.0
    for i in range(BINS):
        sel = b == i
        cnt = int(sel.sum())
        mc = float(conf[sel].mean()) if cnt else None
        acc = float(correct[sel].mean()) if cnt else None
        if cnt:
            ece += cnt / n * abs(acc - mc)
        reliability.append({"lower": i / BINS, "upper": (i + 1) / BINS, "count": cnt,
                            "confidence": mc, "accuracy": acc})

    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (label, pred), 1)
    per_class = []
    for c in range(k):
        support = int(confusion[c].sum())
        predicted = int(confusion[:, c].sum())
        per_class.append({
            "class": classes[c], "support": support,
            "mean_target": float(p[:, c].mean()), "mean_predicted": float(q[:, c].mean()),
            "precision": float(confusion[c, c] / predicted) if predicted else None,
            "recall": float(confusion[c, c] / support) if support else None,
        })
    return {
        "examples": n, "kl": float(kl.mean()), "cross_entropy": float(cross_entropy.mean()),
        "entropy": float(entropy.mean()), "js": float(js.mean()), "tv": float(tv.mean()),
        "accuracy": float(correct.mean()), "top2_accuracy": float(top2.mean()), "brier": float(brier.mean()),
        "ece": float(ece), "manhattan": float(manhattan.mean()), "entropy_correlation": entropy_correlation,
        "wasserstein": float(wasserstein.mean()), "reliability": reliability, "per_class": per_class,
        "confusion": {"classes": classes, "counts": confusion.tolist()},
    }


def pearson(x, y):
    """np.corrcoef's r, or None when x or y is constant (numpy would give nan)."""
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def per_example(z, p):
    """Per-example values of every metric (for the bootstrap), float64 arrays of length n."""
    logq = log_softmax(z)
    q = np.exp(logq)
    entropy = -xlogy(p, p).sum(axis=1)
    ce = -np.where(p > 0, p * logq, 0.0).sum(axis=1)
    m = (p + q) / 2
    label, pred = p.argmax(axis=1), q.argmax(axis=1)
    ranked = np.argsort(-q, axis=1, kind="stable")
    return {
        "kl": ce - entropy, "cross_entropy": ce, "entropy": entropy,
        "js": 0.5 * (xlogy(p, p) - xlogy(p, m)).sum(axis=1) + 0.5 * (xlogy(q, q) - xlogy(q, m)).sum(axis=1),
        "tv": 0.5 * np.abs(p - q).sum(axis=1),
        "correct": (label == pred).astype(float),
        "top2": (ranked[:, :2] == label[:, None]).any(axis=1).astype(float),
        "brier": ((q - p) ** 2).sum(axis=1),
        "manhattan": np.abs(p - q).sum(axis=1),
        "wasserstein": np.abs(np.cumsum(p, axis=1) - np.cumsum(q, axis=1))[:, :-1].sum(axis=1),
        "confidence": q.max(axis=1),
        "entropy_q": -xlogy(q, q).sum(axis=1),
    }


def statistics(e, idx):
    """Every compared metric of per-example values `e` on the examples `idx` (with repeats)."""
    out = {key: float(e[src][idx].mean()) for key, src in [
        ("kl", "kl"), ("cross_entropy", "cross_entropy"), ("entropy", "entropy"), ("js", "js"), ("tv", "tv"),
        ("accuracy", "correct"), ("top2_accuracy", "top2"), ("brier", "brier"), ("manhattan", "manhattan"),
        ("wasserstein", "wasserstein")]}
    conf, correct = e["confidence"][idx], e["correct"][idx]
    b = np.minimum(np.floor(conf * BINS).astype(int), BINS - 1)
    gap = np.bincount(b, weights=correct - conf, minlength=BINS)
    out["ece"] = float(np.abs(gap).sum() / len(idx))
    out["entropy_correlation"] = pearson(e["entropy"][idx], e["entropy_q"][idx])
    return out


def paired_bootstrap(za, zb, p, resamples, seed, level=0.95):
    """Differences B - A of every metric with their paired percentile bootstrap interval.

    Each resample draws n example indices with replacement (numpy's default_rng(seed).integers), the same
    indices for both models; the bounds are np.percentile(differences, [2.5, 97.5]) with numpy's default
    "linear" interpolation, the method softlabel implements. Only the random draws differ between the two.
    """
    n = len(p)
    ea, eb = per_example(za, p), per_example(zb, p)
    every = np.arange(n)
    point_a, point_b = statistics(ea, every), statistics(eb, every)
    rng = np.random.default_rng(seed)
    draws = {key: [] for key in point_a}
    for _ in range(resamples):
        idx = rng.integers(0, n, size=n)
        sa, sb = statistics(ea, idx), statistics(eb, idx)
        for key in draws:
            draws[key].append(np.nan if sa[key] is None or sb[key] is None else sb[key] - sa[key])
    out = {}
    for key, d in draws.items():
        d = np.array(d)
        diff = None if point_a[key] is None or point_b[key] is None else point_b[key] - point_a[key]
        lo, hi = (None, None) if np.isnan(d).any() else np.percentile(d, [50 * (1 - level), 50 * (1 + level)])
        out[key] = {"difference": diff, "lower": None if lo is None else float(lo),
                    "upper": None if hi is None else float(hi)}
    return out


def paired_fixture():
    """Two models' logits on ordinal soft labels (five ordered classes, annotator votes), B a bit better."""
    rng = np.random.default_rng(11)
    n, k, votes = 400, 5, 7
    centre = rng.uniform(-0.5, k - 0.5, size=n)
    spread = rng.uniform(0.4, 1.5, size=n)
    grid = np.arange(k)
    w = np.exp(-0.5 * ((grid[None, :] - centre[:, None]) / spread[:, None]) ** 2)
    w /= w.sum(axis=1, keepdims=True)
    p = np.array([rng.multinomial(votes, row) for row in w]) / votes
    za = 2.2 * np.log(w + 0.02) + rng.normal(scale=0.9, size=(n, k))
    zb = 1.6 * np.log(w + 0.02) + rng.normal(scale=0.7, size=(n, k))
    classes = ["1", "2", "3", "4", "5"]
    path = "Tests/Fixtures/metrics/paired.csv"
    with open(path, "w") as f:
        f.write("id," + ",".join(f"a:{c}" for c in classes) + "," + ",".join(f"b:{c}" for c in classes) + ","
                + ",".join(f"p:{c}" for c in classes) + "\n")
        for i in range(n):
            f.write(f"r{i + 1}," + ",".join(f"{v:.5f}" for v in za[i]) + "," + ",".join(f"{v:.5f}" for v in zb[i])
                    + "," + ",".join(f"{v:.6f}" for v in p[i]) + "\n")
    rows = list(csv.reader(open(path)))
    vals = np.array([[np.float32(v) for v in r[1:]] for r in rows[1:]], dtype=np.float32).astype(np.float64)
    za32, zb32, p32 = vals[:, :k], vals[:, k:2 * k], vals[:, 2 * k:]
    resamples, seed = 20000, 3
    expected = {
        "source": "Scripts/make_metric_fixtures.py (numpy paired bootstrap, float64)",
        "resamples": resamples, "seed": seed, "level": 0.95,
        "a": metrics(za32, p32, classes), "b": metrics(zb32, p32, classes),
        "differences": paired_bootstrap(za32, zb32, p32, resamples, seed),
    }
    for side in ("a", "b"):
        for key in ("reliability", "per_class", "confusion"):
            del expected[side][key]
    with open("Tests/Fixtures/metrics/paired_expected.json", "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


def best_temperature(z, p):
    """T minimising mean KL(p || softmax(z/T)), by bisection on the derivative in beta = 1/T.

    d/dbeta mean CE(beta) = mean_i sum_j (q_ij - p_ij) z_ij, increasing in beta (CE is convex in beta).
    A different method from the Swift golden-section search, so the two check each other.
    """
    def slope(beta):
        q = np.exp(log_softmax(beta * z))
        return float(((q - p) * z).sum(axis=1).mean())
    lo, hi = 1e-3, 1e3
    assert slope(lo) < 0 < slope(hi)
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        if slope(mid) < 0:
            lo = mid
        else:
            hi = mid
    return 1 / math.sqrt(lo * hi)


def small_fixture():
    rng = np.random.default_rng(5)
    classes = ["ant", "bee", "cat", "dog"]
    n, k = 40, 4
    alpha = rng.uniform(0.2, 2.0, size=(n, k))
    p = rng.gamma(alpha)
    p[rng.uniform(size=(n, k)) < 0.25] = 0.0  # some exact zeros
    p[p.sum(axis=1) == 0, 0] = 1.0
    p /= p.sum(axis=1, keepdims=True)
    # Logits that follow the labels, over-confidently and with noise, so every table has some of everything.
    z = 2.0 * np.log(p + 0.05) + rng.normal(scale=1.0, size=(n, k))
    z[:, 0] += 0.3
    # Hand-picked rows.
    z[0], p[0] = [1.0, 1.0, 0.0, -1.0], [0.5, 0.5, 0.0, 0.0]  # ties in z and in p: both go to "ant"
    z[1], p[1] = [40.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]  # saturated: confidence rounds to 1
    z[2], p[2] = [-30.0, 5.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]  # q_ant underflows to ~0; p ties 4 ways
    z[3], p[3] = [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]  # uniform prediction, "dog" majority
    z[4], p[4] = [0.0, 3.0, 2.9, 0.0], [0.1, 0.2, 0.6, 0.1]  # right class second: top-2 hit, top-1 miss
    # The file holds short decimals; both sides read these as float32.
    with open("Tests/Fixtures/metrics/small.csv", "w") as f:
        f.write("id," + ",".join(f"z:{c}" for c in classes) + "," + ",".join(f"p:{c}" for c in classes) + "\n")
        for i in range(n):
            f.write(f"r{i + 1}," + ",".join(f"{v:.5f}" for v in z[i]) + "," + ",".join(f"{v:.6f}" for v in p[i]) + "\n")
    z32, p32 = read_small("Tests/Fixtures/metrics/small.csv")
    expected = {
        "source": "Scripts/make_metric_fixtures.py (numpy, float64)",
        "cases": [{"temperature": t, "metrics": metrics(z32 / t, p32, classes)} for t in (1.0, 2.5)],
        "best_temperature": best_temperature(z32, p32),
    }
    with open("Tests/Fixtures/metrics/small_expected.json", "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


def read_small(path):
    rows = list(csv.reader(open(path)))
    k = (len(rows[0]) - 1) // 2
    vals = np.array([[np.float32(v) for v in r[1:]] for r in rows[1:]], dtype=np.float32).astype(np.float64)
    return vals[:, :k], vals[:, k:]


def model_metrics(model_path, data_path, ordinal=False):
    model = json.load(open(model_path))
    classes, features = model["classes"], model["features"]
    rows = list(csv.reader(open(data_path)))
    header, body = rows[0], rows[1:]
    col = {name: j for j, name in enumerate(header)}
    x = np.array([[np.float32(r[col[f]]) for f in features] for r in body], dtype=np.float32).astype(np.float64)
    if "label" in col:
        p = np.array([[1.0 if r[col["label"]] == c else 0.0 for c in classes] for r in body])
    else:
        counts = np.array([[float(np.float32(r[col["label:" + c]])) for c in classes] for r in body])
        p = counts / counts.sum(axis=1, keepdims=True)
    p = p.astype(np.float32).astype(np.float64)  # labels are stored as float32
    s = model.get("standardization")
    if s:
        mean = np.array(s["mean"], dtype=np.float32).astype(np.float64)
        std = np.array(s["std"], dtype=np.float32).astype(np.float64)
        x = (x - mean) * np.where(std == 0, 0.0, 1.0 / np.where(std == 0, 1.0, std))
    layers = model["network"]["layers"]
    h = x
    for l, layer in enumerate(layers):
        w = np.array(layer["weight"], dtype=np.float32).astype(np.float64).reshape(layer["outputs"], layer["inputs"])
        b = np.array(layer["bias"], dtype=np.float32).astype(np.float64)
        h = h @ w.T + b
        if l < len(layers) - 1:
            h = np.maximum(h, 0.0)
    out = metrics(h / float(model["temperature"]), p, classes)
    if not ordinal:
        del out["wasserstein"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model")
    ap.add_argument("--data")
    ap.add_argument("--out")
    ap.add_argument("--ordinal", action="store_true")
    a = ap.parse_args()
    if a.model:
        text = json.dumps(model_metrics(a.model, a.data, a.ordinal), indent=1) + "\n"
        if a.out:
            open(a.out, "w").write(text)
        else:
            print(text, end="")
    else:
        small_fixture()
        paired_fixture()


if __name__ == "__main__":
    main()
