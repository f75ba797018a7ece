#!/usr/bin/env python3
"""Held-out KL of classifiers trained from simulated crowd votes: ours vs crowd-kit vs the honest-only oracle.

For each setting and seed, Scripts/simulate_crowd.py gives every training image of Data/digits a few votes
from a crowd of honest, careless and biased workers (the "human distribution" is the image's ten-annotator
soft label). Each way of turning the votes into a classifier is scored by `softlabel eval`'s KL on the
held-out test images against their full human distribution (Data/digits/test_votes.csv):

  fractions       vote fractions as targets, then `softlabel train`
  ck-DS ... ck-MACE   crowd-kit's DawidSkene, OneCoinDawidSkene, GLAD, MACE posteriors, then `softlabel train`
  oracle          vote fractions of the honest workers' votes only (images without one are dropped), then train
  ours            `softlabel train FEATURES --annotations VOTES` (default crowd model: soft)
  ours-DS, ours-1coin  the same with --crowd-model dawid-skene / one-coin
  agg-soft        `softlabel aggregate --method soft` (no features: leave-one-out centres), then train

Needs numpy, pandas and crowd-kit (`pip install crowd-kit`) and a release build (`swift build -c release`).
crowd-kit is used here only, never by the Swift package.

  python3 Scripts/crowd_compare.py [--seeds 3] [--quick] [--work DIR]
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".build/release/softlabel")
TRAIN = os.path.join(ROOT, "Data/digits/train_votes.csv")
TEST = os.path.join(ROOT, "Data/digits/test_votes.csv")

SETTINGS = [
    # name, simulator flags
    ("3 votes, 20% careless + 20% biased", ["--votes", "3", "--careless", "0.2", "--biased", "0.2"]),
    ("3 votes, 40% careless", ["--votes", "3", "--careless", "0.4", "--biased", "0"]),
    ("3 votes, 40% biased (2 favourites)", ["--votes", "3", "--careless", "0", "--biased", "0.4", "--favourites", "2"]),
    ("5 votes, 20% careless + 20% biased", ["--votes", "5", "--careless", "0.2", "--biased", "0.2"]),
]


def run(args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{r.stderr}")
    return r.stdout


def read_features(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    h = rows[0]
    keep = [i for i, x in enumerate(h) if not x.startswith("label:")]
    classes = [x[6:] for x in h if x.startswith("label:")]
    ids = [r[h.index("id")] for r in rows[1:]]
    feats = {r[h.index("id")]: [r[i] for i in keep if h[i] != "id"] for r in rows[1:]}
    names = [h[i] for i in keep if h[i] != "id"]
    return ids, names, feats, classes


def write_training(path, names, feats, classes, targets):
    """targets: {id: array (k)}; writes id,features...,label:c..."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id"] + names + ["label:" + c for c in classes])
        for i, p in targets.items():
            w.writerow([i] + feats[i] + [repr(float(x)) for x in p])


def train_eval(train_csv, model, extra=()):
    run([BIN, "train", train_csv, "--model", model, "--quiet", *extra])
    return json.loads(run([BIN, "eval", "--model", model, TEST, "--json"]))["kl"]


def fractions(df, classes, keep=None):
    k = len(classes)
    pos = {c: n for n, c in enumerate(classes)}
    out = {}
    for t, w, l in zip(df.task, df.worker, df.label):
        if keep is not None and w not in keep:
            continue
        out.setdefault(t, np.zeros(k))[pos[l]] += 1
    return {t: v / v.sum() for t, v in out.items()}


