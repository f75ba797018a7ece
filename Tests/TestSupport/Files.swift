import Foundation

// Files the tests of both targets use: the package's own files, fixtures, NPY files written from Swift.

/// Path of a file in the package, from this source file's location (Tests/TestSupport/Files.swift).
public func packagePath(_ relative: String) -> String {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.appendingPathComponent(relative).path
}

/// A file of the test corpus under Tests/Fixtures.
public func fixture(_ relative: String) -> String { packagePath("Tests/Fixtures/" + relative) }

/// A little-endian float32 C-order NPY file (format 1.0), as `np.save` writes it.
public func writeNPY(_ values: [Float], shape: [Int], to path: String) throws {
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(shape.map(String.init).joined(separator: ", "))\(shape.count == 1 ? "," : "")), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
    data += Data(header.utf8)
    values.withUnsafeBytes { data += Data($0) }
    try data.write(to: URL(fileURLWithPath: path))
}
