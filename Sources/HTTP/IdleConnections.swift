/// The connections with no request in progress, longest idle first: at the connection limit
/// the first is closed to admit a new client (as nginx reuses idle keep-alive connections),
/// so idle sockets can never lock out a health check.
///
/// An intrusive doubly linked list through `HTTPConnection.idlePrevious/idleNext`: append,
/// remove and take-first are O(1), which matters with thousands of connections.
struct IdleConnections {
    private(set) var first: HTTPConnection?
    private var last: HTTPConnection?
    private(set) var count = 0

    /// Adds `connection` as the most recently idle (no-op if already listed).
    mutating func append(_ connection: HTTPConnection) {
        guard !connection.isListedIdle else { return }
        connection.isListedIdle = true
        connection.idlePrevious = last
        connection.idleNext = nil
        if let last { last.idleNext = connection } else { first = connection }
        last = connection
        count += 1
    }

    /// Takes `connection` off the list (no-op if not listed).
    mutating func remove(_ connection: HTTPConnection) {
        guard connection.isListedIdle else { return }
        connection.isListedIdle = false
        let previous = connection.idlePrevious
        let next = connection.idleNext
        if let previous { previous.idleNext = next } else { first = next }
        if let next { next.idlePrevious = previous } else { last = previous }
        connection.idlePrevious = nil
        connection.idleNext = nil
        count -= 1
    }
}
