import Foundation
import Testing
import TestSupport
@testable import Pipeline

@Suite("provenance: the code version a file records")
struct ProvenanceTests {
    /// A fake build folder, `<root>/.build/triple/release/`, outside any git checkout.
    private func buildFolder(in folder: TemporaryDirectory) throws -> URL {
        let release = URL(fileURLWithPath: folder.path(".build/triple/release"))
        try FileManager.default.createDirectory(at: release, withIntermediateDirectories: true)
        return release
    }

    private func touch(_ url: URL, _ text: String, at date: Date) throws {
        try text.write(to: url, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.modificationDate: date], ofItemAtPath: url.path)
    }

    @Test("the build's stamp names the commit when written after the executable, and is ignored when older, empty or not one line")
    func buildStamp() throws {
        let folder = try TemporaryDirectory()
        defer { withExtendedLifetime(folder) {} }
        let release = try buildFolder(in: folder)
        let executable = release.appendingPathComponent("l2l-train"), stamp = release.appendingPathComponent("code-version")
        let built = Date(timeIntervalSince1970: 1_800_000_000)
        try touch(executable, "binary", at: built)

        try touch(stamp, "4621b3a\n", at: built.addingTimeInterval(5))
        #expect(Provenance.buildStamp(in: release, executable: executable) == "4621b3a")
        #expect(Provenance.codeVersion(executable: executable) == "0.1.0+4621b3a")

        // A stamp from an earlier build describes another binary: the checkout is asked instead
        // (here none, so the package version alone).
        try touch(stamp, "4621b3a\n", at: built.addingTimeInterval(-5))
        #expect(Provenance.buildStamp(in: release, executable: executable) == nil)
        #expect(Provenance.codeVersion(executable: executable) == "0.1.0")

        for text in ["", "\n", "4621b3a\nsomething else\n"] {
            try touch(stamp, text, at: built.addingTimeInterval(5))
            #expect(Provenance.buildStamp(in: release, executable: executable) == nil, "\(text.debugDescription)")
        }
        try FileManager.default.removeItem(at: stamp)
        #expect(Provenance.buildStamp(in: release, executable: executable) == nil)
    }
}
