import Foundation
import Tensors

/// Writes in-memory weights as a model directory that `FusionModel.load(directory:)` and
/// `fusion-serve serve --model` accept: `config.json`, `model.safetensors` (F32) and `vocab.txt`.
///
/// Used by `fusion-serve bench-model --write-model` to serve the seed-size random-weight model,
/// so served throughput can be compared with the model-only throughput of the same weights.
package enum ModelDirectoryWriter {
    /// The weight file written; `config.json` names it as the only entry of `weights`.
    package static let weightFileName = "model.safetensors"

    /// Writes `config` and `tensors` (full names, as `RandomWeights.make` returns them) into
    /// `directory`, which must not exist or be empty, and copies `vocabFile` to `vocab.txt`.
    ///
    /// Only the tensors the configuration declares are written, in declaration order; the
    /// written `config.json` lists `model.safetensors` without prefix whatever `config.weights`
    /// said. Throws `ModelError` naming the file at fault.
    package static func write(config: ModelConfig, tensors: [String: Tensor], vocabFile: String,
                              to directory: String) throws(ModelError) {
        try config.validate()
        try WeightLoader.check(tensors, config: config)
        try checkVocabulary(vocabFile, vocabSize: config.textEncoder.vocabSize)
        try prepare(directory)

        var written = config
        written.weights = [WeightFile(file: weightFileName)]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let json: Data
        do {
            json = try encoder.encode(written)
        } catch {
            throw .invalidConfig(path: directory + "/config.json", reason: "cannot encode: \(error)")
        }
        try write(json, to: directory + "/config.json")

        var writer = SafetensorsWriter()
        for entry in WeightDeclaration(config: config).entries {
            // `check` above guarantees every declared tensor is present with its shape.
            guard let tensor = tensors[entry.name] else { throw .missingTensor(name: entry.name, files: ["<memory>"]) }
            writer.add(entry.name, dtype: .f32, shape: entry.shape, bytes: littleEndianBytes(tensor.values))
        }
        try write(writer.serialize(), to: directory + "/" + weightFileName)

        let vocabTarget = directory + "/vocab.txt"
        do {
            try FileManager.default.copyItem(atPath: vocabFile, toPath: vocabTarget)
        } catch {
            throw .io(path: vocabFile, reason: "cannot copy to \(vocabTarget): \((error as NSError).localizedDescription)")
        }
    }

    /// Largest `vocab.txt` copied (bert-base's is 226 KiB).
    package static let maxVocabBytes = 16 << 20

    /// A vocabulary with more tokens than the embedding has rows would let the tokenizer emit
    /// ids the model rejects, so every request with such a word would fail at serving time.
    private static func checkVocabulary(_ path: String, vocabSize: Int) throws(ModelError) {
        let data: Data
        do {
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
            guard size <= maxVocabBytes else {
                throw ModelError.io(path: path, reason: "file is \(size) bytes, larger than the \(maxVocabBytes)-byte limit")
            }
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch let error as ModelError {
            throw error
        } catch {
            throw .io(path: path, reason: "cannot read: \((error as NSError).localizedDescription)")
        }
        var tokens = data.reduce(0) { $1 == 0x0A ? $0 + 1 : $0 }
        if let last = data.last, last != 0x0A { tokens += 1 }
        guard tokens > 0 else { throw .io(path: path, reason: "vocabulary is empty") }
        guard tokens <= vocabSize else {
            throw .io(path: path, reason: "vocabulary has \(tokens) tokens, more than text_encoder.vocab_size (\(vocabSize))")
        }
    }

    /// Creates `directory` (and its parents) or accepts it when it exists empty: never
    /// overwrites a model that is already there.
    private static func prepare(_ directory: String) throws(ModelError) {
        var isDirectory: ObjCBool = false
        let manager = FileManager.default
        if manager.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw .io(path: directory, reason: "exists and is not a directory") }
            let contents: [String]
            do {
                contents = try manager.contentsOfDirectory(atPath: directory)
            } catch {
                throw .io(path: directory, reason: "cannot list: \((error as NSError).localizedDescription)")
            }
            guard contents.isEmpty else { throw .io(path: directory, reason: "directory is not empty") }
            return
        }
        do {
            try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .io(path: directory, reason: "cannot create: \((error as NSError).localizedDescription)")
        }
    }

    private static func write<Bytes: DataProtocol>(_ bytes: Bytes, to path: String) throws(ModelError) {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw .io(path: path, reason: "cannot create file")
        }
        do {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.write(contentsOf: bytes)
        } catch {
            throw .io(path: path, reason: "cannot write: \((error as NSError).localizedDescription)")
        }
    }

    /// F32 values as safetensors stores them (little-endian); a plain copy on little-endian hosts,
    /// which matters for the 0.9 GB seed-size model.
    private static func littleEndianBytes(_ values: [Float]) -> [UInt8] {
        #if _endian(little)
        return values.withUnsafeBytes { Array($0) }
        #else
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * 4)
        for value in values {
            let bits = value.bitPattern
            bytes += [UInt8(bits & 0xFF), UInt8(bits >> 8 & 0xFF), UInt8(bits >> 16 & 0xFF), UInt8(bits >> 24)]
        }
        return bytes
        #endif
    }
}
