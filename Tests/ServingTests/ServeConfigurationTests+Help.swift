import Foundation
import Testing
@testable import Serving

/// The `serve --help` texts come from the settings table: one place per setting.
@Suite struct ServeConfigurationHelpTests {
    @Test func helpStatesTheVariableTheDefaultAndTheNote() {
        #expect(ServeConfiguration.help(flag: "--port") == "TCP port, 0 for any free port (FUSION_PORT; default 8080).")
        #expect(ServeConfiguration.help(flag: "--log-level")
                == "trace, debug, info, notice, warning, error or critical (FUSION_LOG_LEVEL; default info; debug adds probe requests).")
        #expect(ServeConfiguration.help(flag: "--workers")
                == "Worker processes (FUSION_WORKERS; default one per allowed CPU).")
        #expect(ServeConfiguration.help(flag: "--tls-key") == "PEM private key of --tls-cert (FUSION_TLS_KEY).")
        #expect(ServeConfiguration.help(flag: "--auth-metrics") == "/metrics needs a bearer token too (FUSION_AUTH_METRICS=true).")
    }

    @Test func aStatedDefaultIsWhatAnUnsetVariableGives() throws {
        // Resolving with nothing set must give the value the help names, for every setting
        // whose default is a value.
        let resolved = try ServeConfiguration.resolve(flags: [:], environment: [:])
        for setting in ServeConfiguration.settings {
            guard case .value(let text) = setting.defaultValue else { continue }
            #expect(setting.help.contains("(\(setting.variable); default \(text(resolved))"), "\(setting.flag)")
        }
    }

    @Test func everyVariableIsNamedAfterItsFlag() {
        let flags = ServeConfiguration.settings.map(\.flag)
        #expect(Set(flags).count == flags.count)
        for setting in ServeConfiguration.settings {
            let expected = "FUSION_" + setting.flag.dropFirst(2).uppercased().replacingOccurrences(of: "-", with: "_")
            #expect(setting.variable == expected)
        }
    }
}
