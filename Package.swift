// swift-tools-version:6.0
import PackageDescription

// Layering (lower layers never import higher ones):
//   COpenBLAS, COneDNN, CImageCodecs, CSystemShims,
//   COpenSSL, CCPUFeatures                   — C libraries and macro/setjmp shims
//   CImageKernels, CSmallGEMM                — AVX2 inner loops in C (resize, small products),
//                                              chosen at run time
//   JSON                                     — the one JSON parser and writer (no dependencies)
//   Tensors → Kernels → Model                — weights, compute, the fusion graph
//   KernelsAVX2 → Kernels                    — the attention kernel again, for AVX2 + FMA CPUs
//   Images, Tokenizer                        — the input pipeline
//   POSIX, TLS → HTTP                        — syscalls, sockets, epoll, affinity; OpenSSL; HTTP/1.1
//   Systemd                                  — sd_notify, socket activation (no libsystemd)
//   Serving                                  — dispatcher, router, worker processes
//   fusion-serve                             — thin command-line executable
// Every module and test target is in the Swift 6 language mode (complete strict concurrency
// checking), the libFuzzer targets below too.
let v6: [SwiftSetting] = [.swiftLanguageMode(.v6)]
// The numeric modules (weights, kernels, forward pass, image resize, WordPiece) and the JSON
// parser (multi-megabyte base64 request strings, safetensors headers) are optimised
// in debug builds too: unoptimised, a forward pass of the default model is ~80x slower and
// the end-to-end accuracy test over 500 held-out pairs would take ~7 minutes instead of
// seconds. `-O` drops `assert` inside these modules; their checks that matter use
// `precondition` or throw, which `-O` keeps.
let v6Optimised: [SwiftSetting] = v6 + [.unsafeFlags(["-O"], .when(configuration: .debug))]
// A second copy of the fused attention kernel for CPUs with AVX2 + FMA, chosen at run time
// (`AttentionKernel.best`): every other module stays baseline x86-64 so the binary runs anywhere.
// Its sources are symbolic links to the Kernels files it shares (AttentionHead.swift, FastMath.swift).
#if arch(x86_64)
let avx2Settings: [SwiftSetting] = v6Optimised + [.define("KERNELS_AVX2"), .unsafeFlags(["-target-cpu", "haswell"])]
#else
let avx2Settings: [SwiftSetting] = v6Optimised  // never selected off x86-64
#endif

