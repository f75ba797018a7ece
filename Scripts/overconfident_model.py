#!/usr/bin/env python3
"""Make a deliberately over-confident copy of a softlabel model: the last layer's weights and bias times
FACTOR, so every logit is FACTOR times larger (softmax(FACTOR * z)). For trying `softlabel calibrate`,
which should then fit T close to FACTOR times the original model's best temperature.

    python3 Scripts/overconfident_model.py IN.json OUT.json [FACTOR]    (FACTOR defaults to 5)
"""
import json
import sys

src, dst = sys.argv[1], sys.argv[2]
factor = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
model = json.load(open(src))
# Format 2 lists every layer under "layers" (the last is the dense output layer); format 1 had "network.layers".
layers = model["layers"] if model.get("version", 1) >= 2 else model["network"]["layers"]
last = layers[-1]
assert last.get("kind", "dense") == "dense", "the last layer of a softlabel model is dense"
last["weight"] = [w * factor for w in last["weight"]]
last["bias"] = [b * factor for b in last["bias"]]
with open(dst, "w") as f:
    json.dump(model, f, sort_keys=True)
    f.write("\n")
