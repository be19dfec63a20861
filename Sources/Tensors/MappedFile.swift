#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only and shared (`PROT_READ`, `MAP_SHARED`).
///
/// Shared read-only mappings let every worker process that loads the same model use the same
/// physical pages. The mapping lives until the last reference to this object goes away.
///
/// If another process truncates the file while it is mapped, touching the lost pages raises
/// SIGBUS; no user-space check can prevent that, so model files must not be rewritten in place.
package final class MappedFile: @unchecked Sendable {
    // @unchecked: immutable after init, and the mapping is read-only (a raw pointer is not Sendable).
    /// The path the file was opened with, for error messages.
    package let path: String
    /// Size of the file (and of the mapping) in bytes.
    package let size: Int
    private let base: UnsafeRawPointer?

    /// Opens and maps `path`. Empty files are allowed (nothing is mapped).
    package init(path: String) throws(SafetensorsError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, reason: "cannot open: \(Self.errnoText())") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .io(path: path, reason: "cannot stat: \(Self.errnoText())") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .io(path: path, reason: "not a regular file") }
        size = Int(info.st_size)
        if size == 0 {
            base = nil
            return
        }
        let mapped = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw .io(path: path, reason: "cannot mmap: \(Self.errnoText())")
        }
        base = UnsafeRawPointer(mapped)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }

    /// Calls `body` with the bytes `range` of the mapping; the range must lie within the file.
    package func withBytes<R>(_ range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        precondition(range.lowerBound >= 0 && range.upperBound <= size, "range outside the mapped file")
        guard let base else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return try body(UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count))
    }

    private static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}
