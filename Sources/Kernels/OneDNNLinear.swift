import COneDNN
import Dispatch
import Locking

#if canImport(Glibc)
import Glibc
#endif

/// `output[m, n] += input[m, k] · Wᵀ` for one linear layer's weight `W [n, k]` on oneDNN's
/// matmul primitive: the fp32 `onednn` backend, or the `bf16` precision mode (weights and
/// input rounded to bfloat16, products summed in fp32, the output fp32).
///
/// The weight is reordered once, here, into the layout the primitive asks for (`format_tag_any`;
/// on the AVX2 test machine oneDNN 2.6 picks its JIT sgemm and a plain layout), so no product
/// converts it again. Primitives are made once per pair of row strides and cached; the row count is a
/// runtime dimension, so the batch size and text length never create new ones. Each product
/// splits its rows over the worker's threads (`parallelChunks`), each running the primitive on
/// one thread: an OpenMP team would spin idle between products and take cores from the
/// elementwise kernels.
package final class OneDNNLinear: @unchecked Sendable {
    // @unchecked: `primitives` is only reached inside `withLock`; the reordered weight and the
    // primitives are immutable once made, and oneDNN primitives may execute concurrently.
    package let outFeatures: Int
    package let inFeatures: Int
    /// The element type of the weight and input oneDNN multiplies.
    package let dataType: OneDNNDataType
    /// The weight as the first primitive wants it; a primitive that wants another layout (never
    /// seen with oneDNN 2.6, which picks by shape, not strides) gets its own copy.
    private let weights: WeightCopy
    private let primitives = Locked<[Strides: Primitive]>([:])
    /// Different stride pairs one layer is used with (dense rows, or columns of a wider buffer).
    private static let maxPrimitives = 8

    private struct Strides: Hashable {
        let input: Int
        let output: Int
    }

    /// Reorders `weight` (`[outFeatures, inFeatures]`, row-major) for the dense-row product,
    /// converting it to `dataType`. Throws `OneDNNError` when oneDNN cannot make the primitive
    /// (no JIT memory, a broken library, no bf16 kernel for this CPU).
    package init(weight: UnsafePointer<Float>, outFeatures: Int, inFeatures: Int,
                 dataType: OneDNNDataType = .f32) throws(OneDNNError) {
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.dataType = dataType
        let strides = Strides(input: inFeatures, output: outFeatures)
        let primitive = try Primitive(k: inFeatures, n: outFeatures, ldInput: strides.input, ldOutput: strides.output,
                                      dataType: dataType)
        weights = try WeightCopy(weight: weight, n: outFeatures, k: inFeatures, layout: primitive.weightLayout)
        primitives.withLock { $0[strides] = primitive }
    }

    /// `output[rows, n] += input[rows, k] · Wᵀ` (row strides in elements).
    /// `log` counts it like an sgemm of the same shape (for the benchmark).
    package func accumulate(_ input: UnsafePointer<Float>, rows: Int, ldInput: Int,
                            into output: UnsafeMutablePointer<Float>, ldOutput: Int, log: GEMMLog? = nil) {
        guard rows > 0, outFeatures > 0 else { return }
        let start = log == nil ? 0 : DispatchTime.now().uptimeNanoseconds
        defer {
            if let log {
                log.record(GEMMShape(transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                                     lda: ldInput, ldb: inFeatures, ldc: ldOutput),
                           nanoseconds: DispatchTime.now().uptimeNanoseconds - start)
            }
        }
        // bf16 rows are rounded into a dense copy first, so the primitive always reads them dense.
        let primitive = self.primitive(ldInput: dataType == .f32 ? ldInput : inFeatures, ldOutput: ldOutput)
        // Chunks of at least ~2 MFLOP per thread: below that the second thread costs more than it saves.
        let minimumRows = max(4, 1_000_000 / max(1, outFeatures * inFeatures))
        let k = inFeatures
        parallelChunks(rows, minimumChunk: minimumRows) { chunk in
            let source = input + chunk.lowerBound * ldInput, target = output + chunk.lowerBound * ldOutput
            switch dataType {
            case .f32:
                primitive.run(UnsafeRawPointer(source), rows: chunk.count, weights: weights.pointer, output: target)
            case .bf16:
                withUnsafeTemporaryAllocation(of: UInt16.self, capacity: max(1, chunk.count * k)) { rounded in
                    guard let base = rounded.baseAddress else { return }
                    BFloat16.round(source, rows: chunk.count, columns: k, ldSource: ldInput, into: base)
                    primitive.run(UnsafeRawPointer(base), rows: chunk.count, weights: weights.pointer, output: target)
                }
            }
        }
    }

    /// Makes the primitive for a pair of row strides now (at load), so a first request never
    /// pays for it or meets a failure there.
    package func prepare(ldInput: Int, ldOutput: Int) throws(OneDNNError) {
        _ = try cachedPrimitive(ldInput: dataType == .f32 ? ldInput : inFeatures, ldOutput: ldOutput)
    }

    private func primitive(ldInput: Int, ldOutput: Int) -> Primitive {
        do {
            return try cachedPrimitive(ldInput: ldInput, ldOutput: ldOutput)
        } catch {
            // `checkOneDNNMatmul` proved oneDNN works before any model used it, and the layer's
            // primitives were made at load: a failure now must not become wrong answers.
            preconditionFailure("\(error)")
        }
    }

    /// The cached primitive for these strides, made (outside the lock: it may JIT-compile; a
    /// racing thread's copy is dropped) and checked against the reordered weight if new.
    private func cachedPrimitive(ldInput: Int, ldOutput: Int) throws(OneDNNError) -> Primitive {
        let key = Strides(input: ldInput, output: ldOutput)
        if let cached = primitives.withLock({ $0[key] }) { return cached }
        let made = try Primitive(k: inFeatures, n: outFeatures, ldInput: ldInput, ldOutput: ldOutput, dataType: dataType)
        guard made.weightLayout.sameLayout(as: weights.layout) else {
            throw OneDNNError(call: "matmul for row strides \(ldInput)/\(ldOutput) wants another weight layout",
                              status: dnnl_unimplemented)
        }
        return try primitives.withLock { (cache) throws(OneDNNError) -> Primitive in
            if let cached = cache[key] { return cached }
            guard cache.count < Self.maxPrimitives else {
                throw OneDNNError(call: "more than \(Self.maxPrimitives) stride pairs for one layer", status: dnnl_unimplemented)
            }
            cache[key] = made
            return made
        }
    }
}

