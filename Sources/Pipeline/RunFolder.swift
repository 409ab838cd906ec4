import Foundation
import HDF5

/// A run's folder (`runs/<name>/`, or `--out`): `train.h5`, `eval.h5`, the lock file `.lock`, and
/// `set-aside/`, where runs replaced by a changed pipeline are kept.
///
/// Runs are never deleted but by `l2l-train --force`. When the pipeline's meta-training settings
/// change, `l2l-train --set-aside` moves the old run's files to
/// `set-aside/<UTC time>-<reason>/` with the pipeline they were trained with (`pipeline.yaml`, so
/// `l2l-eval set-aside/…/pipeline.yaml --out set-aside/…` evaluates it) and why (`reason.txt`),
/// and brings a set-aside run back when the pipeline matches it again.
public struct RunFolder {
    public let path: String

    public init(path: String) { self.path = path }

    var trainPath: String { file("train.h5") }
    var evalPath: String { file("eval.h5") }
    /// `eval.h5`, `eval-validation.h5`, with `-<name>` after `eval` for a named evaluation
    /// (`evaluation.name`) and the φ's suffix before `.h5`.
    func evalPath(_ split: EvaluationSplit, phi: PhiSelection = .best, name: String? = nil) -> String {
        let base = name.map { split.fileName.replacingOccurrences(of: "eval", with: "eval-\($0)") } ?? split.fileName
        return file(base.replacingOccurrences(of: ".h5", with: phi.fileSuffix + ".h5"))
    }
    var setAsidePath: String { file("set-aside") }
    /// What a set-aside moves: the files that belong to one run: its training, its evaluations
    /// (of every split, and of another φ than `/phi/best`) and its history evaluation.
    static func runFiles(in folder: String) -> [String] {
        let present = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        let evaluations = present.filter { $0.hasPrefix("eval") && $0.hasSuffix(".h5") }
        return ["train.h5", HistoryEvaluation.fileName] + Set(EvaluationSplit.allCases.map(\.fileName) + evaluations).sorted()
    }
    var runFiles: [String] { Self.runFiles(in: path) }

    func file(_ name: String) -> String { URL(fileURLWithPath: path).appendingPathComponent(name).path }

