#!/usr/bin/env python3
"""Writes the input-format test fixtures under Tests/Fixtures/ (run from anywhere; needs numpy).

csv/good/  odd but valid CSV files: every one must train; CSVFixtureTests pins what each parses to.
csv/bad/   malformed CSV files: every one must fail train/eval/predict with its own one-line message.
npy/good/  NPY arrays numpy writes for the cases NPYReader supports (dtypes, orders, format versions).
npy/bad/   malformed or unsupported NPY files.
Every CSV file uses features a, b and classes x, y (where it has them), so one model fits them all.
"""
import gzip, os, shutil
import numpy as np

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures")

def write(rel, data):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))

H = "a,b,label:x,label:y\n"
good = {
    # RFC 4180: BOM, quoted header names, doubled quotes, comma and line break inside quotes, CRLF, no final newline.
    "rfc4180.csv": '\ufeff"id","a","b",label:x,"label:y"\r\n"r ""1"", first",1.5,+2,1,3\r\n"multi\r\nline",.5,3.,0,1',
    "numbers.csv": H + "+1.5,.5,0.25,0.75\n3.,1e+2,1,1\n-2E-3,-0.0,2,0\n 7 ,1.17549435e-38,0,5\n3.4028235e38,0x1p-3,0.5,0.5\n",
    "unicode-classes.csv": "id,a,b,label:chat noir,label:犬,label:🐕\nzoé,1,2,0.5,0.25,0.25\n名前,3,4,0,0,1\n",
    "blank-lines.csv": H + "1,2,0.5,0.5\n\n3,4,1,0\r\n\n\r\n\n",
    "crlf.csv": "a,b,label:x,label:y\r\n1,2,0.5,0.5\r\n3,4,1,0\r\n",
    "counts-and-offsum.csv": H + "1,2,40,11\n3,4,0.5,0.6\n5,6,0.3,0.3\n",
    "hard-labels.csv": "a,b,label\n1,2,x\n3,4,y\n5,6,x\n",
    "cr-only.csv": "a,b,label:x,label:y\r1,2,0.5,0.5\r3,4,1,0\r",
    "quoted-numbers.csv": '"a","b","label:x","label:y"\n"1.5","2","0.5","0.5"\n"3","4","1","0"\n',
    "columns-shuffled.csv": "label:y,b,id,label:x,a\n0.25,2,r1,0.75,1\n0.5,4,r2,0.5,3\n",
}
for name, text in good.items():
    write("csv/good/" + name, text)

bad = {
    "empty.csv": "",
    "only-blank-lines.csv": "\n\r\n  \n",
    "header-only.csv": H,
    "no-label-columns.csv": "a,b\n1,2\n",
    "no-feature-columns.csv": "id,label:x,label:y\nr1,0.5,0.5\n",
    "too-few-cells.csv": H + "1,2,0.5,0.5\n1,2,0.5\n",
    "too-many-cells.csv": H + "1,2,0.5,0.5,9\n",
    "feature-empty.csv": H + "1,,0.5,0.5\n",
    "feature-text.csv": H + "1,abc,0.5,0.5\n",
    "feature-nan.csv": H + "1,nan,0.5,0.5\n",
    "feature-inf.csv": H + "-inf,2,0.5,0.5\n",
    "feature-overflow.csv": H + "1,1e39,0.5,0.5\n",
    "label-negative.csv": H + "1,2,-0.5,1.5\n",
    "label-nan.csv": H + "1,2,NaN,1\n",
    "label-text.csv": H + "1,2,yes,no\n",
    "label-inf.csv": H + "1,2,inf,1\n",
    "label-sum-zero.csv": H + "1,2,0.5,0.5\n3,4,0,0\n",
    "duplicate-column.csv": "a,a,label:x,label:y\n1,2,0.5,0.5\n",
    "duplicate-class.csv": "a,b,label:x,label:x\n1,2,0.5,0.5\n",
    "one-class.csv": "a,b,label:x\n1,2,1\n",
    "one-class-hard.csv": "a,b,label\n1,2,x\n3,4,x\n",
    "empty-header-cell.csv": "a,,label:x,label:y\n1,2,0.5,0.5\n",
    "pandas-index.csv": ",a,b,label:x,label:y\n0,1,2,0.5,0.5\n",
    "empty-class-name.csv": "a,b,label:,label:y\n1,2,0.5,0.5\n",
    "hard-label-empty.csv": "a,b,label\n1,2,x\n3,4,\n",
    "both-label-forms.csv": "a,b,label,label:x,label:y\n1,2,x,0.5,0.5\n",
    "unterminated-quote.csv": H + '1,"2,0.5,0.5\n3,4,1,0\n',
    "stray-quote.csv": H + '1,2"5,0.5,0.5\n',
    "text-after-quote.csv": H + '1,"2"5,0.5,0.5\n',
    "binary.csv": bytes([0x89]) + b"PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
    "utf16-bom.csv": "\ufeff" .encode("utf-16-le") + (H + "1,2,0.5,0.5\n").encode("utf-16-le"),
    "utf16-no-bom.csv": (H + "1,2,0.5,0.5\n").encode("utf-16-le"),
    "latin1-id.csv": "id,a,b,label:x,label:y\ncafé,1,2,0.5,0.5\n".encode("latin-1"),
    "latin1-header.csv": "año,b,label:x,label:y\n1,2,0.5,0.5\n".encode("latin-1"),
    "nul-in-data.csv": (H + "1,2,0.5,0.5\n1,2\x00,0.5,0.5\n").encode(),
    "gzip.csv": gzip.compress((H + "1,2,0.5,0.5\n").encode(), mtime=0),
    "npy-as-csv.csv": b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }" + b" " * 46 + b"\n",
    # Control characters quoted in a message are escaped: the message stays one line.
    "feature-cr-inside.csv": H + "1,2\r3,0.5,0.5\n",
    "feature-vt.csv": H + "1,\x0b7,0.5,0.5\n",
    "header-escape.csv": '"a\x1b[31m",b,label:x,label:y\nred,2,0.5,0.5\n',
    "label-bidi-override.csv": H + "1,2,\u202e0.5,0.5\n",
}
for name, data in bad.items():
    write("csv/bad/" + name, data)

