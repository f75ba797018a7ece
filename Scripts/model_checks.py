"""The checks behind Scripts/check_python_loader and Scripts/check_onnx (run those; they skip politely when
numpy, onnx or onnxruntime is missing).

    python3 Scripts/model_checks.py loader   # softlabel_model.py against `softlabel predict`, to 1e-6
    python3 Scripts/model_checks.py onnx     # `softlabel export` run by onnxruntime against `predict`, to 1e-5

Both train the same models with the release binary (.build/release/softlabel) into a temporary folder:
linear, hidden layers with relu / gelu (+ dropout) / tanh, a 64-wide layer, no standardisation, calibrated
(linear and network), and a synthetic model with a constant feature and a feature far from 0 (mean 1000,
std 1); the loader check also reads the first release's model files in Tests/Fixtures/models/ and
compares with the predictions that release printed. Every difference is the largest absolute difference
between probabilities over all rows and classes; any over the tolerance fails the check (exit 1).
"""

import csv
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / ".build" / "release" / "softlabel"
DIGITS_TRAIN, DIGITS_TEST = ROOT / "Data/digits/train_votes.csv", ROOT / "Data/digits/test_votes.csv"
CATDOG_TRAIN, CATDOG_TEST = ROOT / "Data/catdog/train.csv", ROOT / "Data/catdog/test.csv"
FIXTURES = ROOT / "Tests/Fixtures/models"
FIXTURE_DATA = {"v1_catdog_calibrated": CATDOG_TEST}  # the others were predicted on DIGITS_TEST

sys.path.insert(0, str(Path(__file__).resolve().parent))
import softlabel_model  # noqa: E402


def softlabel(*args):
    """Runs the binary; a failure stops the check with its stderr."""
    r = subprocess.run([str(BINARY), *map(str, args)], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"softlabel {' '.join(map(str, args))} failed ({r.returncode}):\n{r.stderr}")
    return r.stdout


def read_csv(path):
    """(header, rows) of a CSV file."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.reader(f) if r]
    return rows[0], rows[1:]


def features(path, names):
    """The named columns of a CSV file as float64 (n, d), in the order of `names`."""
    header, rows = read_csv(path)
    cols = [header.index(n) for n in names]
    return np.array([[float(r[c]) for c in cols] for r in rows], dtype=np.float64)


def predictions(text, classes):
    """`predict`'s CSV output as (ids, (n, k) probabilities), checking the header."""
    rows = [r for r in csv.reader(io.StringIO(text)) if r]
    assert rows[0] == ["id"] + ["p:" + c for c in classes], f"unexpected predict header {rows[0][:4]}..."
    return [r[0] for r in rows[1:]], np.array([[float(v) for v in r[1:]] for r in rows[1:]], dtype=np.float64)


def make_offset_data(folder):
    """A synthetic 3-class set: 'big' has mean 1000 and std 1, 'const' is constant (std 0), 'a' and 'b' are
    standard normal; soft labels from a softmax of a linear function. Returns (train, test) paths."""
    rng = np.random.default_rng(12)
    paths = []
    for name, n in (("offset_train.csv", 300), ("offset_test.csv", 100)):
        a, b = rng.normal(size=n), rng.normal(size=n)
        big = 1000 + rng.normal(size=n)
        z = np.stack([a + (big - 1000), b - a, -(big - 1000)], axis=1)
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        path = Path(folder) / name
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "a", "big", "const", "b", "label:x", "label:y", "label:z"])
            for i in range(n):
                w.writerow([f"r{i}", f"{a[i]:.6f}", f"{big[i]:.4f}", "7.5", f"{b[i]:.6f}"] + [f"{v:.6f}" for v in p[i]])
        paths.append(path)
    return paths


def trained_models(folder):
    """[(name, model path, test data path, what it covers)], trained with the release binary into `folder`."""
    f = Path(folder)
    quick = ["--epochs", "8", "--quiet"]
    runs = [
        ("linear", DIGITS_TRAIN, DIGITS_TEST, ["--quiet"], "L-BFGS linear; 3 constant pixels (std 0)"),
        ("relu", DIGITS_TRAIN, DIGITS_TEST, ["--hidden", "32"] + quick, "hidden 32, relu"),
        ("relu64", DIGITS_TRAIN, DIGITS_TEST, ["--hidden", "64,16"] + quick, "hidden 64,16 (the Wᵀ forward kernel)"),
        ("gelu_dropout", DIGITS_TRAIN, DIGITS_TEST, ["--hidden", "16,8", "--activation", "gelu", "--dropout", "0.2"] + quick,
         "hidden 16,8, gelu, dropout 0.2"),
        ("tanh", DIGITS_TRAIN, DIGITS_TEST, ["--hidden", "16", "--activation", "tanh"] + quick, "hidden 16, tanh"),
        ("raw", DIGITS_TRAIN, DIGITS_TEST, ["--hidden", "8", "--no-standardize"] + quick, "no standardisation"),
        ("catdog", CATDOG_TRAIN, CATDOG_TEST, ["--quiet"], "linear, catdog"),
    ]
    out = []
    for name, train, test, args, what in runs:
        path = f / f"{name}.json"
        softlabel("train", train, "--model", path, *args)
        out.append((name, path, test, what))
    # Calibrated: a temperature fitted on the test file (it only has to differ from 1 here).
    for base, test in (("catdog", CATDOG_TEST), ("gelu_dropout", DIGITS_TEST)):
        path = f / f"{base}_calibrated.json"
        softlabel("calibrate", "--model", f / f"{base}.json", test, "--out", path)
        t = json.loads(path.read_text())["temperature"]
        out.append((f"{base}_calibrated", path, test, f"calibrated, T = {t:.6g}"))
    train, test = make_offset_data(folder)
    path = f / "offset.json"
    softlabel("train", train, "--model", path, "--hidden", "4", *quick)
    out.append(("offset", path, test, "a constant feature and one with mean 1000, std 1"))
    return out


