// swift-tools-version:6.1
//
// l2l: "Learning to learn by gradient descent by gradient descent" (Andrychowicz et al., 2016)
// as an HDF5-checkpointed research pipeline. The layout follows the architecture:
// C shims → typed Swift layers (HDF5, Gzip) → the data layer (MNIST) → thin executables.
import PackageDescription

let package = Package(
    name: "l2l",
    products: [
        .executable(name: "l2l-fetch", targets: ["l2l-fetch"]),
        .executable(name: "l2l-train", targets: ["l2l-train"]),
        .executable(name: "l2l-eval", targets: ["l2l-eval"]),
        .executable(name: "l2l-sweep", targets: ["l2l-sweep"]),
        .executable(name: "l2l-bench", targets: ["l2l-bench"]),
        .executable(name: "l2l-probe", targets: ["l2l-probe"]),
        .library(name: "HDF5", targets: ["HDF5"]),
        .library(name: "MNIST", targets: ["MNIST"]),
        .library(name: "L2L", targets: ["L2L"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // MARK: C shims (module maps and static-inline headers; no Swift API of their own)

        /// Debian's serial HDF5 1.10 (`libhdf5-dev`); `pkg-config hdf5` gives its include folder.
        .systemLibrary(
            name: "CHDF5",
            pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]
        ),
        /// BLIS (`libblis-dev`), through its CBLAS interface: the matrix products of the MLP.
        .systemLibrary(
            name: "CBLAS",
            providers: [.apt(["libblis-dev"])]
        ),
        /// The LSTM's products and element-wise loops in C, vectorised, dispatched at run time by
        /// CPU; and what the runtime and the benchmark need from the processor.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),
        /// zlib (`zlib1g-dev`), for the streaming gunzip of the MNIST downloads.
        .systemLibrary(
            name: "CZlib",
            providers: [.apt(["zlib1g-dev"])]
        ),

        // MARK: Libraries

        /// A small, typed Swift layer over HDF5: files, groups, datasets, attributes.
        .target(name: "HDF5", dependencies: ["CHDF5"]),
        /// Streaming gzip decompression with corrupt and truncated streams reported as errors.
        .target(name: "Gzip", dependencies: ["CZlib"]),
        /// IDX parsing, the MNIST splits of the paper's code, and the fetch stage's logic.
        .target(
            name: "MNIST",
            dependencies: [
                "HDF5", "Gzip",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),

        /// The mathematics of the paper, with no I/O: optimizees, hand-crafted optimizers, the
        /// coordinate-wise LSTM optimizer and its meta-gradient.
        .target(
            name: "L2L",
            dependencies: [
                "CBLAS", "CKernels",
                .product(name: "RealModule", package: "swift-numerics"),
            ]
        ),

        /// The research pipeline: experiment definitions, meta-training with HDF5 checkpoints,
        /// evaluation from checkpoints.
        .target(
            name: "Pipeline",
            dependencies: [
                "L2L", "MNIST", "HDF5",
                .product(name: "Yams", package: "Yams"),
            ]
        ),

        // MARK: Executables (parse arguments, call the library)

        .executableTarget(
            name: "l2l-fetch",
            dependencies: [
                "MNIST",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .executableTarget(
            name: "l2l-train",
            dependencies: [
                "Pipeline", "L2L",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "l2l-eval",
            dependencies: [
                "Pipeline", "L2L",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "l2l-sweep",
            dependencies: [
                "Pipeline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .executableTarget(
            name: "l2l-probe",
            dependencies: [
                "Pipeline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .executableTarget(
            name: "l2l-bench",
            dependencies: [
                "L2L", "MNIST", "Pipeline", "CKernels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: Tests (one target per module)

        /// Helpers shared by the test targets: temporary folders, processes, fixtures' paths.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "HDF5Tests", dependencies: ["HDF5", "TestSupport"]),
        .testTarget(name: "GzipTests", dependencies: ["Gzip", "TestSupport"]),
        .testTarget(name: "MNISTTests", dependencies: ["MNIST", "HDF5", "Gzip", "TestSupport"]),
        .testTarget(name: "L2LTests", dependencies: ["L2L", "CKernels", "MNIST", "TestSupport"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "HDF5", "L2L", "l2l-train", "l2l-eval", "l2l-sweep", "l2l-bench", "l2l-probe", "TestSupport"]),
        .testTarget(name: "FetchCommandTests", dependencies: ["l2l-fetch", "MNIST", "HDF5", "TestSupport"]),
    ]
)