/// The element type oneDNN multiplies (the output and the sums are fp32 either way).
package enum OneDNNDataType: Sendable, Equatable {
    case f32
    /// bfloat16 weight and input: oneDNN's bf16 kernels need AVX512_BF16 (or AMX) to be fast,
    /// and oneDNN 2.6 has none at all for a CPU without AVX-512.
    case bf16

    fileprivate var dnnl: dnnl_data_type_t {
        switch self {
        case .f32: return dnnl_f32
        case .bf16: return dnnl_bf16
        }
    }
}

/// Why oneDNN could not make or run a product.
package struct OneDNNError: Error, CustomStringConvertible {
    package let call: String
    package let status: dnnl_status_t
    package var description: String {
        "oneDNN \(call) failed (status \(status.rawValue)); it compiles its kernels at run time, which needs memory that is writable then executable (under systemd: MemoryDenyWriteExecute=no)"
    }
}

private func check(_ status: dnnl_status_t, _ call: String) throws(OneDNNError) {
    guard status == dnnl_success else { throw OneDNNError(call: call, status: status) }
}

/// The process's oneDNN CPU engine, made on first use.
private let engine = Engine()

private struct Engine: @unchecked Sendable {
    // @unchecked: the engine handle is made once and only passed to oneDNN, which is thread-safe on it.
    private let made: Result<OpaquePointer, OneDNNError>

    init() {
        var engine: dnnl_engine_t?
        let status = dnnl_engine_create(&engine, dnnl_cpu, 0)
        if status == dnnl_success, let engine {
            made = .success(engine)
        } else {
            made = .failure(OneDNNError(call: "dnnl_engine_create", status: status))
        }
    }

    func get() throws(OneDNNError) -> OpaquePointer { try made.get() }
}

/// A weight memory descriptor (the layout a primitive asked for).
private struct WeightLayout: @unchecked Sendable {
    // @unchecked: a plain C struct, copied by value and never mutated after creation.
    var descriptor: dnnl_memory_desc_t

