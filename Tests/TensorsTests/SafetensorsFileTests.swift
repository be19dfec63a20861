import Testing
@testable import Tensors

struct SafetensorsFileTests {
    private func open(_ bytes: [UInt8]) throws -> SafetensorsFile {
        try SafetensorsFile(path: TestFiles.write(bytes))
    }

    private func floatBytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt32($0))) } }
    }

    // MARK: valid files

    @Test func loadsF32InPlaceF16AndBF16Converted() throws {
        var writer = SafetensorsWriter()
        writer.add("w", shape: [2, 3], values: [1, 2, 3, 4, 5, -6])
        writer.add("h", shape: [2], values: [0.5, -1.25], dtype: .f16)
        writer.add("b", shape: [1, 2], values: [3.0, -0.15625], dtype: .bf16)
        writer.add("ids", dtype: .i64, shape: [2], bytes: [UInt8](repeating: 0, count: 16))
        let file = try open(writer.serialize())
        #expect(file.entries.map(\.name) == ["w", "h", "b", "ids"])
        let w = try file.tensor(named: "w")
        #expect(w.shape == [2, 3])
        #expect(w.values == [1, 2, 3, 4, 5, -6])
        #expect(w.isMapped)
        let h = try file.tensor(named: "h")
        #expect(h.values == [0.5, -1.25])
        #expect(!h.isMapped)
        #expect(try file.tensor(named: "b").values == [3.0, -0.15625])
        #expect(file.entry(named: "ids")?.dtype == .i64)
    }

    @Test func integerTensorsCanBePresentButNotLoaded() throws {
        var writer = SafetensorsWriter()
        writer.add("embeddings.position_ids", dtype: .i64, shape: [1, 4], bytes: [UInt8](repeating: 0, count: 32))
        let file = try open(writer.serialize())
        #expect(throws: SafetensorsError.unsupportedDType(path: file.path, tensor: "embeddings.position_ids", dtype: "I64")) {
            try file.tensor(named: "embeddings.position_ids")
        }
        #expect(throws: SafetensorsError.missingTensor(path: file.path, tensor: "nope")) {
            try file.tensor(named: "nope")
        }
    }

    @Test func misalignedF32IsCopied() throws {
        // A 13-byte header puts the data section at offset 21, not a multiple of 4.
        let header = #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        let padded = header + String(repeating: " ", count: (4 - (8 + header.utf8.count) % 4) + 1)
        let bytes = TestFiles.raw(header: padded, data: floatBytes([1.5, -2]))
        #expect((8 + padded.utf8.count) % 4 != 0)
        let tensor = try open(bytes).tensor(named: "x")
        #expect(tensor.values == [1.5, -2])
        #expect(!tensor.isMapped)
    }

    @Test func scalarsEmptyTensorsAndMetadataAreValid() throws {
        let header = #"{"__metadata__":{"format":"pt"},"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"e":{"dtype":"F32","shape":[0,5],"data_offsets":[4,4]}}"#
        let file = try open(TestFiles.raw(header: header, data: floatBytes([7])))
        #expect(try file.tensor(named: "s").values == [7])
        #expect(try file.tensor(named: "s").shape == [])
        #expect(try file.tensor(named: "e").count == 0)
        #expect(file.metadata["format"] == "pt")
    }

    @Test func headerOnlyFileWithNoTensors() throws {
        let file = try open(TestFiles.raw(header: "{}"))
        #expect(file.entries.isEmpty)
    }

    // MARK: hostile files

    private func expectInvalid(_ bytes: [UInt8], containing fragment: String,
                               sourceLocation: SourceLocation = #_sourceLocation) throws {
        let path = try TestFiles.write(bytes)
        do {
            _ = try SafetensorsFile(path: path)
            Issue.record("accepted a hostile file (expected \"\(fragment)\")", sourceLocation: sourceLocation)
        } catch {
            #expect(error.description.contains(fragment), "\(error.description)", sourceLocation: sourceLocation)
            #expect(error.description.hasPrefix(path), sourceLocation: sourceLocation)
        }
    }

    private static let one = #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#

    @Test func truncatedFiles() throws {
        try expectInvalid([], containing: "truncated")
        try expectInvalid([1, 0, 0], containing: "truncated")
        let full = TestFiles.raw(header: Self.one, data: floatBytes([1, 2]))
        try expectInvalid(Array(full.prefix(20)), containing: "truncated")          // inside the header
        try expectInvalid(Array(full.dropLast(1)), containing: "exceed the data section")  // inside the data
    }

    @Test func hugeHeaderLengths() throws {
        try expectInvalid(TestFiles.raw(header: Self.one, length: UInt64.max), containing: "exceeds the limit")
        try expectInvalid(TestFiles.raw(header: Self.one, length: 1 << 40), containing: "exceeds the limit")
        try expectInvalid(TestFiles.raw(header: Self.one, length: 50_000_000), containing: "truncated")
    }

    @Test(arguments: [
        ("not json at all", "not valid JSON"),
        (#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#, "not valid JSON"),
        (#"[1,2]"#, "top level is a array"),
        (#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, "duplicate key \"x\""),
        (#"{"x":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}"#, "unknown dtype \"Q4\""),
        (#"{"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, "not a non-negative integer"),
        (#"{"x":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}"#, "not a non-negative integer"),
        (#"{"x":{"dtype":"F32","shape":[2e0],"data_offsets":[0,8]}}"#, "not a non-negative integer"),
        (#"{"x":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}"#, "not a non-negative integer"),
        (#"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, "needs 12"),
        (#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,9]}}"#, "exceed the data section"),
        (#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, "end before they begin"),
        (#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}"#, "non-negative integers"),
        (#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0]}}"#, "data_offsets"),
        (#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551616]}}"#, "fit in 64 bits"),
        (#"{"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, "overflows"),
        (#"{"x":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]}}"#, "overflows"),
        (#"{"x":{"dtype":"F32","shape":[2]}}"#, "data_offsets"),
        (#"{"x":{"shape":[2],"data_offsets":[0,8]}}"#, "dtype"),
        (#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}}"#, "unexpected field"),
        (#"{"x":[1]}"#, "expected an object"),
        (#"{"__metadata__":{"k":1},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, "__metadata__"),
        (#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, "overlaps"),
        (#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, "belong to no tensor"),
        (#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, "tensors cover 4"),
        (#"{"x":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},"y":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, "overlaps"),
    ])
    func hostileHeaders(header: String, fragment: String) throws {
        try expectInvalid(TestFiles.raw(header: header, data: floatBytes([1, 2])), containing: fragment)
    }

    @Test func notARegularFile() throws {
        let path = try TestFiles.write([])
        let directory = String(path.dropLast("/t.safetensors".count))
        #expect(throws: SafetensorsError.io(path: directory, reason: "not a regular file")) {
            try SafetensorsFile(path: directory)
        }
        #expect(throws: SafetensorsError.self) { try SafetensorsFile(path: directory + "/missing") }
    }
}
