import Tensors

/// Resolves the declared tensors from a model directory's weight files.
///
/// Each file's tensor names get the entry's prefix; names the declaration does not list
/// (`pooler.*`, `embeddings.position_ids`, anything else) are ignored without being read.
/// A declared tensor that is missing, mis-shaped, provided twice or of a non-float dtype is
/// an error naming it.
enum WeightLoader {
    static func load(directory: String, config: ModelConfig) throws(ModelError) -> [String: Tensor] {
        var tensors: [String: Tensor] = [:]
        for (name, source) in try resolve(directory: directory, config: config) {
            do {
                tensors[name] = try source.file.tensor(source.entry)
            } catch {
                throw .weights(error)
            }
        }
        return tensors
    }

    /// Opens every weight file and matches its entries to the declaration without reading any
    /// tensor data: a malformed or truncated file, a missing, duplicated or mis-shaped tensor
    /// is the same error `load` would throw.
    static func resolve(directory: String, config: ModelConfig)
        throws(ModelError) -> [String: (file: SafetensorsFile, entry: TensorEntry)] {
        let declaration = WeightDeclaration(config: config)
        var wanted: [String: WeightDeclaration.Entry] = [:]
        for entry in declaration.entries { wanted[entry.name] = entry }

        var sources: [String: (file: SafetensorsFile, entry: TensorEntry)] = [:]
        var paths: [String] = []
        for weightFile in config.weights {
            let path = directory + "/" + weightFile.file
            paths.append(path)
            let file: SafetensorsFile
            do {
                file = try SafetensorsFile(path: path)
            } catch {
                throw .weights(error)
            }
            for entry in file.entries {
                let name = weightFile.prefix + entry.name
                guard wanted[name] != nil else { continue }
                if let existing = sources[name] {
                    throw .duplicateTensor(name: name, first: existing.file.path, second: path)
                }
                sources[name] = (file, entry)
            }
        }

        var resolved: [String: (file: SafetensorsFile, entry: TensorEntry)] = [:]
        for declared in declaration.entries {
            guard let source = sources[declared.name] else {
                throw .missingTensor(name: declared.name, files: paths)
            }
            guard source.entry.shape == declared.shape else {
                throw .wrongShape(name: declared.name, file: source.file.path, expected: declared.shape, actual: source.entry.shape)
            }
            resolved[declared.name] = source
        }
        return resolved
    }

    /// Checks in-memory tensors against the declaration (same rules as files).
    static func check(_ tensors: [String: Tensor], config: ModelConfig) throws(ModelError) {
        for declared in WeightDeclaration(config: config).entries {
            guard let tensor = tensors[declared.name] else {
                throw .missingTensor(name: declared.name, files: ["<memory>"])
            }
            guard tensor.shape == declared.shape else {
                throw .wrongShape(name: declared.name, file: "<memory>", expected: declared.shape, actual: tensor.shape)
            }
        }
    }
}
