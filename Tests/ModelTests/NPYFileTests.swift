import Foundation
import Testing
@testable import Model

struct NPYFileTests {
    /// An NPY file as NumPy writes it: header padded so that data starts at a multiple of 64.
    private func npy(header: String, data: [UInt8], version: UInt8 = 1) -> [UInt8] {
        let prefix = version == 1 ? 10 : 12
        var text = header
        while (prefix + text.utf8.count + 1) % 64 != 0 { text += " " }
        text += "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
        let n = text.utf8.count
        out += version == 1 ? [UInt8(n & 0xFF), UInt8(n >> 8)] : [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), 0, 0]
        return out + Array(text.utf8) + data
    }

    private func floats(_ values: [Float]) -> [UInt8] {
        values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt32($0))) } }
    }

    @Test func readsVersions1And2() throws {
        let values: [Float] = [1, -2.5, 3, 0.125, 5, 6]
        for version: UInt8 in [1, 2, 3] {
            let bytes = npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data: floats(values), version: version)
            let array = try NPYFile.decodeFloat32(bytes)
            #expect(array.shape == [2, 3])
            #expect(array.values == values)
        }
        let scalar = try NPYFile.decodeFloat32(npy(header: "{'shape': (), 'fortran_order': False, 'descr': '<f4'}", data: floats([7])))
        #expect(scalar.shape == [] && scalar.values == [7])
        let vector = try NPYFile.decodeFloat32(npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data: floats([1, 2])))
        #expect(vector.shape == [2])
    }

    @Test func readsFilesWithinTheLimit() throws {
        let dir = try Fixtures.temporaryDirectory("npy")
        let path = dir + "/a.npy"
        let bytes = npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", data: floats([4]))
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(try NPYFile.readFloat32(path: path).values == [4])
        #expect(throws: NPYError.tooLarge(path: path, size: bytes.count, limit: 10)) { try NPYFile.readFloat32(path: path, maxBytes: 10) }
        #expect(throws: NPYError.self) { try NPYFile.readFloat32(path: dir + "/missing.npy") }
        #expect(throws: NPYError.self) { try NPYFile.readFloat32(path: dir) }
    }

    @Test(arguments: [
        ("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", "dtype '<f8'"),
        ("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", "dtype '>f4'"),
        ("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", "Fortran order"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", "needs 3 × 4 bytes"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", "non-negative integer"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,), }", "expected ')'"),
        ("{'descr': '<f4', 'fortran_order': False}", "needs descr, fortran_order and shape"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", "unexpected or repeated key 'x'"),
        ("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", "repeated key 'descr'"),
        ("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", "expected True or False"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", "overflows"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", "too large"),
        ("['descr']", "expected '{'"),
    ])
    func rejectsBadHeaders(header: String, fragment: String) {
        do {
            _ = try NPYFile.decodeFloat32(npy(header: header, data: floats([1, 2])))
            Issue.record("accepted \(header)")
        } catch {
            #expect(error.description.contains(fragment), "\(error.description)")
        }
    }

    @Test func rejectsBadFraming() {
        let good = npy(header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data: floats([1, 2]))
        var badMagic = good
        badMagic[1] = 0
        var badVersion = good
        badVersion[6] = 9
        var hugeHeader = good
        hugeHeader[8] = 0xFF
        hugeHeader[9] = 0xFF
        for bytes in [[], Array(good.prefix(9)), badMagic, badVersion, hugeHeader, Array(good.dropLast()), good + [0]] {
            #expect(throws: NPYError.self) { try NPYFile.decodeFloat32(bytes) }
        }
    }
}
