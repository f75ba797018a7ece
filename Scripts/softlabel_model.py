"""Load a softlabel model file (JSON, format versions 1 and 2) and predict with numpy alone.

    import softlabel_model
    model = softlabel_model.load("digits.json")
    model.classes, model.features          # class names (output order), feature names (input order)
    q = model.predict_proba(X)             # (n, k) probabilities, rows sum to 1
    labels = model.predict(X)              # (n,) class names, argmax q (ties to the first class)

X is a 2-D array whose columns are the model's features in `model.features` order, or a pandas DataFrame
whose columns are matched by name (extra columns are ignored, missing ones are an error).

Prediction, exactly as `softlabel predict` (README, "Model files"):
    x'_j = (x_j - mean_j) * s_j,  s_j = 1 / std_j, or 0 when std_j == 0 (no standardisation when absent)
    z    = the layers applied in order: dense z = x W^T + b with W stored (outputs, inputs) row-major;
           relu, gelu (exact: z * (1 + erf(z / sqrt 2)) / 2), tanh elementwise; dropout is the identity
    q    = softmax(z / temperature), computed as exp(z - max z) / sum exp(z - max z)
This loader takes the float32 numbers the file holds (weights, biases, mean, std, 1/std rounded to float32
as softlabel rounds it, temperature, and the features rounded to float32 as softlabel reads them) and
computes the formula above in float64. softlabel computes in float32, whose rounding moves a probability
by up to ~1e-6 on models with large standardised inputs; the two agree to within that rounding (largest
difference seen 9.2e-7; Scripts/check_python_loader checks 1e-6). A float32 forward here would not agree
better: its sums run in another order than softlabel's kernels, so its rounding differs as much.

numpy is the only requirement. GELU needs erf, which numpy lacks: scipy.special.erf is used when scipy is
installed, else Python's math.erf element by element (exact, but slower on large hidden layers).

Command line: `python3 softlabel_model.py MODEL.json DATA.csv` prints `predict`'s CSV (id,p:<class>,...)
for a CSV with an `id` column (or none: rows numbered from 1) and the model's feature columns.
"""

import json
import math

import numpy as np

FORMAT = "softlabel-model"
VERSIONS = (1, 2)  # the format versions this loader understands; any other is refused
ACTIVATIONS = ("relu", "gelu", "tanh")


class ModelError(ValueError):
    """The file is not a softlabel model this loader can use; the message says why."""


def _erf(x):
    try:
        from scipy.special import erf
        return erf(x)
    except ImportError:
        return np.vectorize(math.erf, otypes=[np.float64])(x)


def _floats(value, what, shape):
    """A JSON list of numbers as float64 holding the exact float32 values softlabel uses."""
    if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value):
        raise ModelError(f"{what} is not a list of numbers")
    try:
        a = np.asarray(value, dtype=np.float64)
    except OverflowError:
        raise ModelError(f"{what} has a number beyond float range") from None
    if a.shape != shape:
        raise ModelError(f"{what} has shape {a.shape}, expected {shape}")
    # The file holds float32 values in shortest round-trip decimal form: rounding to float32 recovers them.
    with np.errstate(over="ignore"):
        a = a.astype(np.float32).astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise ModelError(f"{what} contains NaN or infinity")
    return a


def _int(value, what):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ModelError(f"{what} must be a positive integer, got {value!r}")
    return value