def crowdkit_targets(model, df, classes):
    probas = model.fit_predict_proba(df)
    probas = probas.reindex(columns=classes, fill_value=0.0).fillna(0.0)
    return {t: row.to_numpy() / row.sum() for t, row in probas.iterrows()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="first setting only, no GLAD/MACE")
    ap.add_argument("--work", help="folder for the generated files (default: a temporary one)")
    ap.add_argument("--methods", help="comma-separated subset of the methods (oracle is always run)")
    a = ap.parse_args()
    import pandas as pd
    from crowdkit.aggregation import DawidSkene, GLAD, MACE, OneCoinDawidSkene

    if not os.path.exists(BIN):
        sys.exit("build first: swift build -c release")
    work = a.work or tempfile.mkdtemp(prefix="crowd-compare-")
    os.makedirs(work, exist_ok=True)
    ids, names, feats, classes = read_features(TRAIN)
    feat_csv = os.path.join(work, "features.csv")
    with open(feat_csv, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id"] + names)
        for i in ids:
            w.writerow([i] + feats[i])

    methods = ["fractions", "ck-DS", "ck-1coin", "ck-GLAD", "ck-MACE", "oracle", "agg-soft", "ours", "ours-DS", "ours-1coin"]
    if a.methods:
        wanted = set(a.methods.split(",")) | {"oracle"}
        methods = [m for m in methods if m in wanted]
    if a.quick:
        methods = [m for m in methods if m not in ("ck-GLAD", "ck-MACE")]
    settings = SETTINGS[:1] if a.quick else SETTINGS
    results = {}
    for number, (name, flags) in enumerate(settings):
        for seed in range(1, a.seeds + 1):
            tag = f"{number}-{seed}"
            votes = os.path.join(work, f"votes{tag}.csv")
            truth = os.path.join(work, f"truth{tag}.csv")
            run([sys.executable, os.path.join(ROOT, "Scripts/simulate_crowd.py"), TRAIN, "--out", votes, "--truth", truth,
                 "--seed", str(seed), *flags])
            df = pd.read_csv(votes, dtype=str)
            kinds = pd.read_csv(truth, dtype=str)
            honest = set(kinds.worker[kinds.kind == "honest"])
            row = {}
            for m in methods:
                t0 = time.time()
                model = os.path.join(work, f"m{tag}-{m}.json")
                if m.startswith("ours"):
                    crowd = {"ours": "soft", "ours-DS": "dawid-skene", "ours-1coin": "one-coin"}[m]
                    run([BIN, "train", feat_csv, "--annotations", votes, "--crowd-model", crowd, "--model", model, "--quiet"])
                    kl = json.loads(run([BIN, "eval", "--model", model, TEST, "--json"]))["kl"]
                else:
                    if m == "agg-soft":
                        soft = os.path.join(work, f"soft{tag}.csv")
                        run([BIN, "aggregate", votes, "--out", soft])
                        agg = pd.read_csv(soft, dtype={"id": str}).set_index("id")
                        targets = {t: agg.loc[t].to_numpy() for t in agg.index}
                    elif m == "fractions":
                        targets = fractions(df, classes)
                    elif m == "oracle":
                        targets = fractions(df, classes, keep=honest)
                    else:
                        # crowd-kit's posteriors depend only on the votes: cached, so a rerun skips GLAD's minutes.
                        cache = os.path.join(work, f"ck{tag}-{m}.json")
                        if os.path.exists(cache):
                            with open(cache) as f:
                                targets = {t: np.array(p) for t, p in json.load(f).items()}
                        else:
                            agg = {"ck-DS": DawidSkene(n_iter=100), "ck-1coin": OneCoinDawidSkene(n_iter=100),
                                   "ck-GLAD": GLAD(), "ck-MACE": MACE()}[m]
                            targets = crowdkit_targets(agg, df, classes)
                            with open(cache, "w") as f:
                                json.dump({t: list(map(float, p)) for t, p in targets.items()}, f)
                    train_csv = os.path.join(work, f"t{tag}-{m}.csv")
                    write_training(train_csv, names, feats, classes, targets)
                    kl = train_eval(train_csv, model)
                row[m] = kl
                print(f"  {name} seed {seed} {m:11s} KL {kl:.4f} ({time.time() - t0:.1f} s)", file=sys.stderr)
            results.setdefault(name, []).append(row)

    print(f"held-out KL against the full human distribution (Data/digits/test_votes.csv, 397 images), "
          f"mean of {a.seeds} seeds; in brackets: % above the honest-only oracle")
    w = max(len(n) for n, _ in settings)
    print(" " * w + "".join(f"{m:>17s}" for m in methods))
    for name, _ in settings:
        rows = results[name]
        mean = {m: float(np.mean([r[m] for r in rows])) for m in methods}
        cells = [f"{mean[m]:.4f} ({100 * (mean[m] / mean['oracle'] - 1):+5.1f}%)" for m in methods]
        print(f"{name:{w}s}" + "".join(f"{c:>17s}" for c in cells))
        parts = []
        ck = [(mean[m], m) for m in methods if m.startswith("ck-")]
        if ck:
            parts.append(f"best crowd-kit: {min(ck)[1]} {100 * (min(ck)[0] / mean['oracle'] - 1):+.1f}%")
        for m in ("ours", "fractions"):
            if m in mean:
                parts.append(f"{m} {100 * (mean[m] / mean['oracle'] - 1):+.1f}%")
        print(f"{'':{w}s}  " + "; ".join(parts))
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(f"(raw figures: {os.path.join(work, 'results.json')})", file=sys.stderr)


if __name__ == "__main__":
    main()
