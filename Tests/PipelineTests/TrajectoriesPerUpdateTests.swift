import Foundation
import HDF5
import L2L
import Testing
import TestSupport
@testable import Pipeline

@Suite("training.trajectories_per_update and training.meta_learning_rate_schedule")
struct TrajectoriesPerUpdateTests {
    static func pipeline(_ extra: String) -> String {
        tinyQuadraticPipeline(epochs: 12).replacingOccurrences(of: "  meta_learning_rate: 0.001\n", with: "  meta_learning_rate: 0.001\n" + extra)
    }

    @Test("the keys parse into the trainer's configuration; absent, they keep the paper's one trajectory and a constant rate")
    func parsing() throws {
        let plain = try PipelineConfiguration(text: tinyQuadraticPipeline(), path: "p.yaml")
        #expect(plain.training.trajectoriesPerUpdate == 1 && plain.training.schedule == .constant)
        let both = try PipelineConfiguration(text: Self.pipeline("""
              trajectories_per_update: 4
              meta_learning_rate_schedule: {warmup_updates: 50, decay: cosine, decay_updates: 5000, final_fraction: 0.1}

            """), path: "p.yaml")
        #expect(both.training.trajectoriesPerUpdate == 4)
        #expect(both.training.schedule == LearningRateSchedule(warmupUpdates: 50, decayUpdates: 5000, finalFraction: 0.1))
        #expect(!both.trainsLike(plain))
        let warmOnly = try PipelineConfiguration(text: Self.pipeline("  meta_learning_rate_schedule: {warmup_updates: 50}\n"), path: "p.yaml")
        #expect(warmOnly.training.schedule == LearningRateSchedule(warmupUpdates: 50, decayUpdates: 0, finalFraction: 1))

        func refused(_ extra: String) -> PipelineError? {
            do { _ = try PipelineConfiguration(text: Self.pipeline(extra), path: "p.yaml") } catch { return error }
            return nil
        }
        #expect(refused("  trajectories_per_update: 0\n")?.key == "training.trajectories_per_update")
        #expect(refused("  meta_learning_rate_schedule: {warmup_updates: 5, decay_updates: 9}\n")?.key == "training.meta_learning_rate_schedule.decay_updates")
        #expect(refused("  meta_learning_rate_schedule: {warmup_updates: 5, decay: cosine}\n")?.key == "training.meta_learning_rate_schedule.decay_updates")
        #expect(refused("  meta_learning_rate_schedule: {warmup_updates: 5, decay: step}\n")?.key == "training.meta_learning_rate_schedule.decay")
    }

    @Test("a checkpoint holds every trajectory in progress, one row each, and reads back equal; K = 1 stays a vector")
    func checkpointRows() throws {
        let folder = try TemporaryDirectory()
        defer { withExtendedLifetime(folder) {} }
        for k in [1, 3] {
            let configuration = try PipelineConfiguration(text: Self.pipeline("  trajectories_per_update: \(k)\n"), path: "p.yaml")
            let trainer = MetaTrainer(problem: QuadraticProblem(problems: 4, dimensions: 5), architecture: configuration.architecture,
                                      configuration: configuration.training, seed: 3)
            try trainer.trainUnroll()
            var state = TrainingState.initial(configuration)
            state.trainer = trainer.state
            state.pendingLosses = [Float](repeating: 1, count: 5)
            state.pendingMetaLosses = [5]
            #expect(state.trainer.trajectories.count == k)
            let file = try File.createInMemory(folder.path("k\(k).h5"))
            try Checkpoint.create(in: file, parameters: trainer.phi.values.count)
            try Checkpoint.write(state, to: file)
            #expect(try file.openDataset("checkpoint/trajectory/theta").shape == (k == 1 ? [20] : [k, 20]))
            #expect(try Checkpoint.read(from: file, architecture: configuration.architecture) == state)
        }
    }

    @Test("a run of K = 2 with a warm-up stopped by SIGTERM inside a trajectory resumes to the same file")
    func resumes() throws {
        // 640 coordinates and 25 unrolls per trajectory, so that a SIGTERM falls inside one.
        let text = Self.pipeline("""
              trajectories_per_update: 2
              meta_learning_rate_schedule: {warmup_updates: 20, decay: cosine, decay_updates: 40, final_fraction: 0.5}

            """)
            .replacingOccurrences(of: "problems: 4, dimensions: 5", with: "problems: 64, dimensions: 10")
            .replacingOccurrences(of: "  steps: 20\n  unroll: 5\n", with: "  steps: 50\n  unroll: 2\n")
            .replacingOccurrences(of: "epochs: 12", with: "epochs: 4")
        let (folder, pipeline, out) = try trainedRun(text)
        defer { withExtendedLifetime(folder) {} }
        let stopped = folder.path("stopped")
        let process = try BackgroundProcess(executable("l2l-train"), [pipeline, "--out", stopped])
        #expect(process.wait(for: "] 1/4"), "\(process.standardError)")
        usleep(150_000)
        process.signal(SIGTERM)
        #expect(process.finish() == 143, "\(process.standardError)")
        #expect(process.standardError.contains("at step"), "stopped inside a trajectory: \(process.standardError)")
        let result = try runProcess(executable("l2l-train"), [pipeline, "--out", stopped, "--resume"])
        #expect(result.status == 0, "\(result.standardError)")
        try expectIdentical(out + "/train.h5", stopped + "/train.h5", "K = 2, resumed after SIGTERM")
    }
}
