// l2l-fetch: the first stage of the pipeline. Reads the four files of MNIST (or of Fashion-MNIST,
// which has MNIST's format), verifies the SHA-256 of their decompressed content, and stores them
// in one HDF5 file.
//
//     $ l2l-fetch                                  # public mirrors → data/mnist.h5
//     $ l2l-fetch --mirror ../shared/mnist         # a local folder holding the four .gz files
//     $ l2l-fetch --dataset fashion-mnist          # Debian's dataset-fashion-mnist → data/fashion-mnist.h5
//     $ h5dump -H data/mnist.h5                    # inspect the result
import ArgumentParser
import Foundation
import MNIST

extension ImageDataset: ExpressibleByArgument {}

@main
struct FetchCommand: ParsableCommand {
    static let version = "0.2.0"

    static let configuration = CommandConfiguration(
        commandName: "l2l-fetch",
        abstract: "Download, verify and store MNIST or Fashion-MNIST as HDF5.",
        discussion: """
            Reads train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz \
            and t10k-labels-idx1-ubyte.gz from the first mirror that has each, checks the SHA-256 of \
            each decompressed file against the data set's pinned value, parses the IDX files, and \
            writes /train/images (60000×28×28), /train/labels, /test/images (10000×28×28) and \
            /test/labels, all UInt8, with the data set, sources, checksums, tool version and creation \
            time as root attributes. The file is written to a temporary name and renamed into place \
            only when complete; an existing valid file is left alone.

            Mirrors, in order of precedence: --mirror (repeatable, tried in order), the data set's \
            environment variable (one URL or folder), then its default mirrors:
            \(ImageDataset.allCases.map { "  \($0.rawValue): \($0.mirrorEnvironmentVariable), then \($0.defaultMirrors.map(\.description).joined(separator: " and "))" }.joined(separator: "\n"))
            Debian's dataset-fashion-mnist package (installed by `make deps`) provides the first \
            Fashion-MNIST mirror.

            Examples:
              l2l-fetch
              l2l-fetch --mirror ../shared/mnist --output data/mnist.h5
              MNIST_MIRROR=https://example.org/mnist/ l2l-fetch --force
              l2l-fetch --dataset fashion-mnist
            """,
        version: version
    )

    @Option(help: ArgumentHelp(
        "The data set to fetch.", valueName: "name"))
    var dataset: ImageDataset = .mnist

    @Option(
        name: .customLong("mirror"),
        help: ArgumentHelp("A base URL (http or https) or a local folder holding the four .gz files; repeat to try several in order.", valueName: "url-or-folder"))
    var mirrors: [String] = []

    @Option(name: [.short, .long], help: ArgumentHelp("The HDF5 file to write (default: data/<dataset>.h5, so data/mnist.h5 or data/fashion-mnist.h5).", valueName: "path"))
    var output: String?

    @Flag(help: "Rewrite the output even if it already holds the verified data set.")
    var force = false

    @Option(help: ArgumentHelp("Seconds to wait for data from a mirror before trying the next one.", valueName: "seconds"))
    var timeout: Double = 60

    func validate() throws {
        guard timeout > 0, timeout.isFinite else { throw ValidationError("--timeout must be a positive number of seconds, got \(timeout)") }
        guard output?.isEmpty != true else { throw ValidationError("--output must name a file") }
    }

    /// --mirror, then the data set's environment variable, then its default mirrors.
    var resolvedMirrors: [Mirror] {
        if !mirrors.isEmpty { return mirrors.map(Mirror.init(parsing:)) }
        if let environment = ProcessInfo.processInfo.environment[dataset.mirrorEnvironmentVariable], !environment.isEmpty {
            return [Mirror(parsing: environment)]
        }
        return dataset.defaultMirrors
    }

    func run() throws {
        let fetch = MNISTFetch(
            dataset: dataset, mirrors: resolvedMirrors, output: output ?? dataset.defaultOutput, force: force, timeout: timeout,
            toolVersion: "l2l-fetch \(Self.version)")
        _ = try fetch.run(reporter: StandardErrorReporter())
    }
}
