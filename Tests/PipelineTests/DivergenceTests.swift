import Testing
@testable import Pipeline

/// A diverged evaluation run is held at its last finite loss in the mean and counted, so that it
/// neither turns the mean into inf nor disappears.
@Suite("diverged evaluation runs")
struct DivergenceTests {
    @Test("held at the last finite loss, counted once, and their fraction at every step")
    func held() {
        let divergence = EvaluationRun.Divergence(runs: [
            [1, 2, .nan, .nan],      // a failed step: NaN from then on
            [1, 1, 1, 1],
            [3, .infinity, 2, 1],    // an overflow that came back
            [.nan, .nan, .nan, .nan],
        ])
        #expect(divergence.count == 3)
        #expect(divergence.held[0] == [1, 2, 2, 2])
        #expect(divergence.held[1] == [1, 1, 1, 1])
        #expect(divergence.held[2] == [3, 3, 2, 1])
        #expect(divergence.held[3].allSatisfy { $0.isNaN }, "a run with no finite loss has nothing to hold")
        #expect(divergence.fraction == [0.25, 0.5, 0.75, 0.75])
        let (mean, _) = EvaluationRun.meanAndStandardError(Array(divergence.held.prefix(3)), steps: 4)
        let expected: [Double] = [5.0 / 3, 2, 5.0 / 3, 4.0 / 3]
        #expect(mean == expected)
    }

    @Test("runs without a divergence are left exactly as they were")
    func untouched() {
        let runs: [[Float]] = [[0.5, 0.25, 0.125], [1, 0.75, 0.5]]
        let divergence = EvaluationRun.Divergence(runs: runs)
        #expect(divergence.count == 0 && divergence.fraction == [0, 0, 0])
        #expect(divergence.held == runs.map { $0.map(Double.init) })
    }
}
