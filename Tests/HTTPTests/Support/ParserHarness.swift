import HTTP

/// Everything a parser produced from some input.
struct ParseOutcome {
    var heads: [HTTPRequestHead] = []
    var messages: [HTTPRequest] = []
    var error: HTTPParseError?
}

/// Feeds `input` to a fresh parser in pieces of `chunk` bytes (1 = byte at a time),
/// draining events after each piece.
func parse(_ input: [UInt8], chunk: Int = .max, limits: HTTPLimits = HTTPLimits()) -> ParseOutcome {
    var parser = HTTPRequestParser(limits: limits)
    var outcome = ParseOutcome()
    var offset = 0
    repeat {
        let end = min(input.count, offset + max(1, min(chunk, input.count - offset)))
        parser.append(Array(input[offset..<end]))
        offset = end
        do {
            while let event = try parser.next() {
                switch event {
                case .head(let head): outcome.heads.append(head)
                case .message(let message): outcome.messages.append(message)
                }
            }
        } catch {
            outcome.error = error
            return outcome
        }
    } while offset < input.count
    return outcome
}

func parse(_ text: String, chunk: Int = .max, limits: HTTPLimits = HTTPLimits()) -> ParseOutcome {
    parse(Array(text.utf8), chunk: chunk, limits: limits)
}

/// Both whole and byte-at-a-time; they must agree.
func parseBothWays(_ text: String, limits: HTTPLimits = HTTPLimits()) -> (whole: ParseOutcome, bytewise: ParseOutcome) {
    (parse(text, limits: limits), parse(text, chunk: 1, limits: limits))
}
