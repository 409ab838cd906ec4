// l2l-fetch: the first stage of the pipeline. Downloads the four MNIST files, verifies the SHA-256
// of their decompressed content, and stores them in one HDF5 file.
//
//     $ l2l-fetch                                  # public mirrors → data/mnist.h5
//     $ l2l-fetch --mirror ../shared/mnist         # a local folder holding the four .gz files
//     $ h5dump -H data/mnist.h5                    # inspect the result
import ArgumentParser
import Foundation
import MNIST

@main
struct FetchCommand: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "l2l-fetch",
        abstract: "Download, verify and store the MNIST database as HDF5.",
        discussion: """
            Reads train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz \
            and t10k-labels-idx1-ubyte.gz from the first mirror that has each, checks the SHA-256 of \
            each decompressed file against the pinned value, parses the IDX files, and writes \
            /train/images (60000×28×28), /train/labels, /test/images (10000×28×28) and /test/labels, \
            all UInt8, with the sources, checksums, tool version and creation time as root attributes. \
            The file is written to a temporary name and renamed into place only when complete; an \
            existing valid file is left alone.

            Mirrors, in order of precedence: --mirror (repeatable, tried in order), the MNIST_MIRROR \
            environment variable (one URL or folder), then \(Mirror.defaults.map(\.description).joined(separator: " and ")).

            Examples:
              l2l-fetch
              l2l-fetch --mirror ../shared/mnist --output data/mnist.h5
              MNIST_MIRROR=https://example.org/mnist/ l2l-fetch --force
            """,
        version: version
    )

    @Option(
        name: .customLong("mirror"),
        help: ArgumentHelp("A base URL (http or https) or a local folder holding the four .gz files; repeat to try several in order.", valueName: "url-or-folder"))
    var mirrors: [String] = []

    @Option(name: [.short, .long], help: ArgumentHelp("The HDF5 file to write.", valueName: "path"))
    var output = "data/mnist.h5"

    @Flag(help: "Rewrite the output even if it already holds the verified data set.")
    var force = false

    @Option(help: ArgumentHelp("Seconds to wait for data from a mirror before trying the next one.", valueName: "seconds"))
    var timeout: Double = 60

    func validate() throws {
        guard timeout > 0, timeout.isFinite else { throw ValidationError("--timeout must be a positive number of seconds, got \(timeout)") }
        guard !output.isEmpty else { throw ValidationError("--output must name a file") }
    }

    /// --mirror, then MNIST_MIRROR, then the public mirrors.
    var resolvedMirrors: [Mirror] {
        if !mirrors.isEmpty { return mirrors.map(Mirror.init(parsing:)) }
        if let environment = ProcessInfo.processInfo.environment["MNIST_MIRROR"], !environment.isEmpty {
            return [Mirror(parsing: environment)]
        }
        return Mirror.defaults
    }

    func run() throws {
        let fetch = MNISTFetch(
            mirrors: resolvedMirrors, output: output, force: force, timeout: timeout,
            toolVersion: "l2l-fetch \(Self.version)")
        _ = try fetch.run(reporter: StandardErrorReporter())
    }
}
