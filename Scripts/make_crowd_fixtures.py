#!/usr/bin/env python3
"""Fixtures for the crowd tests: a small vote table and crowd-kit's Dawid-Skene and one-coin posteriors on it.

Writes Tests/Fixtures/crowd/small_votes.csv (task,worker,label), ds_posteriors.csv and onecoin_posteriors.csv
(task,label:<class>... in crowd-kit's default settings: DawidSkene(n_iter=100), OneCoinDawidSkene(n_iter=100)),
and crowdkit.json with the rounds each ran (len(loss_history_)) and their final loss (evidence lower bound per
vote). The Swift tests check that `aggregate --method dawid-skene / one-coin` give the same numbers to 1e-3.
Needs pandas and crowd-kit (`pip install crowd-kit`); the same seed gives the same table.
"""
import csv
import json
import os

import numpy as np
import pandas as pd
from crowdkit.aggregation import DawidSkene, OneCoinDawidSkene

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests/Fixtures/crowd")


def main():
    rng = np.random.default_rng(10)
    classes = ["bird", "cat", "dog"]
    k = len(classes)
    # 8 workers: 4 good, 2 mediocre, 1 careless, 1 biased towards "dog" who never answers "bird".
    acc = [0.9, 0.85, 0.8, 0.85, 0.6, 0.55, 1 / 3, 0.5]
    rows = []
    for t in range(40):
        truth = rng.integers(k)
        n_votes = rng.integers(2, 6)
        for j in rng.choice(8, size=n_votes, replace=False):
            if j == 7:
                label = 2 if rng.random() < 0.6 else (truth if truth != 0 else 1)
            elif rng.random() < acc[j]:
                label = truth
            else:
                label = rng.choice([c for c in range(k) if c != truth])
            rows.append((f"t{t:02d}", f"w{j}", classes[label]))
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "small_votes.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["task", "worker", "label"])
        w.writerows(rows)
    df = pd.read_csv(os.path.join(OUT, "small_votes.csv"), dtype=str)
    info = {}
    for name, model in [("ds", DawidSkene(n_iter=100)), ("onecoin", OneCoinDawidSkene(n_iter=100))]:
        probas = model.fit_predict_proba(df).reindex(columns=classes, fill_value=0.0)
        with open(os.path.join(OUT, f"{name}_posteriors.csv"), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["task"] + ["label:" + c for c in classes])
            for task, row in probas.sort_index().iterrows():
                w.writerow([task] + [repr(float(x)) for x in row])
        info[name] = {"rounds": len(model.loss_history_), "final_loss": model.loss_history_[-1]}
    with open(os.path.join(OUT, "crowdkit.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(json.dumps(info))


if __name__ == "__main__":
    main()
