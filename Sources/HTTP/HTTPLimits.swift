/// Bounds the parser enforces; every one turns hostile input into a typed error.
public struct HTTPLimits: Sendable, Hashable {
    /// Request line plus header section, including line endings (default 16 KiB). Over it:
    /// 414 if the request line alone does not fit, else 431.
    public var maxHeaderBytes: Int
    /// Header fields per request (default 100); over it: 431. Also bounds trailer fields.
    public var maxHeaderCount: Int
    /// Body bytes after de-chunking (default 20 MiB). A declared `Content-Length` over it
    /// is refused with 413 before any body byte is read.
    public var maxBodyBytes: Int
    /// A chunk-size line including extensions (default 4 KiB).
    public var maxChunkLineBytes: Int
    /// Methods that must frame their body (`Content-Length` or chunked); without either
    /// they get 411 instead of being read as an empty body. Default POST, PUT, PATCH.
    public var methodsRequiringLength: Set<String>

    /// Creates limits; the defaults suit the inference service.
    public init(maxHeaderBytes: Int = 16 * 1024, maxHeaderCount: Int = 100,
                maxBodyBytes: Int = 20 * 1024 * 1024, maxChunkLineBytes: Int = 4096,
                methodsRequiringLength: Set<String> = ["POST", "PUT", "PATCH"]) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxBodyBytes = maxBodyBytes
        self.maxChunkLineBytes = maxChunkLineBytes
        self.methodsRequiringLength = methodsRequiringLength
    }
}
