import CBLAS
import CKernels
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The two workers that share the work of a step (the learned optimizer's chunks of coordinates,
/// the MLP's blocks of rows): the calling thread and one helper thread, kept for the life of the
/// process.
///
/// A step of the optimizer is a millisecond of work, so handing work to a sleeping thread (as
/// `DispatchQueue.concurrentPerform` does) loses a noticeable share of it to waking that thread up.
/// The helper therefore spins for a while after each job before it sleeps, as OpenMP runtimes do.
/// It is only started when the process may run on two CPUs or more (its affinity mask); otherwise,
/// and whenever another thread is already using the helper, the caller runs every index itself.
/// Which worker runs what never changes a result: the callers' pieces of work are fixed and each
/// writes its own memory, and the helper runs under the caller's floating-point mode (denormals
/// flushed or not).
/// How many threads a process's steps may use: 1 runs everything on the calling thread, 2 (the
/// most the workers use) adds the helper. Set it before the first step (`l2l-train --threads`).
public enum Threads {
    static let limit = Atomic<Int>(Int.max)

    /// Limits the threads of every later step to `count` (at least 1).
    public static func limit(to count: Int) {
        limit.store(max(count, 1), ordering: .sequentiallyConsistent)
    }

    /// The threads a step uses: the limit, the CPUs this process may run on, and the two workers.
    public static var used: Int {
        min(limit.load(ordering: .sequentiallyConsistent), Int(l2l_available_cpus()), 2)
    }
}

final class BlockWorkers: @unchecked Sendable {
    static let shared = BlockWorkers()

    /// How long the helper looks for a new job before it sleeps.
    static let spinNanoseconds: UInt64 = 2_000_000

    private let hasHelper: Bool
    /// Jobs published, and the last job the helper finished.
    private let published = Atomic<Int>(0), finished = Atomic<Int>(0)
    private let sleeping = Atomic<Bool>(false), busy = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    /// The job in progress: set before it is published, cleared only after the helper finished it.
    private var job: ((Int) -> Void)?, jobCount = 0, jobFloatingPointMode: UInt32 = 0

    private init() {
        hasHelper = Threads.used >= 2
        if hasHelper { startHelper() }
    }

    /// Runs `body(index)` for every index in 0..<count, the even indices on the calling thread
    /// and the odd ones on the helper, and returns when all have finished.
    func run(_ count: Int, _ body: (Int) -> Void) {
        guard count > 1, hasHelper, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for index in 0..<count { body(index) }
            return
        }
        defer { busy.store(false, ordering: .releasing) }
        withoutActuallyEscaping(body) { body in
            job = body
            jobCount = count
            jobFloatingPointMode = l2l_get_fp_control()
            let generation = published.wrappingAdd(1, ordering: .sequentiallyConsistent).newValue
            if sleeping.exchange(false, ordering: .sequentiallyConsistent) { wake.signal() }
            for index in stride(from: 0, to: count, by: 2) { body(index) }
            var spins = 0
            while finished.load(ordering: .acquiring) != generation {
                spins += 1
                if spins < 1 << 16 { l2l_cpu_relax() } else { sched_yield() }
            }
            job = nil
        }
    }

    private func startHelper() {
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { context in
            Unmanaged<BlockWorkers>.fromOpaque(context!).takeUnretainedValue().helperLoop()
        }, context)
        precondition(status == 0, "cannot start the helper thread (pthread_create: \(status))")
        pthread_detach(thread)
    }

    private func helperLoop() -> UnsafeMutableRawPointer? {
        var done = 0
        while true {
            // Wait for job done + 1: spin, then sleep until `run` signals.
            var start: UInt64 = 0
            while published.load(ordering: .acquiring) == done {
                if start == 0 { start = DispatchTime.now().uptimeNanoseconds }
                if DispatchTime.now().uptimeNanoseconds - start < Self.spinNanoseconds {
                    l2l_cpu_relax()
                    continue
                }
                sleeping.store(true, ordering: .sequentiallyConsistent)
                if published.load(ordering: .sequentiallyConsistent) != done {
                    // A job came in meanwhile: take back the sleep, or absorb the signal it sent.
                    if !sleeping.exchange(false, ordering: .sequentiallyConsistent) { wake.wait() }
                } else {
                    wake.wait()
                }
                start = 0
            }
            done += 1
            runJob()
            finished.store(done, ordering: .releasing)
        }
    }

    /// The helper's share of the current job (its reference to the job ends before it reports).
    private func runJob() {
        guard let body = job else { return }
        let saved = l2l_get_fp_control()
        l2l_set_fp_control(jobFloatingPointMode)
        defer { l2l_set_fp_control(saved) }
        for index in stride(from: 1, to: jobCount, by: 2) { body(index) }
    }
}