    /// Refuses a path that exists and is not a folder; creates the folder when `create`.
    func prepare(create: Bool) throws {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
            guard isFolder.boolValue else { throw RunError(file: path, "is a file; the run's output must be a folder (--out names the folder that holds train.h5)") }
        } else if create {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw RunError(file: path, "cannot create the run folder: \(Self.reason(error))")
            }
        }
    }

    /// Takes the run's lock for this process's lifetime (or until the lock is released): a second
    /// stage on the same run, with any flag, is refused at once with the holder's description.
    /// The folder is created if need be (a path that is a file is refused), and, once the lock is
    /// held, temporary files of dead processes in it are removed.
    func lock(stage: String) throws -> RunLock {
        try prepare(create: true)
        let lock = try RunLock(path: file(".lock"), stage: stage)
        removeStaleTemporaries()
        return lock
    }

    /// Sets aside a run of a plain pipeline found in what is now a sweep's folder (its members
    /// live in subfolders, and the sweep's evaluation would replace that run's eval.h5). The
    /// members of one sweep may start at once: the check waits for the folder's lock.
    public func setAsidePlainRun(sweep path: String) throws {
        guard FileManager.default.fileExists(atPath: trainPath) else { return }
        try prepare(create: true)
        let lock = try RunLock(path: file(".lock"), stage: "l2l-train (setting aside a plain run)", wait: true)
        defer { withExtendedLifetime(lock) {} }
        guard FileManager.default.fileExists(atPath: trainPath) else { return }
        let text = (try? File.open(trainPath).stringAttribute("configuration")) ?? ""
        let aside = try setAside(label: "became-a-sweep", reason: "\(path) became a sweep; its members train in \(self.path)/<member id>/", pipelineText: text)
        note("set the run in \(self.path) aside in \(aside): \(path) is now a sweep\nevaluate it with: l2l-eval \(aside)/pipeline.yaml --out \(aside)")
    }

    /// Removes the temporary files of dead processes beside the run's files, and says so.
    private func removeStaleTemporaries() {
        for name in runFiles {
            for stale in DurableWrite.removeStaleTemporaries(of: file(name)) {
                note("removed \(stale), left by a process that no longer runs")
            }
        }
    }

    /// Moves the run's files to `set-aside/<time>-<label>/` with `pipelineText` as
    /// `pipeline.yaml` and `reason` as `reason.txt`; returns the new folder.
    func setAside(label: String, reason: String, pipelineText: String) throws -> String {
        let stamp = Self.timestamp.string(from: Date())
        var destination = URL(fileURLWithPath: setAsidePath).appendingPathComponent("\(stamp)-\(label)").path
        var suffix = 2
        while FileManager.default.fileExists(atPath: destination) {
            destination = URL(fileURLWithPath: setAsidePath).appendingPathComponent("\(stamp)-\(label)-\(suffix)").path
            suffix += 1
        }
        do {
            try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
            try pipelineText.write(toFile: destination + "/pipeline.yaml", atomically: true, encoding: .utf8)
            try (reason + "\n").write(toFile: destination + "/reason.txt", atomically: true, encoding: .utf8)
        } catch {
            throw RunError(file: destination, "cannot set the run aside: \(Self.reason(error))")
        }
        for name in runFiles where FileManager.default.fileExists(atPath: file(name)) {
            guard rename(file(name), destination + "/" + name) == 0 else {
                throw RunError(file: file(name), "cannot move it to \(destination): \(systemErrorDescription(errno))")
            }
        }
        return destination
    }

    /// The set-aside runs, newest first.
    func setAsideRuns() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: setAsidePath)) ?? []
        return names.sorted(by: >).map { setAsidePath + "/" + $0 }
            .filter { FileManager.default.fileExists(atPath: $0 + "/train.h5") }
    }

    /// Moves a set-aside run's files back into the run folder (which holds none) and removes what
    /// set-aside (and a stage run there) added; refused while another process uses that run.
    func bringBack(_ folder: String) throws {
        let lock = try RunFolder(path: folder).lock(stage: "l2l-train (bringing the run back)")
        defer { withExtendedLifetime(lock) {} }
        for name in Self.runFiles(in: folder) where FileManager.default.fileExists(atPath: folder + "/" + name) {
            guard rename(folder + "/" + name, file(name)) == 0 else {
                throw RunError(file: folder + "/" + name, "cannot move it back to \(path): \(systemErrorDescription(errno))")
            }
        }
        for name in ["pipeline.yaml", "reason.txt", ".lock"] { unlink(folder + "/" + name) }
        rmdir(folder)
    }

    /// Deletes the run's files (`--force`: the user asked for it).
    func delete() throws {
        for name in runFiles where FileManager.default.fileExists(atPath: file(name)) {
            guard unlink(file(name)) == 0 else { throw RunError(file: file(name), "cannot delete it: \(systemErrorDescription(errno))") }
        }
    }

    private static let timestamp: DateFormatter = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter
    }()

    static func reason(_ error: Error) -> String {
        if let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return systemErrorDescription(Int32(underlying.code))
        }
        return (error as NSError).localizedDescription
    }
}

/// An exclusive `flock` on a run's lock file, held until released (or the process ends, however
/// it ends: the kernel drops the lock). The file names the holder for whoever is refused.
final class RunLock {
    private let descriptor: Int32

    /// - Parameter wait: wait for the lock instead of refusing at once (for short operations).
    init(path: String, stage: String, wait: Bool = false) throws {
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw RunError(file: path, "cannot open the run's lock file: \(systemErrorDescription(errno))") }
        guard flock(descriptor, LOCK_EX | (wait ? 0 : LOCK_NB)) == 0 else {
            let number = errno
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(descriptor)
            guard number == EWOULDBLOCK else { throw RunError(file: path, "cannot lock the run: \(systemErrorDescription(number))") }
            throw RunError(file: URL(fileURLWithPath: path).deletingLastPathComponent().path,
                           "another process is using this run (\(holder.isEmpty ? "unknown" : holder)); wait for it to finish or stop it first",
                           reason: .busy)
        }
        let arguments = CommandLine.arguments.joined(separator: " ")
        let text = "pid \(getpid()), \(stage), since \(ISO8601DateFormatter().string(from: Date())): \(arguments)\n"
        ftruncate(descriptor, 0)
        _ = text.withCString { write(descriptor, $0, strlen($0)) }
    }

    deinit { close(descriptor) }
}
