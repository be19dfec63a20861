import Testing
@testable import Tensors

struct MappedFileTests {
    @Test func mapsTheWholeFile() throws {
        let path = try TestFiles.write([1, 2, 3, 4, 5])
        let file = try MappedFile(path: path)
        #expect(file.size == 5)
        #expect(file.withBytes(1..<4) { Array($0) } == [2, 3, 4])
    }

    @Test func emptyFileMapsNothing() throws {
        let file = try MappedFile(path: TestFiles.write([]))
        #expect(file.size == 0)
        #expect(file.withBytes(0..<0) { $0.count } == 0)
    }

    @Test func missingFileIsAnIOError() {
        #expect(throws: SafetensorsError.self) { try MappedFile(path: "/nonexistent/file") }
    }
}
