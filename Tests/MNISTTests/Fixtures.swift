import Foundation
import MNIST
import TestSupport

/// A tiny MNIST-shaped data set made in the test (never the real files): `trainCount` and
/// `testCount` 28 × 28 images with deterministic pixels and labels.
struct Fixture {
    var trainImages: IDXImages
    var trainLabels: [UInt8]
    var testImages: IDXImages
    var testLabels: [UInt8]

    init(trainCount: Int = 12, testCount: Int = 4) {
        func images(_ count: Int, seed: Int) -> IDXImages {
            let pixels = (0..<count * 784).map { UInt8(truncatingIfNeeded: ($0 * 7 + seed) % 256) }
            return IDXImages(count: count, rows: 28, columns: 28, pixels: pixels)
        }
        trainImages = images(trainCount, seed: 3)
        trainLabels = (0..<trainCount).map { UInt8($0 % 10) }
        testImages = images(testCount, seed: 5)
        testLabels = (0..<testCount).map { UInt8(($0 * 3) % 10) }
    }

    /// The decompressed IDX content of each part.
    var idx: [MNISTPart: [UInt8]] {
        [
            .trainImages: IDX.encode(trainImages), .trainLabels: IDX.encode(labels: trainLabels),
            .testImages: IDX.encode(testImages), .testLabels: IDX.encode(labels: testLabels),
        ]
    }

    var checksums: [MNISTPart: String] { idx.mapValues(MNISTStore.sha256Hex) }

    /// Writes the four `.gz` files into `folder` (with `overrides` replacing a part's IDX bytes,
    /// or `rawOverrides` a part's compressed bytes) and returns the folder's path.
    @discardableResult
    func writeMirror(
        in folder: TemporaryDirectory, name: String = "mirror",
        overrides: [MNISTPart: [UInt8]] = [:], rawOverrides: [MNISTPart: Data] = [:]
    ) throws -> String {
        let mirror = folder.url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: mirror, withIntermediateDirectories: true)
        for part in MNISTPart.allCases {
            let data = try rawOverrides[part] ?? systemGzip(overrides[part] ?? idx[part] ?? [])
            try data.write(to: mirror.appendingPathComponent(part.compressedFileName))
        }
        return mirror.path
    }
}

/// Every file in `folder`, hidden ones included.
func filesIn(_ folder: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
}
