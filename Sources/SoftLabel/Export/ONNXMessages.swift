/// The subset of ONNX's protobuf messages the exporter writes, with the field numbers of `onnx/onnx.proto`
/// (proto2 syntax: fields that are set are written even when they hold the default; `TensorProto.float_data`
/// is declared `[packed = true]`, `TensorProto.dims` is not, so each dim is a field of its own).
///
/// Each `encode` writes its fields in field-number order, as protobuf's serialisers do.
enum ONNX {
    /// TensorProto.DataType.FLOAT, the only element type written.
    static let float: Int64 = 1

    /// A float32 tensor (TensorProto): dims (1, each a field), data_type (2), float_data (4, packed), name (8).
    struct Tensor: Equatable {
        var name: String
        var dims: [Int]     // [] for a scalar
        var values: [Float] // row-major, as many as the dims' product

        func encode(_ w: inout ProtobufWriter) {
            for d in dims { w.int64(1, Int64(d)) }
            w.int64(2, ONNX.float)
            if !values.isEmpty { w.packedFloats(4, values) }
            w.string(8, name)
        }
    }

    /// AttributeProto: name (1), f (2) or i (3), type (20: FLOAT = 1, INT = 2).
    struct Attribute: Equatable {
        enum Value: Equatable {
            case int(Int64)
            case float(Float)
        }
        var name: String
        var value: Value

        func encode(_ w: inout ProtobufWriter) {
            w.string(1, name)
            switch value {
            case .float(let f):
                w.float(2, f)
                w.int64(20, 1)
            case .int(let i):
                w.int64(3, i)
                w.int64(20, 2)
            }
        }
    }

    /// NodeProto: input (1), output (2), name (3), op_type (4), attribute (5); the domain is left out, which
    /// means the default ONNX operator set.
    struct Node: Equatable {
        var opType: String
        var inputs: [String]
        var outputs: [String]
        var name: String
        var attributes: [Attribute] = []

        func encode(_ w: inout ProtobufWriter) {
            for i in inputs { w.string(1, i) }
            for o in outputs { w.string(2, o) }
            w.string(3, name)
            w.string(4, opType)
            for a in attributes { w.message(5) { a.encode(&$0) } }
        }
    }

    /// One dimension of a declared shape: a number, or a name for a size known only at run time.
    enum Dimension: Equatable {
        case fixed(Int)
        case named(String)
    }

    /// ValueInfoProto of a float tensor: name (1), type (2) = TypeProto { tensor_type (1) = { elem_type (1),
    /// shape (2) = TensorShapeProto { dim (1) = { dim_value (1) | dim_param (2) } } } }.
    struct ValueInfo: Equatable {
        var name: String
        var shape: [Dimension]

        func encode(_ w: inout ProtobufWriter) {
            w.string(1, name)
            w.message(2) { type in
                type.message(1) { tensor in
                    tensor.int64(1, ONNX.float)
                    tensor.message(2) { shape in
                        for d in self.shape {
                            shape.message(1) { dim in
                                switch d {
                                case .fixed(let n): dim.int64(1, Int64(n))
                                case .named(let s): dim.string(2, s)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// GraphProto: node (1), name (2), initializer (5), doc_string (10), input (11), output (12).
    struct Graph: Equatable {
        var nodes: [Node]
        var name: String
        var initializers: [Tensor]
        var docString: String
        var inputs: [ValueInfo]
        var outputs: [ValueInfo]

        func encode(_ w: inout ProtobufWriter) {
            for n in nodes { w.message(1) { n.encode(&$0) } }
            w.string(2, name)
            for t in initializers { w.message(5) { t.encode(&$0) } }
            w.string(10, docString)
            for i in inputs { w.message(11) { i.encode(&$0) } }
            for o in outputs { w.message(12) { o.encode(&$0) } }
        }
    }

    /// ModelProto: ir_version (1), producer_name (2), producer_version (3), doc_string (6), graph (7),
    /// opset_import (8) = OperatorSetIdProto { domain (1), version (2) }, metadata_props (14) =
    /// StringStringEntryProto { key (1), value (2) }.
    struct Model: Equatable {
        var irVersion: Int64
        var opset: Int64
        var producerName: String
        var producerVersion: String
        var docString: String
        var graph: Graph
        var metadata: [(key: String, value: String)]

        static func == (a: Model, b: Model) -> Bool {
            a.irVersion == b.irVersion && a.opset == b.opset && a.producerName == b.producerName
                && a.producerVersion == b.producerVersion && a.docString == b.docString && a.graph == b.graph
                && a.metadata.map(\.key) == b.metadata.map(\.key) && a.metadata.map(\.value) == b.metadata.map(\.value)
        }

        /// The serialised model: the bytes of an .onnx file.
        func encoded() -> [UInt8] {
            var w = ProtobufWriter()
            w.int64(1, irVersion)
            w.string(2, producerName)
            w.string(3, producerVersion)
            w.string(6, docString)
            w.message(7) { graph.encode(&$0) }
            w.message(8) { op in
                op.string(1, "")  // "" is the default ONNX operator set (ai.onnx)
                op.int64(2, opset)
            }
            for (k, v) in metadata {
                w.message(14) { entry in
                    entry.string(1, k)
                    entry.string(2, v)
                }
            }
            return w.bytes
        }
    }
}