# NPY: features[i, j] = (3i + j) / 4 - 1.5 (exact in every float type), 4 rows x 3 features.
n, d = 4, 3
base = (np.arange(n * d).reshape(n, d) / 4 - 1.5)
ints = np.arange(n * d).reshape(n, d)
probs = np.array([[0.25, 0.75], [1, 0], [0.5, 0.5], [0, 1]], dtype=np.float32)
index = np.array([1, 0, 2, 1], dtype=np.int64)
g = "npy/good/"
def save(rel, arr, version=None):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if version is None:
        np.save(path, arr)
    else:
        with open(path, "wb") as f:
            np.lib.format.write_array(f, arr, version=version)
save(g + "x_f4.npy", base.astype("<f4"))
save(g + "x_f8.npy", base.astype("<f8"))
save(g + "x_f4_fortran.npy", np.asfortranarray(base.astype("<f4")))
save(g + "x_f8_fortran.npy", np.asfortranarray(base.astype("<f8")))
save(g + "x_f4_big_endian.npy", base.astype(">f4"))
save(g + "x_f4_v2.npy", base.astype("<f4"), version=(2, 0))
save(g + "x_f4_v3.npy", base.astype("<f4"), version=(3, 0))
for t in ["i1", "i2", "i4", "i8"]:
    save(g + f"x_{t}.npy", (ints - 4).astype("<" + t))
for t in ["u1", "u2", "u4", "u8"]:
    save(g + f"x_{t}.npy", ints.astype("<" + t))
save(g + "x_i4_big_endian.npy", (ints - 4).astype(">i4"))
save(g + "x_f2.npy", base.astype("<f2"))
save(g + "x_f2_big_endian.npy", base.astype(">f2"))
# float16 special values: the largest finite, the smallest subnormal, -0, a value that rounds in float16.
save(g + "x_f2_special.npy", np.array([[65504, -65504, 2**-24], [-0.0, 0.1, 1e-3]], dtype="<f2"))
save(g + "y_prob_f4.npy", probs)
save(g + "y_prob_f8.npy", probs.astype("<f8"))
save(g + "y_counts_i4.npy", np.array([[1, 3], [2, 0], [5, 5], [0, 7]], dtype="<i4"))
save(g + "y_onehot_bool.npy", np.array([[0, 1], [1, 0], [1, 0], [0, 1]], dtype=bool))
save(g + "y_index_i8.npy", index)
save(g + "y_index_u1.npy", index.astype("|u1"))
save(g + "y_index_f8.npy", index.astype("<f8"))
write(g + "classes3.txt", "cat\ndog\nchat noir\n")
write(g + "features3.txt", "\ufeffwidth\r\nheight\r\ndepth\r\n\r\n")

