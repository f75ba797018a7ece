#!/usr/bin/env python3
"""Dawid-Skene speed and memory: `softlabel aggregate --method dawid-skene` against crowd-kit's DawidSkene.

Generates (once, cached in --cache) a vote table of TASKS tasks x VOTES votes by distinct workers out of WORKERS,
K classes (default: 200,000 x 10 = 2,000,000 votes, 5,000 workers, 10 classes; each worker right with a
probability drawn uniformly from [0.3, 0.95], otherwise a uniformly wrong class), then reports

  ours       wall seconds (median of --repeats runs, release build) and peak RSS (/usr/bin/time -v) of the
             whole command: reading the CSV, EM, writing the soft labels;
  crowd-kit  seconds of pandas.read_csv and of DawidSkene().fit_predict_proba (default settings), one run;
  agreement  the largest difference between the two sets of posteriors, and the rounds each ran.

  python3 Scripts/crowd_speed.py [--tasks 200000] [--votes 10] [--workers 5000] [--classes 10] [--no-crowdkit]

Needs numpy, pandas, crowd-kit (`pip install crowd-kit`; never a dependency of the package), GNU time.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".build/release/softlabel")


def generate(path, tasks, votes, workers, k, seed=1):
    rng = np.random.default_rng(seed)
    truth = rng.integers(k, size=tasks)
    acc = rng.uniform(0.3, 0.95, size=workers)
    base = rng.integers(workers, size=tasks)
    gap = max(1, (workers - 1) // votes)
    offsets = np.cumsum(rng.integers(1, gap + 1, size=(tasks, votes)), axis=1)  # strictly increasing, < workers
    w = (base[:, None] + offsets) % workers
    right = rng.random((tasks, votes)) < acc[w]
    wrong = (truth[:, None] + rng.integers(1, k, size=(tasks, votes))) % k
    label = np.where(right, truth[:, None], wrong)
    t = np.repeat(np.arange(tasks), votes)
    with open(path, "w") as f:
        f.write("task,worker,label\n")
        for chunk in range(0, tasks * votes, 1_000_000):
            s = slice(chunk, chunk + 1_000_000)
            lines = [f"t{a},w{b},c{c}" for a, b, c in zip(t[s], w.ravel()[s], label.ravel()[s])]
            f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=200_000)
    ap.add_argument("--votes", type=int, default=10)
    ap.add_argument("--workers", type=int, default=5000)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, help="softlabel --threads (default: all cores)")
    ap.add_argument("--cache", default=os.path.join(ROOT, ".bench-cache/crowd"))
    ap.add_argument("--no-crowdkit", action="store_true")
    a = ap.parse_args()
    if not os.path.exists(BIN):
        sys.exit("build first: swift build -c release")
    os.makedirs(a.cache, exist_ok=True)
    votes = os.path.join(a.cache, f"votes_{a.tasks}x{a.votes}_w{a.workers}_k{a.classes}.csv")
    if not os.path.exists(votes):
        t0 = time.time()
        generate(votes + ".tmp", a.tasks, a.votes, a.workers, a.classes)
        os.replace(votes + ".tmp", votes)
        print(f"generated {votes} in {time.time() - t0:.1f} s", file=sys.stderr)
    n = a.tasks * a.votes
    size = os.path.getsize(votes) / 1e6
    work = tempfile.mkdtemp(prefix="crowd-speed-")
    ours_out = os.path.join(work, "ours.csv")
    cmd = [BIN, "aggregate", votes, "--out", ours_out, "--method", "dawid-skene", "--json"]
    if a.threads:
        cmd += ["--threads", str(a.threads)]
    walls, rss = [], []
    summary = ""
    for _ in range(a.repeats):
        t0 = time.time()
        r = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
        walls.append(time.time() - t0)
        if r.returncode != 0:
            sys.exit(r.stderr)
        rss.append(int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1)) * 1024)
        summary = r.stdout.strip()
    import json
    ours_rounds = json.loads(summary)["rounds"]
    print(f"vote table: {a.tasks} tasks x {a.votes} votes = {n} votes, {a.workers} workers, {a.classes} classes ({size:.0f} MB CSV)")
    print(f"ours       dawid-skene  {statistics.median(walls):7.2f} s wall (median of {a.repeats}: "
          + " ".join(f"{x:.2f}" for x in walls) + f")  peak RSS {max(rss) / 1e6:.0f} MB  rounds {ours_rounds}"
          + f"   target <= 10 s, <= 1500 MB: {'ok' if statistics.median(walls) <= 10 and max(rss) <= 1.5e9 else 'MISS'}")
    load = os.getloadavg()[0]
    if a.no_crowdkit:
        print(f"(load average {load:.2f})")
        return
    import pandas as pd
    from crowdkit.aggregation import DawidSkene
    t0 = time.time()
    df = pd.read_csv(votes, dtype=str)
    t_read = time.time() - t0
    t0 = time.time()
    ds = DawidSkene(n_iter=100)
    probas = ds.fit_predict_proba(df)
    t_fit = time.time() - t0
    ours = pd.read_csv(ours_out, index_col=0, dtype={"id": str})
    ours.columns = [c[6:] for c in ours.columns]
    probas = probas.reindex(index=ours.index, columns=ours.columns)
    diff = float(np.abs(probas.to_numpy() - ours.to_numpy()).max())
    total = t_read + t_fit
    print(f"crowd-kit  DawidSkene   {total:7.2f} s (read_csv {t_read:.2f} s + fit {t_fit:.2f} s), one run  rounds {len(ds.loss_history_)}")
    print(f"speed      crowd-kit / ours = {total / statistics.median(walls):.1f}x (fit alone {t_fit / statistics.median(walls):.1f}x)")
    print(f"agreement  largest |ours - crowd-kit| posterior difference {diff:.2e}   target <= 1e-3: {'ok' if diff <= 1e-3 else 'MISS'}")
    print(f"(load average at the end {load:.2f}; other work on the machine slows both)")


if __name__ == "__main__":
    main()
