"""The ONNX bytes `softlabel export` must write for Tests/Fixtures/models/readme_example.json, built with
onnx's own helpers and serialised by the real protobuf library (needs `pip install onnx`).

    python3 Scripts/make_onnx_fixture.py > Tests/Fixtures/models/readme_example.onnx.hex

The folded numbers are worked out here by hand from the model file (they are exact in float32):
    standardisation: mean (7, 3), std (2, 0), so scale s = (0.5, 0) (std 0: a constant feature, scale 0)
    dense1 W = [[1, -2], [-1, 0.5]], b = (0.5, 0.25)
        W' = W * s (column j times s_j) = [[0.5, -0], [-0.5, 0]]
        b' = b - W (s * mean) = (0.5 - 3.5, 0.25 + 3.5) = (-3, 3.75)
    dense2 W = [[1, 0.5], [-1, 1]], b = (0, 1), temperature 2: W / 2 = [[0.5, 0.25], [-0.5, 0.5]], b / 2 = (0, 0.5)
The dropout layer is the identity at inference and has no node. SoftLabelTests' ONNXExportTests compares
the exporter's bytes with this file's.
"""

from onnx import TensorProto, helper

VERSION = "0.3.0"  # the producer version the test passes


def model():
    nodes = [
        helper.make_node("Gemm", ["features", "dense1.weight", "dense1.bias"], ["dense1"], name="dense1", transB=1),
        helper.make_node("Relu", ["dense1"], ["relu2"], name="relu2"),
        helper.make_node("Gemm", ["relu2", "dense2.weight", "dense2.bias"], ["dense2"], name="dense2", transB=1),
        helper.make_node("Softmax", ["dense2"], ["probabilities"], name="softmax", axis=-1),
    ]
    initializers = [
        helper.make_tensor("dense1.weight", TensorProto.FLOAT, [2, 2], [0.5, -0.0, -0.5, 0.0]),
        helper.make_tensor("dense1.bias", TensorProto.FLOAT, [2], [-3.0, 3.75]),
        helper.make_tensor("dense2.weight", TensorProto.FLOAT, [2, 2], [0.5, 0.25, -0.5, 0.5]),
        helper.make_tensor("dense2.bias", TensorProto.FLOAT, [2], [0.0, 0.5]),
    ]
    graph = helper.make_graph(
        nodes, "softlabel",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 2])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 2])],
        initializer=initializers,
        doc_string="probabilities = softmax(network(standardise(features)) / T), as softlabel predict")
    m = helper.make_model(
        graph, ir_version=7, opset_imports=[helper.make_opsetid("", 13)], producer_name="softlabel",
        producer_version=VERSION,
        doc_string="A softmax classifier trained by softlabel. Input 'features': (N, 2) raw features in the order of "
                   "the metadata 'features' (standardisation is inside the graph). Output 'probabilities': (N, 2) in the "
                   "order of the metadata 'classes'.")
    for key, value in (("classes", '["cat", "dog"]'), ("features", '["length", "weight"]'), ("temperature", "2.0")):
        entry = m.metadata_props.add()
        entry.key, entry.value = key, value
    return m


if __name__ == "__main__":
    data = model().SerializeToString()
    # 32 bytes per line, so the pinned file diffs readably.
    for i in range(0, len(data), 32):
        print(data[i:i + 32].hex())