    func sameLayout(as other: WeightLayout) -> Bool {
        var a = descriptor, b = other.descriptor
        return dnnl_memory_desc_equal(&a, &b) != 0
    }
}

/// `W` reordered into a layout, in memory this object owns.
private final class WeightCopy: @unchecked Sendable {
    // @unchecked: written once in `init`, read-only afterwards.
    let layout: WeightLayout
    let pointer: UnsafeMutableRawPointer

    init(weight: UnsafePointer<Float>, n: Int, k: Int, layout: WeightLayout) throws(OneDNNError) {
        let engine = try engine.get()
        var target = layout.descriptor
        let bytes = max(64, dnnl_memory_desc_get_size(&target))
        // A local until the reorder succeeded: once every stored property is set, a throwing
        // init runs `deinit`, which would free the memory a second time.
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        do {
            // The weight as oneDNN sees it: a k×n matrix stored n-major (`ba`), i.e. PyTorch's [n, k].
            var plain = dnnl_memory_desc_t()
            try check(dnnl_memory_desc_init_by_tag(&plain, 2, [Int64(k), Int64(n)], dnnl_f32, dnnl_ba), "dnnl_memory_desc_init_by_tag")
            var source: dnnl_memory_t?, destination: dnnl_memory_t?
            var reorderDescriptor: dnnl_primitive_desc_t?, reorder: dnnl_primitive_t?, stream: dnnl_stream_t?
            defer {
                if let source { dnnl_memory_destroy(source) }
                if let destination { dnnl_memory_destroy(destination) }
                if let reorder { dnnl_primitive_destroy(reorder) }
                if let reorderDescriptor { dnnl_primitive_desc_destroy(reorderDescriptor) }
                if let stream { dnnl_stream_destroy(stream) }
            }
            try check(dnnl_memory_create(&source, &plain, engine, UnsafeMutableRawPointer(mutating: weight)), "dnnl_memory_create")
            try check(dnnl_memory_create(&destination, &target, engine, pointer), "dnnl_memory_create")
            try check(dnnl_reorder_primitive_desc_create(&reorderDescriptor, &plain, engine, &target, engine, nil),
                      "dnnl_reorder_primitive_desc_create")
            try check(dnnl_primitive_create(&reorder, reorderDescriptor), "dnnl_primitive_create (reorder)")
            try check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "dnnl_stream_create")
            omp_set_num_threads(1)
            let arguments = [dnnl_exec_arg_t(arg: fs_dnnl_arg_from, memory: source),
                             dnnl_exec_arg_t(arg: fs_dnnl_arg_to, memory: destination)]
            try check(dnnl_primitive_execute(reorder, stream, 2, arguments), "dnnl_primitive_execute (reorder)")
            try check(dnnl_stream_wait(stream), "dnnl_stream_wait")
        } catch {
            pointer.deallocate()
            throw error
        }
        self.layout = layout
        self.pointer = pointer
    }

    deinit { pointer.deallocate() }
}

/// One matmul primitive: `dst[M, n] += src[M, k] · W` with M given at run time, fixed row
/// strides, and a sum post-op (the output already holds the bias or the residual).
private final class Primitive: @unchecked Sendable {
    // @unchecked: immutable after `init`; oneDNN primitives may execute from several threads.
    let k: Int
    let n: Int
    let ldInput: Int
    let ldOutput: Int
    let dataType: OneDNNDataType
    let weightLayout: WeightLayout
    /// Scratch memory one run needs (0 for the gemm-based f32 matmul seen so far); each run
    /// allocates its own, since runs of one primitive go on at once on several threads.
    private let scratchpadBytes: Int
    private let scratchpadLayout: WeightLayout?
    private let primitive: dnnl_primitive_t