class Model:
    """A loaded model: `classes`, `features`, `predict_proba(X)`, `predict(X)`."""

    def __init__(self, doc, source="model"):
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            found = doc.get("format") if isinstance(doc, dict) else None
            raise ModelError(f"{source}: not a softlabel model (format is {found!r}, expected {FORMAT!r})")
        version = doc.get("version")
        if version not in VERSIONS or isinstance(version, bool):
            raise ModelError(f"{source}: model format version {version!r} is not one this loader reads {VERSIONS}")
        try:
            self._read(doc, version)
        except ModelError as e:
            raise ModelError(f"{source}: {e}") from None
        self.version = version

    def _read(self, doc, version):
        for key in ("classes", "features"):
            names = doc.get(key)
            if not isinstance(names, list) or not names or not all(isinstance(s, str) for s in names):
                raise ModelError(f"'{key}' must be a non-empty list of names")
            if len(set(names)) != len(names):
                raise ModelError(f"'{key}' has a duplicate name")
        self.classes = list(doc["classes"])
        self.features = list(doc["features"])
        d, k = len(self.features), len(self.classes)

        t = doc.get("temperature")
        if isinstance(t, bool) or not isinstance(t, (int, float)):
            raise ModelError(f"'temperature' must be a number, got {t!r}")
        with np.errstate(over="ignore"):
            t32 = np.float32(float(t)) if abs(t) < 1e300 else np.float32(np.inf)
        if not (np.isfinite(t32) and t32 >= np.finfo(np.float32).tiny):
            raise ModelError(f"'temperature' must be a positive normal float32 number, got {t!r}")
        self.temperature = float(t32)

        st = doc.get("standardization")
        if st is None:
            self.mean = self.scale = None
        else:
            if not isinstance(st, dict):
                raise ModelError("'standardization' must be an object with 'mean' and 'std'")
            self.mean = _floats(st.get("mean"), "standardization.mean", (d,))
            std = _floats(st.get("std"), "standardization.std", (d,)).astype(np.float32)
            if np.any(std < 0):
                raise ModelError("standardization.std has a negative value")
            # A std of 0 marks a feature that was constant in training: it maps to 0. Otherwise the scale is
            # 1/std rounded to float32, as softlabel computes it.
            with np.errstate(divide="ignore", over="ignore"):
                scale = np.where(std == 0, np.float32(0), np.float32(1) / np.where(std == 0, np.float32(1), std))
            if not np.all(np.isfinite(scale)):
                raise ModelError("standardization.std has a value too small to divide by in float32")
            self.scale = scale.astype(np.float64)

        if version == 1:
            # Version 1: dense layers only, under "network", with ReLU between consecutive dense layers.
            network = doc.get("network")
            dense = network.get("layers") if isinstance(network, dict) else None
            if not isinstance(dense, list):
                raise ModelError("version 1 needs 'network.layers', a list of dense layers")
            raw = []
            for i, layer in enumerate(dense):
                if not isinstance(layer, dict):
                    raise ModelError(f"network.layers[{i}] is not an object")
                raw.append(dict(layer, kind="dense"))
                if i < len(dense) - 1:
                    raw.append({"kind": "relu"})
        else:
            raw = doc.get("layers")
            if not isinstance(raw, list):
                raise ModelError("'layers' must be a list")

        self.layers = []  # ("dense", W (o, i), b (o)) | (activation name,) | ("dropout", rate)
        width = d
        for i, layer in enumerate(raw, 1):
            if not isinstance(layer, dict) or "kind" not in layer:
                raise ModelError(f"layer {i} is not an object with a 'kind'")
            kind = layer["kind"]
            if kind == "dense":
                n_in, n_out = _int(layer.get("inputs"), f"layer {i} inputs"), _int(layer.get("outputs"), f"layer {i} outputs")
                if n_in != width:
                    raise ModelError(f"layer {i} takes {n_in} inputs but receives {width}")
                w = _floats(layer.get("weight"), f"layer {i} weight", (n_in * n_out,)).reshape(n_out, n_in)  # (o, i)
                b = _floats(layer.get("bias"), f"layer {i} bias", (n_out,))
                self.layers.append(("dense", w, b))
                width = n_out
            elif kind in ACTIVATIONS:
                self.layers.append((kind,))
            elif kind == "dropout":
                rate = layer.get("rate")
                if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not (0 <= rate < 1):
                    raise ModelError(f"layer {i}: dropout rate must be in [0, 1), got {rate!r}")
                self.layers.append(("dropout", float(rate)))
            else:
                known = ", ".join(("dense", "dropout") + ACTIVATIONS)
                raise ModelError(f"layer {i} has unknown kind {kind!r} (known: {known})")
        if not self.layers or self.layers[-1][0] != "dense":
            raise ModelError("the last layer must be dense (it gives the logits)")
        if width != k:
            raise ModelError(f"the last layer has {width} outputs but the model names {k} classes")

    def _matrix(self, X):
        """X as a float64 (n, d) array in the model's feature order, each value rounded to float32 as softlabel
        reads it."""
        if hasattr(X, "columns") and hasattr(X, "loc"):  # a pandas DataFrame: match columns by name
            columns = [str(c) for c in X.columns]
            missing = [f for f in self.features if f not in columns]
            if missing:
                shown = ", ".join(repr(m) for m in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
                raise ValueError(f"the data lacks {len(missing)} of the model's {len(self.features)} feature columns: {shown}")
            if len(set(columns)) != len(columns):
                raise ValueError("the data has duplicate column names")
            by_name = {str(c): c for c in X.columns}
            X = X[[by_name[f] for f in self.features]].to_numpy(dtype=np.float64)
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.features):
            raise ValueError(f"X has shape {X.shape}; expected (rows, {len(self.features)}) with columns in the model's "
                             "feature order (model.features), or a pandas DataFrame with those column names")
        with np.errstate(over="ignore"):  # beyond float32: infinite, as softlabel would read it; refused below
            return X.astype(np.float32).astype(np.float64)

    def logits(self, X):
        """z / temperature for each row, (n, k)."""
        x = self._matrix(X)  # (n, d)
        if self.mean is not None:
            x = (x - self.mean) * self.scale
        for layer in self.layers:
            kind = layer[0]
            if kind == "dense":
                x = x @ layer[1].T + layer[2]  # (n, i) (i, o) + (o) -> (n, o)
            elif kind == "relu":
                x = np.maximum(x, 0.0)
            elif kind == "gelu":
                x = 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))
            elif kind == "tanh":
                x = np.tanh(x)
            # dropout: the identity at inference
        return x / self.temperature

    def predict_proba(self, X):
        """softmax(z / temperature) for each row, (n, k), columns in `classes` order."""
        with np.errstate(over="ignore", invalid="ignore"):  # non-finite rows are refused below
            z = self.logits(X)
            # Subtracting the row max keeps every exponent <= 0: no overflow, and the sum is at least 1.
            e = np.exp(z - z.max(axis=1, keepdims=True))
            q = e / e.sum(axis=1, keepdims=True)
        bad = np.flatnonzero(~np.all(np.isfinite(q), axis=1))
        if bad.size:
            raise ValueError(f"row {bad[0]} (0-based) has a non-finite prediction: a NaN or infinite feature, or one far "
                             "outside the training data")
        return q

    def predict(self, X):
        """The most probable class name of each row (ties go to the first class in `classes`)."""
        return np.asarray(self.classes, dtype=object)[np.argmax(self.predict_proba(X), axis=1)]


def load(path):
    """Read a model file; raises ModelError naming the file and the problem if it cannot be used."""
    with open(path, encoding="utf-8") as f:
        try:
            doc = json.load(f)
        except json.JSONDecodeError as e:
            raise ModelError(f"{path}: is not a JSON model file ({e})") from None
    return Model(doc, source=str(path))


def _main(argv):
    import csv
    import sys
    if len(argv) != 3:
        sys.exit("usage: softlabel_model.py MODEL.json DATA.csv")
    model = load(argv[1])
    with open(argv[2], newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], [r for r in rows[1:] if r]
    where = {name: j for j, name in enumerate(header)}
    missing = [name for name in model.features if name not in where]
    if missing:
        sys.exit(f"{argv[2]}: missing feature columns {missing[:5]}")
    X = np.array([[float(r[where[name]]) for name in model.features] for r in body])
    ids = [r[where["id"]] for r in body] if "id" in where else [str(i + 1) for i in range(len(body))]
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["id"] + ["p:" + c for c in model.classes])
    for i, q in zip(ids, model.predict_proba(X)):
        out.writerow([i] + [str(np.float32(v)) for v in q])


if __name__ == "__main__":
    import sys
    _main(sys.argv)
