import Testing
@testable import Serving

/// Tensor data helpers shared by the Open Inference Protocol tests.
enum TensorBytes {
    static func strings(_ elements: [[UInt8]]) -> [UInt8] {
        elements.flatMap { element in
            withUnsafeBytes(of: UInt32(element.count).littleEndian) { Array($0) } + element
        }
    }

    static func fp32(_ values: [Float]) -> [UInt8] {
        values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
    }

    static func int64(_ values: [Int64]) -> [UInt8] {
        values.flatMap { value in withUnsafeBytes(of: value.littleEndian) { Array($0) } }
    }

    static func int32(_ values: [Int32]) -> [UInt8] {
        values.flatMap { value in withUnsafeBytes(of: value.littleEndian) { Array($0) } }
    }
}

/// A body with the JSON header `json` and `binary` after it.
private func parse(_ json: String, binary: [UInt8] = [], headerLength: [String]? = nil,
                   encoding: String? = nil) throws(APIError) -> OpenInferenceRequest {
    let header = Array(json.utf8)
    let lengths = headerLength ?? (binary.isEmpty ? [] : ["\(header.count)"])
    return try OpenInferenceRequest.parse(body: header + binary, headerLength: lengths, contentEncoding: encoding)
}

/// "400 invalid_tensor" for a refused body, "accepted" otherwise.
private func outcome(_ json: String, binary: [UInt8] = [], headerLength: [String]? = nil, encoding: String? = nil) -> String {
    do {
        _ = try parse(json, binary: binary, headerLength: headerLength, encoding: encoding)
        return "accepted"
    } catch {
        return "\(error.status.code) \(error.code)"
    }
}