    init(k: Int, n: Int, ldInput: Int, ldOutput: Int, dataType: OneDNNDataType) throws(OneDNNError) {
        let engine = try engine.get()
        self.k = k
        self.n = n
        self.ldInput = ldInput
        self.ldOutput = ldOutput
        self.dataType = dataType
        var source = dnnl_memory_desc_t(), weights = dnnl_memory_desc_t(), destination = dnnl_memory_desc_t()
        try check(dnnl_memory_desc_init_by_strides(&source, 2, [fs_dnnl_runtime_dim, Int64(k)], dataType.dnnl,
                                                   [Int64(ldInput), 1]), "dnnl_memory_desc_init_by_strides (source)")
        try check(dnnl_memory_desc_init_by_tag(&weights, 2, [Int64(k), Int64(n)], dataType.dnnl, dnnl_format_tag_any),
                  "dnnl_memory_desc_init_by_tag (weights)")
        try check(dnnl_memory_desc_init_by_strides(&destination, 2, [fs_dnnl_runtime_dim, Int64(n)], dnnl_f32,
                                                   [Int64(ldOutput), 1]), "dnnl_memory_desc_init_by_strides (destination)")
        var descriptor = dnnl_matmul_desc_t()
        try check(dnnl_matmul_desc_init(&descriptor, &source, &weights, nil, &destination), "dnnl_matmul_desc_init")
        var postOps: dnnl_post_ops_t?, attributes: dnnl_primitive_attr_t?, primitiveDescriptor: dnnl_primitive_desc_t?
        defer {
            if let postOps { dnnl_post_ops_destroy(postOps) }
            if let attributes { dnnl_primitive_attr_destroy(attributes) }
            if let primitiveDescriptor { dnnl_primitive_desc_destroy(primitiveDescriptor) }
        }
        try check(dnnl_post_ops_create(&postOps), "dnnl_post_ops_create")
        try check(dnnl_post_ops_append_sum(postOps, 1), "dnnl_post_ops_append_sum")
        try check(dnnl_primitive_attr_create(&attributes), "dnnl_primitive_attr_create")
        try check(dnnl_primitive_attr_set_post_ops(attributes, postOps), "dnnl_primitive_attr_set_post_ops")
        // The library's own scratchpad is kept per creating thread in this build (OpenMP, no
        // concurrent-execution mode), and the rows run on other threads: each run brings its own.
        try check(dnnl_primitive_attr_set_scratchpad_mode(attributes, dnnl_scratchpad_mode_user),
                  "dnnl_primitive_attr_set_scratchpad_mode")
        try check(dnnl_primitive_desc_create(&primitiveDescriptor, &descriptor, attributes, engine, nil),
                  "dnnl_primitive_desc_create (matmul)")
        guard let chosen = dnnl_primitive_desc_query_md(primitiveDescriptor, dnnl_query_weights_md, 0) else {
            throw OneDNNError(call: "dnnl_primitive_desc_query_md (weights)", status: dnnl_runtime_error)
        }
        weightLayout = WeightLayout(descriptor: chosen.pointee)
        if let scratchpad = dnnl_primitive_desc_query_md(primitiveDescriptor, dnnl_query_scratchpad_md, 0) {
            var descriptor = scratchpad.pointee
            scratchpadBytes = dnnl_memory_desc_get_size(&descriptor)
            scratchpadLayout = WeightLayout(descriptor: descriptor)
        } else {
            scratchpadBytes = 0
            scratchpadLayout = nil
        }
        var made: dnnl_primitive_t?
        try check(dnnl_primitive_create(&made, primitiveDescriptor), "dnnl_primitive_create (matmul)")
        guard let made else { throw OneDNNError(call: "dnnl_primitive_create (matmul)", status: dnnl_runtime_error) }
        primitive = made
    }

    deinit { dnnl_primitive_destroy(primitive) }

