#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Read-and-remove access to environment variables.
///
/// The public entry points use the real process environment; tests substitute a dictionary so
/// they never mutate process-global state that other tests running in parallel may read.
protocol EnvironmentStore {
    func value(_ name: String) -> String?
    mutating func remove(_ name: String)
}

/// The process environment (`getenv`/`unsetenv`).
///
/// `unsetenv` is not thread-safe against a concurrent `setenv`/`getenv` in another thread, so
/// the entry points that remove variables document that they belong at start-up, before any
/// thread is started.
struct ProcessEnvironment: EnvironmentStore {
    func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        return String(cString: raw)
    }

    mutating func remove(_ name: String) {
        unsetenv(name)
    }
}

/// A dictionary standing in for the environment.
struct DictionaryEnvironment: EnvironmentStore {
    var variables: [String: String]

    func value(_ name: String) -> String? { variables[name] }

    mutating func remove(_ name: String) { variables[name] = nil }
}
