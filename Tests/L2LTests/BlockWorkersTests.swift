import Dispatch
import Testing
@testable import L2L

@Suite("block workers")
struct BlockWorkersTests {
    @Test("every block runs exactly once per job, also when several threads submit jobs at once")
    func everyBlockOnce() {
        let callers = 4, jobs = 300
        DispatchQueue.concurrentPerform(iterations: callers) { caller in
            for job in 0..<jobs {
                let count = 1 + (job + caller) % 5
                let runs = UnsafeMutablePointer<Int>.allocate(capacity: count)
                runs.initialize(repeating: 0, count: count)
                BlockWorkers.shared.run(count) { index in runs[index] += 1 + job }
                for index in 0..<count { #expect(runs[index] == 1 + job, "caller \(caller), job \(job), block \(index)") }
                runs.deallocate()
            }
        }
    }
}
