import Foundation
import HDF5
import L2L

/// Which φ of a training run an evaluation uses (`l2l-eval --phi`).
///
/// `/phi/best` is what the run's validation selected; the others let a study ask whether that
/// selection is the right one (issue 12, hypothesis 2) without training again, since every run
/// keeps snapshots of φ in `/phi/history`:
/// - `latest`: `/phi/latest`, the last φ;
/// - `validation-minimum`: the snapshot at the lowest score of `/validation/loss`, which is
///   `/phi/best` without top-k re-evaluation;
/// - `trajectory:N`: the snapshot taken after N trajectories;
/// - `average:A-B`: the mean of the snapshots taken after A to B trajectories (both included),
///   Polyak averaging of the meta-training iterates.
public enum PhiSelection: Equatable, Sendable, CustomStringConvertible {
    case best
    case latest
    case validationMinimum
    case trajectory(Int)
    case average(from: Int, to: Int)

    /// Parses the `--phi` syntax above; the error says what is accepted.
    public init(parsing text: String) throws(PhiSelectionError) {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        switch (parts.first ?? "", parts.count) {
        case ("best", 1): self = .best
        case ("latest", 1): self = .latest
        case ("validation-minimum", 1): self = .validationMinimum
        case ("trajectory", 2):
            guard let n = Int(parts[1]), n >= 0 else { throw PhiSelectionError(text: text, "expected trajectory:N with N a whole number of trajectories") }
            self = .trajectory(n)
        case ("average", 2):
            let bounds = parts[1].split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
            guard bounds.count == 2, let from = bounds[0], let to = bounds[1], from >= 0, from <= to else {
                throw PhiSelectionError(text: text, "expected average:A-B with whole numbers of trajectories A ≤ B")
            }
            self = .average(from: from, to: to)
        default:
            throw PhiSelectionError(text: text, "expected best, latest, validation-minimum, trajectory:N or average:A-B")
        }
    }

    public var description: String {
        switch self {
        case .best: "best"
        case .latest: "latest"
        case .validationMinimum: "validation-minimum"
        case let .trajectory(n): "trajectory:\(n)"
        case let .average(from, to): "average:\(from)-\(to)"
        }
    }

    /// What the evaluation file's name gains (`eval-validation-phi-average-800-1000.h5`), so that
    /// an evaluation of another φ never replaces the one of `/phi/best`.
    var fileSuffix: String {
        self == .best ? "" : "-phi-" + description.replacingOccurrences(of: ":", with: "-")
    }

    /// This selection's φ in `file` (a `train.h5`), checked like `/phi/best`: finite, and of
    /// `architecture`'s shapes. A snapshot that is not there is an error naming what is.
    func phi(in file: File, architecture: LSTMArchitecture) throws -> (phi: Phi, source: String, epoch: Int64) {
        switch self {
        case .best, .latest:
            let group = self == .best ? TrainFile.best : TrainFile.latest
            let epoch = try file.openGroup(group).attribute("epoch", as: Int64.self)
            return (phi: try TrainFile.readPhi(group, in: file, architecture: architecture), source: "/\(group)", epoch: epoch)
        case .validationMinimum:
            let scores = try file.openDataset(TrainFile.validationLoss).read(Double.self)
            let epochs = try file.openDataset(TrainFile.validationEpoch).read(Int64.self)
            guard let index = scores.indices.filter({ scores[$0].isFinite }).min(by: { scores[$0] < scores[$1] }), index < epochs.count else {
                throw RunError(file: file.filePath, object: "/\(TrainFile.validationLoss)", "holds no finite validation score; there is no validation minimum to evaluate")
            }
            let snapshot = try Self.snapshots(in: file, architecture: architecture) { $0 == epochs[index] }
            guard snapshot.count == 1 else {
                throw RunError(file: file.filePath, object: "/\(TrainFile.historyEpoch)", "has no snapshot at trajectory \(epochs[index]), where /\(TrainFile.validationLoss) is lowest (snapshots every history_period trajectories; validation-minimum needs a multiple of validation_period)")
            }
            return (phi: snapshot[0].phi, source: "/\(TrainFile.historyValues) (trajectory \(epochs[index]), the lowest of /\(TrainFile.validationLoss))", epoch: epochs[index])
        case let .trajectory(n):
            let snapshot = try Self.snapshots(in: file, architecture: architecture) { $0 == n }
            guard snapshot.count == 1 else {
                throw RunError(file: file.filePath, object: "/\(TrainFile.historyEpoch)", "has no snapshot at trajectory \(n) (\(try Self.available(in: file)))")
            }
            return (phi: snapshot[0].phi, source: "/\(TrainFile.historyValues) (trajectory \(n))", epoch: Int64(n))
        case let .average(from, to):
            let chosen = try Self.snapshots(in: file, architecture: architecture) { (from...to).contains(Int($0)) }
            guard let last = chosen.last else {
                throw RunError(file: file.filePath, object: "/\(TrainFile.historyEpoch)", "has no snapshot between trajectories \(from) and \(to) (\(try Self.available(in: file)))")
            }
            var mean = Phi(zerosFor: architecture)
            // Summed in Double, so that the mean does not depend on the snapshots' order.
            let count = Double(chosen.count)
            for i in mean.values.indices {
                mean.values[i] = Float(chosen.reduce(0.0) { $0 + Double($1.phi.values[i]) } / count)
            }
            return (phi: mean, source: "/\(TrainFile.historyValues) (mean of \(chosen.count) snapshots, trajectories \(chosen[0].epoch)–\(last.epoch))", epoch: last.epoch)
        }
    }

    /// The snapshots of `/phi/history` whose trajectory count passes `keep`, in order.
    private static func snapshots(in file: File, architecture: LSTMArchitecture, keep: (Int64) -> Bool) throws -> [(epoch: Int64, phi: Phi)] {
        let history = try TrainFile.history(in: file, architecture: architecture)
        return try history.epochs.indices.filter { keep(history.epochs[$0]) }.map { (history.epochs[$0], try history.phi($0)) }
    }

    /// "snapshots at trajectories 10, 20, …, 1000", for an error message.
    private static func available(in file: File) throws -> String {
        let epochs = try file.openDataset(TrainFile.historyEpoch).read(Int64.self)
        guard let first = epochs.first, let last = epochs.last else { return "it holds no snapshots" }
        return epochs.count <= 3 ? "snapshots at trajectories \(epochs.map(String.init).joined(separator: ", "))"
            : "snapshots at trajectories \(first), \(epochs[1]), …, \(last)"
    }
}

/// A `--phi` value that is not one of the accepted forms.
public struct PhiSelectionError: Error, CustomStringConvertible {
    public let text: String
    public let reason: String
    init(text: String, _ reason: String) { self.text = text; self.reason = reason }
    public var description: String { "--phi \(text): \(reason)" }
}