def report(rows, tolerance):
    """Prints the table of results; returns whether every difference is within `tolerance`."""
    w = max(len(r[0]) for r in rows)
    print(f"{'model'.ljust(w)}  {'rows':>5}  {'max |diff|':>10}  result  covers")
    ok = True
    for name, n, diff, what in rows:
        good = diff <= tolerance
        ok &= good
        print(f"{name.ljust(w)}  {n:5d}  {diff:10.3e}  {'ok' if good else 'FAIL':6}  {what}")
    worst = max(r[2] for r in rows)
    print(f"\nlargest difference {worst:.3e} (tolerance {tolerance:g}): {'pass' if ok else 'FAIL'}")
    return ok


def expect_error(what, fn, fragment):
    """Runs fn, which must raise an error whose message contains `fragment`."""
    try:
        fn()
    except (ValueError, KeyError) as e:
        if fragment not in str(e):
            sys.exit(f"{what}: error {e!r} does not mention {fragment!r}")
        return str(e)
    sys.exit(f"{what}: accepted, expected an error")


def check_loader_refusals(model_path):
    """The loader refuses versions and layer kinds it does not know, and ignores keys it does not know."""
    doc = json.loads(Path(model_path).read_text())
    doc["interrupted"] = {"epoch": 3}  # an unknown key: ignored
    doc["crowdTargets"] = "anything"
    softlabel_model.Model(doc)
    for version in (0, 3, "2", None):
        expect_error(f"version {version!r}", lambda: softlabel_model.Model(dict(doc, version=version)), "version")
    layers = [dict(layer) for layer in doc["layers"]]
    layers.insert(1, {"kind": "swish"})
    expect_error("unknown kind", lambda: softlabel_model.Model(dict(doc, layers=layers)), "unknown kind 'swish'")
    bad = [dict(layer) for layer in doc["layers"]]
    bad[0]["weight"] = bad[0]["weight"][:-1]
    expect_error("short weight", lambda: softlabel_model.Model(dict(doc, layers=bad)), "weight has shape")
    expect_error("format", lambda: softlabel_model.Model(dict(doc, format="other")), "not a softlabel model")
    print("refused: versions 0, 3, '2' and none; layer kind 'swish'; a short weight list; another format. "
          "Ignored: unknown keys 'interrupted', 'crowdTargets'.")


def check_dataframe(model, test_path, expected):
    """A DataFrame with shuffled and extra columns predicts the same; a missing column is named."""
    try:
        import pandas as pd
    except ImportError:
        print("pandas not installed: DataFrame input not checked")
        return
    header, rows = read_csv(test_path)
    df = pd.DataFrame([[float(v) if h not in ("id",) and not h.startswith("label") else v for h, v in zip(header, r)]
                       for r in rows], columns=header)
    df = df[list(reversed(df.columns))]  # another column order, label columns as extras
    diff = np.abs(model.predict_proba(df) - expected).max()
    if diff > 1e-6:
        sys.exit(f"DataFrame input differs from predict by {diff:.3e}")
    message = expect_error("missing column", lambda: model.predict_proba(df.drop(columns=[model.features[5]])),
                           repr(model.features[5]))
    print(f"pandas DataFrame (columns reversed, label columns extra): max |diff| {diff:.3e}; "
          f"without a column: \"{message}\"")


