import Foundation
import Synchronization

/// Set when SIGINT or SIGTERM arrives: training finishes the unroll in progress, writes its
/// checkpoint and stops.
let stopSignal = Atomic<Int32>(0)

enum StopSignals {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    /// Routes SIGINT and SIGTERM to `stopSignal` instead of killing the process.
    static func install() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                if stopSignal.exchange(number, ordering: .relaxed) == 0 {
                    note("\nreceived \(number == SIGINT ? "SIGINT" : "SIGTERM"): finishing the current unroll, then writing the checkpoint")
                }
            }
            source.resume()
            sources.append(source)
        }
    }

    static var received: Int32 { stopSignal.load(ordering: .relaxed) }
}