let package = Package(
    name: "fusion-serve",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "fusion-serve", targets: ["fusion-serve"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // Only for `fusion-serve bench` (latency percentiles).
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
    ],
    targets: [
        // MARK: C
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        // oneDNN's u8×s8→s32 product for the int8 precision mode (Debian libdnnl-dev).
        .systemLibrary(name: "COneDNN", providers: [.apt(["libdnnl-dev"])]),
        .target(name: "CImageCodecs",
                linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16")]),
        .target(name: "CSystemShims"),
        // The resampler's AVX2 horizontal pass (C for its shuffles and 16-bit multiply-adds),
        // chosen at run time; optimised in debug builds too, like the Swift kernels.
        .target(name: "CImageKernels", cSettings: [.unsafeFlags(["-O2"])]),
        // Packed-weight fp32 products for small layers (AVX2 + FMA, chosen at run time; C for
        // explicit register blocking), optimised in debug builds too.
        .target(name: "CSmallGEMM", cSettings: [.unsafeFlags(["-O2"])]),
        .target(name: "COpenSSL", linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]),
        .target(name: "CCPUFeatures"),
        // `Locked<Value>`: the one lock type (a pthread mutex ThreadSanitizer can see), and
        // `LockedCondition<Value>` for threads that wait for the guarded value to change.
        .target(name: "Locking", swiftSettings: v6),

        // The one JSON parser (strict, bounded) and writer, for every module below.
        .target(name: "JSON", swiftSettings: v6Optimised),

        // MARK: Model runtime
        .target(name: "Tensors", dependencies: ["JSON"], swiftSettings: v6Optimised),
        .target(name: "KernelsAVX2", swiftSettings: avx2Settings),
        .target(name: "Kernels", dependencies: ["COpenBLAS", "COneDNN", "CCPUFeatures", "CSmallGEMM", "KernelsAVX2", "Locking"], swiftSettings: v6Optimised),
        .target(name: "Model", dependencies: ["JSON", "Tensors", "Kernels", "Locking"], swiftSettings: v6Optimised),

        // MARK: Input pipeline
        .target(name: "Images", dependencies: ["CImageCodecs", "CImageKernels", "CCPUFeatures"], swiftSettings: v6Optimised),
        .target(name: "Tokenizer", swiftSettings: v6Optimised),

        // MARK: Network
        .target(name: "POSIX", dependencies: ["CSystemShims", "Locking"], swiftSettings: v6),
        .target(name: "TLS", dependencies: ["COpenSSL", "Locking"], swiftSettings: v6),
        .target(name: "HTTP", dependencies: ["JSON", "POSIX", "TLS", "Locking"], swiftSettings: v6),
        .target(name: "Systemd", dependencies: ["POSIX"], swiftSettings: v6),

        // MARK: Service
        .target(name: "Serving",
                dependencies: ["JSON", "Model", "Images", "Tokenizer", "HTTP", "TLS", "POSIX", "Systemd", "Locking",
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: v6),

        .executableTarget(name: "fusion-serve",
                          dependencies: ["JSON", "Serving", "Systemd", "Model", "Images", "Tokenizer", "CSystemShims", "Locking",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                         .product(name: "Logging", package: "swift-log"),
                                         .product(name: "Histogram", package: "hdrhistogram-swift")],
                          swiftSettings: v6),

        // MARK: Tests (one test target per module, files mirror sources)
        .testTarget(name: "LockingTests", dependencies: ["Locking"], swiftSettings: v6),
        .testTarget(name: "JSONTests", dependencies: ["JSON"], swiftSettings: v6),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors"], swiftSettings: v6),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "KernelsAVX2", "Locking"], swiftSettings: v6),
        .testTarget(name: "ModelTests", dependencies: ["Model", "Tensors"], swiftSettings: v6),
        .testTarget(name: "ImagesTests", dependencies: ["Images"], swiftSettings: v6),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer"], swiftSettings: v6),
        .testTarget(name: "POSIXTests", dependencies: ["POSIX"], swiftSettings: v6),
        .testTarget(name: "SystemdTests", dependencies: ["Systemd"], swiftSettings: v6),
        .testTarget(name: "TLSTests", dependencies: ["TLS"], swiftSettings: v6),
        // `ManualClock`: the time timeout tests advance by hand instead of sleeping (test-only).
        .target(name: "ClockTesting", dependencies: ["HTTP", "Locking"], path: "Tests/ClockTesting", swiftSettings: v6),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "TLS", "JSON", "ClockTesting", "Locking"], swiftSettings: v6),
        .testTarget(name: "ServingTests", dependencies: ["Serving", "JSON", "ClockTesting"], swiftSettings: v6),
        // Runs the built `fusion-serve` binary as a subprocess (real loopback, real curl).
        .testTarget(name: "EndToEndTests", dependencies: ["fusion-serve", "Locking"], swiftSettings: v6),
    ]
)

// MARK: Fuzzing (only with FUSION_FUZZ=1, as tools/fuzz/build.sh sets; normal builds never see these)
// One libFuzzer executable per input format, `Fuzz/<Name>/`, built with
// `-sanitize=fuzzer,address`; see docs/hardening.md.
if Context.environment["FUSION_FUZZ"] == "1" {
    let fuzzTargets: [(name: String, dependencies: [Target.Dependency])] = [
        ("HTTPParser", ["HTTP"]), ("Multipart", ["HTTP", "Serving"]), ("InferJSON", ["Serving", "JSON"]),
        ("Base64", ["Serving"]), ("JPEG", ["Images"]), ("PNG", ["Images"]),
        ("Safetensors", ["Tensors"]), ("ModelConfig", ["Model"]), ("Tokenizer", ["Tokenizer"]),
        ("OpenInference", ["Serving", "Model"]),
    ]
    package.targets.append(.systemLibrary(name: "CFuzzerDriver", path: "Fuzz/CFuzzerDriver"))
    for target in fuzzTargets {
        package.targets.append(.executableTarget(name: "Fuzz\(target.name)", dependencies: target.dependencies + ["CFuzzerDriver"],
                                                 path: "Fuzz/\(target.name)", swiftSettings: v6))
        package.products.append(.executable(name: "fuzz-\(target.name.lowercased())", targets: ["Fuzz\(target.name)"]))
    }
}