    /// Runs on the calling thread; fails only if oneDNN cannot allocate (a precondition: never
    /// a wrong answer).
    func run(_ input: UnsafeRawPointer, rows: Int, weights: UnsafeMutableRawPointer, output: UnsafeMutablePointer<Float>) {
        do {
            let engine = try engine.get()
            var source = dnnl_memory_desc_t(), destination = dnnl_memory_desc_t()
            try check(dnnl_memory_desc_init_by_strides(&source, 2, [Int64(rows), Int64(k)], dataType.dnnl, [Int64(ldInput), 1]),
                      "dnnl_memory_desc_init_by_strides")
            try check(dnnl_memory_desc_init_by_strides(&destination, 2, [Int64(rows), Int64(n)], dnnl_f32, [Int64(ldOutput), 1]),
                      "dnnl_memory_desc_init_by_strides")
            var weightDescriptor = weightLayout.descriptor
            var sourceMemory: dnnl_memory_t?, weightMemory: dnnl_memory_t?, destinationMemory: dnnl_memory_t?
            var stream: dnnl_stream_t?
            defer {
                if let sourceMemory { dnnl_memory_destroy(sourceMemory) }
                if let weightMemory { dnnl_memory_destroy(weightMemory) }
                if let destinationMemory { dnnl_memory_destroy(destinationMemory) }
                if let stream { dnnl_stream_destroy(stream) }
            }
            try check(dnnl_memory_create(&sourceMemory, &source, engine, UnsafeMutableRawPointer(mutating: input)), "dnnl_memory_create")
            try check(dnnl_memory_create(&weightMemory, &weightDescriptor, engine, weights), "dnnl_memory_create")
            try check(dnnl_memory_create(&destinationMemory, &destination, engine, output), "dnnl_memory_create")
            try check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "dnnl_stream_create")
            var arguments = [dnnl_exec_arg_t(arg: fs_dnnl_arg_src, memory: sourceMemory),
                             dnnl_exec_arg_t(arg: fs_dnnl_arg_weights, memory: weightMemory),
                             dnnl_exec_arg_t(arg: fs_dnnl_arg_dst, memory: destinationMemory)]
            var scratchpad: UnsafeMutableRawPointer?
            var scratchpadMemory: dnnl_memory_t?
            defer {
                if let scratchpadMemory { dnnl_memory_destroy(scratchpadMemory) }
                scratchpad?.deallocate()
            }
            if scratchpadBytes > 0, var descriptor = scratchpadLayout?.descriptor {
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: scratchpadBytes, alignment: 64)
                scratchpad = buffer
                try check(dnnl_memory_create(&scratchpadMemory, &descriptor, engine, buffer), "dnnl_memory_create (scratchpad)")
                arguments.append(dnnl_exec_arg_t(arg: fs_dnnl_arg_scratchpad, memory: scratchpadMemory))
            }
            omp_set_num_threads(1)
            try check(dnnl_primitive_execute(primitive, stream, Int32(arguments.count), arguments), "dnnl_primitive_execute (matmul)")
            try check(dnnl_stream_wait(stream), "dnnl_stream_wait")
        } catch {
            preconditionFailure("\(error)")
        }
    }
}

/// Runs one small product through a oneDNN matmul primitive of `dataType` and checks it against
/// plain arithmetic (small integers: exact in bf16 and fp32 alike); returns why it failed, or
/// nil. As with `checkQuantizedProducts`, a sandbox that forbids run-time code generation, or a
/// library with no kernel for this CPU, is caught at start, not at the first request.
package func checkOneDNNMatmul(dataType: OneDNNDataType = .f32) -> String? {
    let m = 5, n = 19, k = 23
    let a = (0..<(m * k)).map { Float(($0 &* 37 &+ 11) % 17) - 8 }
    let w = (0..<(n * k)).map { Float(($0 &* 53) % 13) - 6 }
    var c = [Float](repeating: 1, count: m * n)
    do {
        let layer = try w.withUnsafeBufferPointer { (w) throws(OneDNNError) -> OneDNNLinear in
            guard let base = w.baseAddress else { throw OneDNNError(call: "weights", status: dnnl_invalid_arguments) }
            return try OneDNNLinear(weight: base, outFeatures: n, inFeatures: k, dataType: dataType)
        }
        a.withUnsafeBufferPointer { a in
            c.withUnsafeMutableBufferPointer { c in
                guard let a = a.baseAddress, let c = c.baseAddress else { return }
                layer.accumulate(a, rows: m, ldInput: k, into: c, ldOutput: n)
            }
        }
    } catch {
        return error.description
    }
    for r in 0..<m {
        for j in 0..<n {
            var sum: Float = 1
            for i in 0..<k { sum += a[r * k + i] * w[j * k + i] }  // small integers: exact in fp32
            if c[r * n + j] != sum { return "oneDNN's matmul gave \(c[r * n + j]) where \(sum) is right (row \(r), column \(j))" }
        }
    }
    return nil
}
