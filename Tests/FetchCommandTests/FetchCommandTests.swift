import Foundation
import HDF5
import Testing
import TestSupport

/// The built `l2l-fetch` executable, beside the test bundle in the build folder.
let fetchExecutable: String = {
    let buildFolder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    return buildFolder.appendingPathComponent("l2l-fetch").path
}()

/// `l2l-fetch` run as a user runs it: a real process, its exit status and its stderr.
@Suite("l2l-fetch end to end")
struct FetchCommandTests {
    init() throws {
        // The test target depends on the executable, so it must have been built beside the tests.
        try #require(FileManager.default.isExecutableFile(atPath: fetchExecutable), "no l2l-fetch at \(fetchExecutable)")
    }

    @Test("--help documents every option, the mirrors and an example")
    func help() throws {
        let result = try runProcess(fetchExecutable, ["--help"])
        #expect(result.status == 0)
        for text in ["--mirror", "--output", "--force", "--timeout", "MNIST_MIRROR", "ossci-datasets", "cvdf-datasets", "Examples:", "data/mnist.h5",
                     "--dataset", "fashion-mnist", "FASHION_MNIST_MIRROR", "/usr/share/datasets/fashion-mnist", "data/fashion-mnist.h5"] {
            #expect(result.standardOutput.contains(text), "--help lacks \(text)")
        }
    }

    @Test("--version prints the version")
    func version() throws {
        let result = try runProcess(fetchExecutable, ["--version"])
        #expect(result.status == 0)
        #expect(result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "0.2.0")
    }

    @Test("a bad --timeout is refused before any work")
    func badTimeout() throws {
        let result = try runProcess(fetchExecutable, ["--timeout", "0"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("--timeout must be a positive number"))
    }

    @Test("a mirror with the wrong data fails with the checksums named and a non-zero status")
    func checksumMismatchThroughTheCommand() throws {
        let folder = try TemporaryDirectory()
        let mirror = folder.path("mirror")
        try FileManager.default.createDirectory(atPath: mirror, withIntermediateDirectories: true)
        let labels: [UInt8] = [0, 0, 8, 1, 0, 0, 0, 2, 3, 4]
        for name in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
            try systemGzip(labels).write(to: URL(fileURLWithPath: "\(mirror)/\(name).gz"))
        }
        let output = folder.path("data/mnist.h5")
        let result = try runProcess(fetchExecutable, ["--output", output], environment: ["MNIST_MIRROR": mirror])
        #expect(result.status != 0)
        #expect(result.standardError.contains("checksum mismatch for MNIST's train-images-idx3-ubyte"))
        #expect(result.standardError.contains("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"))
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test("an unreachable mirror fails with each mirror's reason")
    func unreachable() throws {
        let folder = try TemporaryDirectory()
        let result = try runProcess(fetchExecutable, ["--mirror", folder.path("nothing-here"), "--mirror", "http://127.0.0.1:9/", "--output", folder.path("mnist.h5"), "--timeout", "5"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("cannot get MNIST's train-images-idx3-ubyte.gz from any mirror"))
        #expect(result.standardError.contains(folder.path("nothing-here/train-images-idx3-ubyte.gz") + ": no such file"))
        #expect(result.standardError.contains("http://127.0.0.1:9/train-images-idx3-ubyte.gz"))
        #expect(!result.standardError.contains("Fatal error"))
    }

    @Test("--dataset names the data set: an unknown one is refused with the choices, before any work")
    func unknownDataset() throws {
        let folder = try TemporaryDirectory()
        let result = try runProcess(fetchExecutable, ["--dataset", "cifar-10", "--output", folder.path("x.h5")])
        #expect(result.status != 0)
        #expect(result.standardError.contains("cifar-10"))
        #expect(result.standardError.contains("mnist") && result.standardError.contains("fashion-mnist"))
        #expect(!FileManager.default.fileExists(atPath: folder.path("x.h5")))
    }

    @Test("--dataset fashion-mnist reads FASHION_MNIST_MIRROR, checks Fashion-MNIST's checksums and writes data/fashion-mnist.h5")
    func fashionMirrorVariable() throws {
        let folder = try TemporaryDirectory()
        let mirror = folder.path("mirror")
        try FileManager.default.createDirectory(atPath: mirror, withIntermediateDirectories: true)
        for name in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
            try systemGzip([0, 0, 8, 1, 0, 0, 0, 2, 3, 4]).write(to: URL(fileURLWithPath: "\(mirror)/\(name).gz"))
        }
        // MNIST_MIRROR is not Fashion-MNIST's variable: were it read, the error would name this folder.
        let result = try runProcess(fetchExecutable, ["--dataset", "fashion-mnist"], environment: [
            "FASHION_MNIST_MIRROR": mirror, "MNIST_MIRROR": folder.path("not-this-one")], in: folder.url.path)
        #expect(result.status != 0)
        #expect(result.standardError.contains("checksum mismatch for Fashion-MNIST's train-images-idx3-ubyte from \(mirror)/train-images-idx3-ubyte.gz"))
        #expect(result.standardError.contains("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"))
        #expect(!FileManager.default.fileExists(atPath: folder.path("data/fashion-mnist.h5")))
    }

    @Test("Debian's Fashion-MNIST is the default mirror of --dataset fashion-mnist",
          .enabled(if: debianFashionMNIST != nil, "needs Debian's dataset-fashion-mnist (make deps)"))
    func fashionFromDebian() throws {
        let folder = try TemporaryDirectory()
        let result = try runProcess(fetchExecutable, ["--dataset", "fashion-mnist"], environment: ["FASHION_MNIST_MIRROR": ""], in: folder.url.path)
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardError.contains("from /usr/share/datasets/fashion-mnist, SHA-256 verified"))
        let file = try File.open(folder.path("data/fashion-mnist.h5"))
        #expect(try file.stringAttribute("dataset") == "fashion-mnist")
        #expect(try file.stringAttribute("source") == "/usr/share/datasets/fashion-mnist")
    }

    @Test("the shared mirror gives the real database; a second run says there is nothing to do",
          .enabled(if: sharedMNISTMirror != nil, "needs ../shared/mnist"))
    func sharedMirror() throws {
        let folder = try TemporaryDirectory()
        let output = folder.path("data/mnist.h5")
        let first = try runProcess(fetchExecutable, ["--output", output], environment: ["MNIST_MIRROR": sharedMNISTMirror ?? ""])
        #expect(first.status == 0, "\(first.standardError)")
        #expect(first.standardError.contains("SHA-256 verified"))
        let labels = try File.open(output).openDataset("test/labels").read(UInt8.self, rank: 1)
        #expect(labels.filter { $0 == 1 }.count == 1135)
        let second = try runProcess(fetchExecutable, ["--output", output], environment: ["MNIST_MIRROR": sharedMNISTMirror ?? ""])
        #expect(second.status == 0)
        #expect(second.standardError.contains("nothing to do"))
    }
}