private func input(_ name: String, _ datatype: String, _ shape: String, data: String? = nil, binarySize: Int? = nil) -> String {
    var fields = #""name":"\#(name)","datatype":"\#(datatype)","shape":\#(shape)"#
    if let data { fields += #","data":\#(data)"# }
    if let binarySize { fields += #","parameters":{"binary_data_size":\#(binarySize)}"# }
    return "{" + fields + "}"
}

private func request(_ inputs: String...) -> String { #"{"inputs":[\#(inputs.joined(separator: ","))]}"# }

@Suite struct InferenceRequestCodecTests {
    @Test func decodesJSONTensorsFlatOrNestedWithTheRequestFields() throws {
        let parsed = try parse(#"""
            {"id":"r-7","parameters":{"binary_data_output":true,"timeout":2500,"priority":1,"custom":"x"},
             "inputs":[{"name":"text","datatype":"BYTES","shape":[2],"data":["a cat","ünï"]},
                       {"name":"pixel_values","datatype":"FP32","shape":[1,2,2],"data":[[1.5,-2],[3e-3,4]]},
                       {"name":"input_ids","datatype":"INT64","shape":[1,3],"data":[101,-5,9007199254740993]},
                       {"name":"attention_mask","datatype":"INT32","shape":[1,3],"data":[[1,1,0]]}],
             "outputs":[{"name":"logits","parameters":{"binary_data":false}},{"name":"label"}]}
            """#)
        #expect(parsed.id == "r-7")
        #expect(parsed.binaryDataOutput && parsed.timeoutMicroseconds == 2500)
        #expect(parsed.outputs == [RequestedOutput(name: "logits", binary: false), RequestedOutput(name: "label")])
        #expect(parsed.inputs.map(\.name) == ["text", "pixel_values", "input_ids", "attention_mask"])
        #expect(parsed.inputs[0].values == .bytes([Array("a cat".utf8), Array("ünï".utf8)]) && parsed.inputs[0].fromJSON)
        #expect(parsed.inputs[1].shape == [1, 2, 2] && parsed.inputs[1].values == .fp32([1.5, -2, 0.003, 4]))
        // Integers are read from their text: 2^53 + 1 survives (a Double would round it).
        #expect(parsed.inputs[2].values == .int64([101, -5, 9_007_199_254_740_993]))
        #expect(parsed.inputs[3].datatype == .int32 && parsed.inputs[3].values == .int64([1, 1, 0]))
    }

    @Test func decodesBinaryTensorDataInInputOrderBesideJSONData() throws {
        let images: [[UInt8]] = [[0xFF, 0xD8, 0x00, 0x01], [], [0x89, 0x50]]
        let pixels: [Float] = [0.25, -1, .greatestFiniteMagnitude, 7]
        let binary = TensorBytes.strings(images) + TensorBytes.fp32(pixels) + TensorBytes.int64([1, -2]) + TensorBytes.int32([-3])
        let json = request(input("image", "BYTES", "[3]", binarySize: 4 + 4 + 4 + 0 + 4 + 2),
                           input("text", "BYTES", "[3]", data: #"["a","b","c"]"#),
                           input("pixel_values", "FP32", "[1,4]", binarySize: 16),
                           input("input_ids", "INT64", "[2]", binarySize: 16),
                           input("attention_mask", "INT32", "[1,1]", binarySize: 4))
        let parsed = try parse(json, binary: binary)
        #expect(parsed.inputs[0].values == .bytes(images) && !parsed.inputs[0].fromJSON)
        #expect(parsed.inputs[1].values == .bytes([[0x61], [0x62], [0x63]]) && parsed.inputs[1].fromJSON)
        #expect(parsed.inputs[2].values == .fp32(pixels))
        #expect(parsed.inputs[3].values == .int64([1, -2]))
        #expect(parsed.inputs[4].values == .int64([-3]))
        #expect(parsed.id == nil && parsed.outputs == nil && !parsed.binaryDataOutput)
    }

    @Test func refusesHostileHeadersAndLengths() {
        let json = request(input("text", "BYTES", "[1]", binarySize: 5))
        let binary = TensorBytes.strings([[0x61]])
        #expect(outcome(json, binary: binary) == "accepted")
        let length = "\(json.utf8.count)"
        #expect(outcome(json, binary: binary, headerLength: ["12a"]) == "400 invalid_inference_header_length")
        #expect(outcome(json, binary: binary, headerLength: ["-1"]) == "400 invalid_inference_header_length")
        #expect(outcome(json, binary: binary, headerLength: ["0"]) == "400 invalid_inference_header_length")
        #expect(outcome(json, binary: binary, headerLength: ["99999999999999999999999"]) == "400 invalid_inference_header_length")
        #expect(outcome(json, binary: binary, headerLength: ["\(json.utf8.count + 6)"]) == "400 invalid_inference_header_length")
        #expect(outcome(json, binary: binary, headerLength: [length, length]) == "400 invalid_inference_header_length")
        // Too short a header length cuts the JSON; too long swallows the binary data.
        #expect(outcome(json, binary: binary, headerLength: ["\(json.utf8.count - 1)"]) == "400 malformed_json")
        #expect(outcome(json, binary: binary, headerLength: ["\(json.utf8.count + 1)"]) == "400 malformed_json")
        #expect(outcome(json, binary: binary, encoding: "gzip") == "415 unsupported_content_encoding")
        #expect(outcome(json, binary: binary, encoding: "identity") == "accepted")
    }

    @Test func refusesMalformedRequestFields() {
        let text = input("text", "BYTES", "[1]", data: #"["x"]"#)
        let cases: [(String, String)] = [
            ("[]", "400 malformed_json"),
            ("{", "400 malformed_json"),
            (#"{"inputs":{}}"#, "400 wrong_type"),
            (#"{"outputs":[]}"#, "400 missing_field"),
            (#"{"inputs":[]}"#, "400 invalid_field"),
            ("{\"inputs\":[" + Array(repeating: text, count: 9).joined(separator: ",") + "]}", "400 invalid_field"),
            (#"{"inputs":[\#(text)],"id":5}"#, "400 wrong_type"),
            (#"{"inputs":[\#(text)],"id":"a\u0001b"}"#, "400 invalid_field"),
            (#"{"inputs":[\#(text)],"id":"\#(String(repeating: "i", count: 257))"}"#, "400 invalid_field"),
            (#"{"inputs":[\#(text)],"parameters":[]}"#, "400 wrong_type"),
            (#"{"inputs":[\#(text)],"parameters":{"binary_data_output":1}}"#, "400 wrong_type"),
            (#"{"inputs":[\#(text)],"parameters":{"timeout":-1}}"#, "400 invalid_field"),
            (#"{"inputs":[\#(text)],"parameters":{"sequence_id":3}}"#, "400 unsupported_parameter"),
            (#"{"inputs":[\#(text),\#(text)]}"#, "400 invalid_field"),
            (#"{"inputs":[\#(text)],"outputs":[{"name":"a"},{"name":"a"}]}"#, "400 invalid_field"),
            (#"{"inputs":[\#(text)],"outputs":[{"name":"scores","parameters":{"classification":2}}]}"#, "400 unsupported_parameter"),
            (#"{"inputs":[\#(text)],"outputs":[{"parameters":{}}]}"#, "400 missing_field"),
            (#"{"inputs":[\#(text)],"outputs":[{"name":"label","parameters":{"binary_data":"yes"}}]}"#, "400 wrong_type"),
            (#"{"inputs":[\#(text)],"outputs":"logits"}"#, "400 wrong_type"),
        ]
        for (json, expected) in cases {
            #expect(outcome(json) == expected, "\(json.prefix(120))")
        }
    }

    @Test func refusesTensorsWhoseShapeDataAndSizesDisagree() {
        let cases: [(String, [UInt8], String)] = [
            (request(#"{"datatype":"BYTES","shape":[1],"data":["x"]}"#), [], "400 missing_field"),
            (request(#"{"name":"","datatype":"BYTES","shape":[1],"data":["x"]}"#), [], "400 invalid_field"),
            (request(#"{"name":"t","shape":[1],"data":["x"]}"#), [], "400 missing_field"),
            (request(input("t", "FP8", "[1]", data: "[1]")), [], "400 invalid_field"),
            (request(input("t", "BOOL", "[1]", data: "[true]")), [], "400 invalid_tensor"),
            (request(input("t", "FP32", "[-1]", data: "[1]")), [], "400 invalid_field"),
            (request(input("t", "FP32", "[1.0]", data: "[1]")), [], "400 invalid_field"),
            (request(input("t", "FP32", "[1e0]", data: "[1]")), [], "400 invalid_field"),
            (request(input("t", "FP32", "1", data: "[1]")), [], "400 wrong_type"),
            (request(input("t", "FP32", "[1,1,1,1,1,1,1,1,1]", data: "[1]")), [], "400 invalid_field"),
            // Shapes whose product overflows, or exceeds what the body could hold, before any allocation.
            (request(input("t", "FP32", "[3037000500,3037000500]", data: "[1]")), [], "400 invalid_tensor"),
            (request(input("t", "FP32", "[100000000]", data: "[1]")), [], "400 invalid_tensor"),
            (request(input("t", "FP32", "[3]", data: "[1,2]")), [], "400 invalid_tensor"),
            (request(input("t", "FP32", "[1]", data: "[1,2]")), [], "400 invalid_tensor"),
            (request(input("t", "FP32", "[2]", data: "[[1],[2,3]]")), [], "400 invalid_tensor"),
            (request(input("t", "FP32", "[1]", data: #"["1"]"#)), [], "400 wrong_type"),
            (request(input("t", "FP32", "[1]", data: "[1e39]")), [], "400 invalid_tensor"),
            (request(input("t", "FP32", "[1]", data: "1")), [], "400 wrong_type"),
            (request(input("t", "INT64", "[1]", data: "[9223372036854775808]")), [], "400 invalid_tensor"),
            (request(input("t", "INT64", "[1]", data: "[1.5]")), [], "400 invalid_tensor"),
            (request(input("t", "INT32", "[1]", data: "[2147483648]")), [], "400 invalid_tensor"),
            (request(input("t", "BYTES", "[1]", data: "[1]")), [], "400 wrong_type"),
            (request(input("t", "BYTES", "[1]")), [], "400 invalid_tensor"),
            (request(#"{"name":"t","datatype":"BYTES","shape":[1],"data":["x"],"parameters":{"binary_data_size":5}}"#),
             TensorBytes.strings([[1]]), "400 invalid_tensor"),
            (request(#"{"name":"t","datatype":"BYTES","shape":[1],"parameters":{"shared_memory_region":"r"}}"#), [], "400 unsupported_parameter"),
            // Binary sizes against the bytes that follow, and against the shape.
            (request(input("t", "FP32", "[2]", binarySize: 8)), TensorBytes.fp32([1]), "400 invalid_tensor"),
            (request(input("t", "FP32", "[2]", binarySize: 4)), TensorBytes.fp32([1]), "400 invalid_tensor"),
            (request(input("t", "FP32", "[1]", binarySize: 4)), TensorBytes.fp32([1, 2]), "400 invalid_tensor"),
            (request(input("t", "INT64", "[1]", binarySize: 4)), TensorBytes.int32([1]), "400 invalid_tensor"),
            (request(input("t", "BYTES", "[2]", binarySize: 5)), TensorBytes.strings([[1]]), "400 invalid_tensor"),
            (request(input("t", "BYTES", "[1]", binarySize: 6)), TensorBytes.strings([[1]]) + [9], "400 invalid_tensor"),
            (request(input("t", "BYTES", "[1]", binarySize: 4)), [0xFF, 0xFF, 0xFF, 0xFF], "400 invalid_tensor"),
            (request(input("t", "BYTES", "[1]", binarySize: 3)), [1, 0, 0], "400 invalid_tensor"),
            (request(input("t", "BYTES", "[9]", binarySize: 12)), TensorBytes.strings([[], [], []]), "400 invalid_tensor"),
        ]
        for (json, binary, expected) in cases {
            #expect(outcome(json, binary: binary) == expected, "\(json.prefix(160))")
        }
    }

    /// Every mutation of a valid binary request either parses into tensors that agree with
    /// their shapes, or is refused with a 4xx — never a trap, never a 5xx.
    @Test func mutatedBinaryRequestsAreParsedConsistentlyOrRefused() {
        let binary = TensorBytes.strings([[0xFF, 0xD8, 0xFF], [0x89]]) + TensorBytes.fp32([1, 2]) + TensorBytes.int64([5])
        let json = Array(request(input("image", "BYTES", "[2]", binarySize: 12),
                                 input("pixel_values", "FP32", "[1,2]", binarySize: 8),
                                 input("input_ids", "INT64", "[1,1]", binarySize: 8),
                                 input("text", "BYTES", "[2,1]", data: #"[["a"],["b"]]"#)).utf8)
        let original = json + binary
        var generator = SplitMix(seed: 0x5EED_F00D)
        var accepted = 0
        for round in 0..<3000 {
            var body = original
            for _ in 0..<(1 + Int(generator.next() % 4)) {
                let position = Int(generator.next() % UInt64(body.count))
                switch generator.next() % 4 {
                case 0: body[position] = UInt8(truncatingIfNeeded: generator.next())
                case 1: body[position] = [UInt8(ascii: "9"), UInt8(ascii: "0"), UInt8(ascii: "-"), 0xFF][Int(generator.next() % 4)]
                case 2: body.remove(at: position)
                default: body.insert(UInt8(truncatingIfNeeded: generator.next()), at: position)
                }
            }
            let lengths = round % 5 == 0 ? ["\(Int(generator.next() % UInt64(body.count + 2)))"] : ["\(json.count)"]
            do {
                let parsed = try OpenInferenceRequest.parse(body: body, headerLength: lengths, contentEncoding: nil)
                accepted += 1
                for tensor in parsed.inputs {
                    #expect(tensor.values.count == tensor.shape.reduce(1, *), "round \(round): \(tensor.name)")
                }
            } catch {
                #expect((400..<500).contains(error.status.code), "round \(round): \(error)")
            }
        }
        #expect(accepted > 0 && accepted < 3000, "the mutations both keep and break requests (\(accepted) accepted)")
    }
}

/// A small deterministic generator (SplitMix64) for reproducible mutations.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
