import CSystemShims

#if canImport(Glibc)
import Glibc
#endif

/// The C standard streams, through the C shim: Swift 6 counts Glibc's `stdin`, `stdout` and
/// `stderr` globals as shared mutable state, though they are set before `main`, never
/// reassigned, and stdio locks each stream itself.
enum StandardStreams {
    static var input: UnsafeMutablePointer<FILE> { fs_stdin() }
    static var output: UnsafeMutablePointer<FILE> { fs_stdout() }
    static var error: UnsafeMutablePointer<FILE> { fs_stderr() }
}
