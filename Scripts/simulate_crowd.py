#!/usr/bin/env python3
"""Crowd simulator: votes of honest, careless and biased workers on a data set with known human distributions.

The "human distribution" of each row is its soft label in a softlabel CSV (the `label:<class>` columns, each
row normalised), e.g. Data/digits/train_votes.csv, whose ten annotators per image give what an honest
annotator's vote is drawn from. Each task (row) gets `--votes` votes from distinct workers:

  honest    draws the vote from the row's human distribution;
  careless  draws the vote uniformly from all classes (clicks at random);
  biased    with probability `--bias` votes one of their `--favourites` favourite classes (chosen at random
            per worker), otherwise draws from the human distribution like an honest worker.

Workers' shares of the crowd are `--careless` and `--biased` (the rest honest), assigned at random. Workload is
skewed as on real platforms: worker j (in a random order) is picked for a task with weight 1 / rank^zipf, so a
few workers cast most of the votes and many cast a handful (`--zipf 0` gives every worker the same weight).

Writes VOTES.csv (`task,worker,label`, one row per vote, task = the row's id) and, with --truth, a CSV
`worker,kind,votes` saying who is what (for the honest-only oracle and for checking a model's verdicts).
numpy only; the same --seed gives the same votes.

  python3 Scripts/simulate_crowd.py Data/digits/train_votes.csv --out votes.csv --truth truth.csv \
      --votes 3 --workers 150 --careless 0.2 --biased 0.2 --seed 1
"""
import argparse
import csv
import sys

import numpy as np


def read_human(path):
    """ids (n), classes (k), P (n, k) rows normalised."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    label_cols = [i for i, h in enumerate(header) if h.startswith("label:")]
    if not label_cols:
        sys.exit(f"{path}: no label:<class> columns to use as human distributions")
    id_col = header.index("id") if "id" in header else None
    classes = [header[i][6:] for i in label_cols]
    P = np.array([[float(r[i]) for i in label_cols] for r in rows[1:]])
    P /= P.sum(axis=1, keepdims=True)
    ids = [r[id_col] if id_col is not None else str(n + 1) for n, r in enumerate(rows[1:])]
    return ids, classes, P


def simulate(P, votes, workers, careless, biased, bias, favourites, zipf, rng):
    """Returns (task index, worker index, class index) arrays and the kind of each worker."""
    n, k = P.shape
    kinds = np.array(["honest"] * workers, dtype=object)
    order = rng.permutation(workers)
    n_careless = int(round(careless * workers))
    n_biased = int(round(biased * workers))
    kinds[order[:n_careless]] = "careless"
    kinds[order[n_careless:n_careless + n_biased]] = "biased"
    fav = np.array([rng.choice(k, size=favourites, replace=False) for _ in range(workers)])
    rank = rng.permutation(workers) + 1
    weight = 1.0 / rank ** zipf
    weight /= weight.sum()
    if votes > workers:
        sys.exit("--votes must not exceed --workers")
    T, W, L = [], [], []
    cum = np.cumsum(P, axis=1)
    for i in range(n):
        ws = rng.choice(workers, size=votes, replace=False, p=weight)
        for j in ws:
            honest_draw = int(np.searchsorted(cum[i], rng.random() * cum[i, -1], side="right"))
            honest_draw = min(honest_draw, k - 1)
            if kinds[j] == "careless":
                c = int(rng.integers(k))
            elif kinds[j] == "biased" and rng.random() < bias:
                c = int(fav[j][rng.integers(favourites)])
            else:
                c = honest_draw
            T.append(i); W.append(int(j)); L.append(c)
    return np.array(T), np.array(W), np.array(L), kinds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("human", help="softlabel CSV whose label:<class> columns are the human distributions")
    ap.add_argument("--out", required=True, help="where to write the votes (task,worker,label)")
    ap.add_argument("--truth", help="where to write worker,kind,votes")
    ap.add_argument("--votes", type=int, default=3, help="votes per task (distinct workers). Default 3")
    ap.add_argument("--workers", type=int, default=150, help="workers in the crowd. Default 150")
    ap.add_argument("--careless", type=float, default=0.2, help="share of careless workers. Default 0.2")
    ap.add_argument("--biased", type=float, default=0.2, help="share of biased workers. Default 0.2")
    ap.add_argument("--bias", type=float, default=0.6, help="a biased worker's chance of voting a favourite. Default 0.6")
    ap.add_argument("--favourites", type=int, default=1, help="favourite classes per biased worker. Default 1")
    ap.add_argument("--zipf", type=float, default=1.0, help="workload skew exponent (0 = even). Default 1")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    ids, classes, P = read_human(a.human)
    rng = np.random.default_rng(a.seed)
    T, W, L, kinds = simulate(P, a.votes, a.workers, a.careless, a.biased, a.bias, a.favourites, a.zipf, rng)
    with open(a.out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["task", "worker", "label"])
        for t, j, c in zip(T, W, L):
            w.writerow([ids[t], f"w{j:04d}", classes[c]])
    if a.truth:
        counts = np.bincount(W, minlength=a.workers)
        with open(a.truth, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["worker", "kind", "votes"])
            for j in range(a.workers):
                w.writerow([f"w{j:04d}", kinds[j], int(counts[j])])


if __name__ == "__main__":
    main()