def loader_check():
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, path, test, what in trained_models(folder):
            model = softlabel_model.load(path)
            _, expected = predictions(softlabel("predict", "--model", path, test), model.classes)
            got = model.predict_proba(features(test, model.features))
            rows.append((name, len(got), float(np.abs(got - expected).max()), what))
            if name == "gelu_dropout":
                check_loader_refusals(path)
                labels = model.predict(features(test, model.features))
                assert list(labels) == [model.classes[j] for j in expected.argmax(1)], "predict() disagrees with argmax"
                check_dataframe(model, test, expected)
        for fixture in sorted(FIXTURES.glob("v1_*.json")):
            model = softlabel_model.load(fixture)
            assert model.version == 1
            test = FIXTURE_DATA.get(fixture.stem, DIGITS_TEST)
            _, expected = predictions(fixture.with_suffix("").with_suffix(".pred.csv").read_text(), model.classes)
            got = model.predict_proba(features(test, model.features))
            rows.append((fixture.stem, len(got), float(np.abs(got - expected).max()),
                         "format 1, against the first release's predictions"))
        readme = softlabel_model.load(FIXTURES / "readme_example.json")
        q = readme.predict_proba(np.array([[10.0, 5.0]]))[0]
        e = np.exp(-1.5)
        hand = np.array([1 / (1 + e), e / (1 + e)])  # the README's worked example
        diff = float(np.abs(q - hand).max())
        print(f"README example: x = (10, 5) -> q = ({q[0]:.10f}, {q[1]:.10f}), hand computation differs by {diff:.1e}")
        if diff > 1e-12:
            sys.exit("the loader disagrees with the README's worked example")
    print()
    return report(rows, 1e-6)


def onnx_check():
    import onnx
    import onnxruntime as ort
    rows, notes = [], []
    with tempfile.TemporaryDirectory() as folder:
        cases = trained_models(folder)
        cases += [(p.stem, p, FIXTURE_DATA.get(p.stem, DIGITS_TEST), "format 1 file") for p in sorted(FIXTURES.glob("v1_*.json"))]
        for name, path, test, what in cases:
            doc = json.loads(Path(path).read_text())
            onnx_path = Path(folder) / f"{name}.onnx"
            summary = softlabel("export", "--model", path, "--onnx", onnx_path)
            m = onnx.load(str(onnx_path))
            onnx.checker.check_model(m, full_check=True)
            assert m.opset_import[0].version == 13 and all(o.domain in ("", "ai.onnx") for o in m.opset_import)
            assert all(n.domain == "" for n in m.graph.node), "a node outside the core operator set"
            meta = {p.key: p.value for p in m.metadata_props}
            assert json.loads(meta["classes"]) == doc["classes"] and json.loads(meta["features"]) == doc["features"]
            assert m.producer_name == "softlabel"
            session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
            assert [i.name for i in session.get_inputs()] == ["features"]
            assert [o.name for o in session.get_outputs()] == ["probabilities"]
            _, expected = predictions(softlabel("predict", "--model", path, test), doc["classes"])
            x = features(test, doc["features"]).astype(np.float32)
            got = session.run(None, {"features": x})[0].astype(np.float64)
            one = session.run(None, {"features": x[:1]})[0]  # the batch dimension is dynamic
            assert one.shape == (1, len(doc["classes"]))
            if name == "offset":
                folded = fully_folded(m)
                diff = float(np.abs(ort.InferenceSession(folded.SerializeToString(), providers=["CPUExecutionProvider"])
                                    .run(None, {"features": x})[0] - expected).max())
                notes.append(f"offset with its mean folded into the Gemm's bias too (no Sub node): max |diff| {diff:.3e} "
                             f"(the Sub node keeps it at {np.abs(got - expected).max():.3e})")
            placement = next(line for line in summary.splitlines() if line.startswith("standardisation"))
            placement = placement.split(": ", 1)[1].split(" (")[0]
            ops = sorted({n.op_type for n in m.graph.node})
            rows.append((name, len(got), float(np.abs(got - expected).max()), f"{what}; {', '.join(ops)}; std {placement}"))
    print(f"every file passed onnx.checker.check_model(full_check=True) (onnx {onnx.__version__}), "
          f"opset 13 core operators only, metadata classes and features match; onnxruntime {ort.__version__}\n")
    ok = report(rows, 1e-5)
    for note in notes:
        print(note)
    return ok


def fully_folded(m):
    """The exported model with its 'subtract_mean' Sub node folded into the first Gemm's bias as well:
    b' = b - W' mean, computed in float64 (what the exporter avoids for features far from 0)."""
    import onnx
    from onnx import numpy_helper
    g = onnx.ModelProto()
    g.CopyFrom(m)
    init = {t.name: t for t in g.graph.initializer}
    mean = numpy_helper.to_array(init["standardization.mean"]).astype(np.float64)
    w = numpy_helper.to_array(init["dense1.weight"]).astype(np.float64)
    b = numpy_helper.to_array(init["dense1.bias"]).astype(np.float64)
    init["dense1.bias"].CopyFrom(numpy_helper.from_array((b - w @ mean).astype(np.float32), "dense1.bias"))
    sub = next(n for n in g.graph.node if n.op_type == "Sub")
    g.graph.node.remove(sub)
    for n in g.graph.node:
        n.input[:] = [sub.input[0] if i == sub.output[0] else i for i in n.input]
    return g


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("loader", "onnx"):
        sys.exit("usage: model_checks.py loader|onnx")
    if not BINARY.exists():
        sys.exit(f"{BINARY} not found: build it first with 'swift build -c release'")
    os.chdir(ROOT)
    sys.exit(0 if (loader_check() if sys.argv[1] == "loader" else onnx_check()) else 1)