b = "npy/bad/"
save(b + "rows5_f4.npy", np.zeros((5, d), dtype="<f4"))
save(b + "x_complex.npy", base.astype(np.complex64))
save(b + "x_object.npy", np.array([[1, "a"], [2, "b"]], dtype=object))
save(b + "x_text.npy", np.array([["1", "2"], ["3", "4"]]))
save(b + "x_structured.npy", np.zeros(4, dtype=[("a", "<f4"), ("b", "<i4")]))
save(b + "x_3d.npy", np.zeros((2, 2, 2), dtype="<f4"))
save(b + "x_1d.npy", np.zeros(4, dtype="<f4"))
nan = base.astype("<f4"); nan[2, 1] = np.nan
half_inf = base.astype("<f2"); half_inf[3, 0] = np.inf
save(b + "x_f2_inf.npy", half_inf)
save(b + "x_nan.npy", nan)
inf = base.astype("<f8"); inf[1, 2] = 1e300
save(b + "x_f8_overflow.npy", inf)
save(b + "y_negative.npy", np.array([[0.5, 0.5], [1, 0], [-0.25, 1], [0, 1]], dtype="<f4"))
save(b + "y_nan.npy", np.array([[0.5, 0.5], [np.nan, 0], [0.5, 0.5], [0, 1]], dtype="<f4"))
save(b + "y_sum_zero.npy", np.array([[0.5, 0.5], [1, 0], [0, 0], [0, 1]], dtype="<f4"))
save(b + "y_one_class.npy", np.ones((4, 1), dtype="<f4"))
save(b + "y_index_negative.npy", np.array([1, 0, -1, 1], dtype="<i8"))
save(b + "y_index_fraction.npy", np.array([1, 0, 0.5, 1], dtype="<f8"))
save(b + "y_index_big.npy", np.array([1, 0, 7, 1], dtype="<i8"))
save(b + "y_rows3.npy", np.array([1, 0, 1], dtype="<i8"))
save(b + "y_3d.npy", np.zeros((4, 2, 1), dtype="<f4"))
good_bytes = open(os.path.join(root, g + "x_f4.npy"), "rb").read()
write(b + "bad_magic.npy", b"\x93NUMPZ" + good_bytes[6:])
write(b + "truncated.npy", good_bytes[:-5])
write(b + "extra_bytes.npy", good_bytes + b"\0" * 8)
write(b + "bad_version.npy", good_bytes[:6] + b"\x07\x00" + good_bytes[8:])
write(b + "truncated_header.npy", good_bytes[:30])
write(b + "classes_duplicate.txt", "cat\ndog\ncat\n")
write(g + "classes3_cr.txt", "cat\rdog\rchat noir\r")  # old Mac line ends
write(b + "classes_tsv.txt", "cat\t0\ndog\t1\nemu\t2\n")
write(b + "classes_vt.txt", "cat\ndo\x0bg\nemu\n")
# Hostile headers and values (issue 9): each was a trap or a huge allocation before.
save(b + "y_index_1e19_u8.npy", np.array([1, 0, 10**19, 1], dtype="<u8"))
save(b + "y_index_u8_max.npy", np.array([1, 0, 2**64 - 1, 1], dtype="<u8"))
save(b + "y_index_minus_1e19.npy", np.array([1, 0, -1e19, 1], dtype="<f8"))
save(b + "y_index_1e8.npy", np.array([1, 0, 10**8, 1], dtype="<i8"))
def npy(descr, shape, data=b"", major=1, pad_to=64):
    """An NPY file with any header text numpy would never write (bytes after the header as given)."""
    header = "{'descr': %s, 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    start = 10 if major == 1 else 12
    header += " " * ((-(start + len(header) + 1)) % pad_to) + "\n"
    size = len(header).to_bytes(2 if major == 1 else 4, "little")
    return b"\x93NUMPY" + bytes([major, 0]) + size + header.encode("latin-1") + data
write(b + "x_dtype_huge.npy", npy("'<f4611686018427387904'", "(4, 3)", bytes(48)))
write(b + "x_dtype_control.npy", npy("'<f\x0b4'", "(4, 3)", bytes(48)))
write(b + "x_shape_digits.npy", npy("'<f4'", "(99999999999999999999, 3)", bytes(48)))
write(b + "x_shape_overflow.npy", npy("'<f4'", "(4611686018427387904, 4611686018427387904)", bytes(48)))
write(b + "x_header_huge.npy", b"\x93NUMPY\x02\x00" + (1 << 20).to_bytes(4, "little") + b"{'descr': '<f4', ")
# Found by Scripts/fuzz (npy): bytes after the header's dict (numpy refuses them), and as teacher logits, huge
# equal logits whose softmax summed to 3 (m + log Σ absorbed the log Σ).
fuzz_header = "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }" + " " * 33 + "\xf0" * 24
write(b + "x_header_trailing.npy", b"\x93NUMPY\x01\x00" + len(fuzz_header).to_bytes(2, "little") + fuzz_header.encode("latin-1")
      + np.zeros((4, 3), dtype="<f4").tobytes())
save(g + "z_teacher_huge.npy", np.array([[-6e29, -6e29, -6e29], [-6e29, -3.7e19, 0], [-5.9e29, -6e29, -6e29],
                                          [0.75, 0.01, 0.65]], dtype="<f4"))
write(b + "classes_blank_line.txt", "cat\n\ndog\n")
write(b + "features2.txt", "width\nheight\n")
