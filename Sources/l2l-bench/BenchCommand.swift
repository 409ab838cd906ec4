// l2l-bench: the speed and memory of meta-training and evaluation, as medians of timed
// repetitions after a warm-up, at 1 and 2 threads, next to the machine's sgemm and multiply-add peaks.
//
//     $ make bench          # builds in release mode, prints the table, writes runs/bench/latest.json
import ArgumentParser
import Foundation
import L2L
import MNIST

@main
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "l2l-bench",
        abstract: "Measure meta-training and evaluation speed, memory and arithmetic efficiency.",
        discussion: """
            Runs each benchmark (mnist-train, mnist-eval, quadratic-train, quadratic-eval) in a child \
            process pinned to 1 and then 2 CPUs (taskset), so that each reports its own peak resident \
            memory; each child warms up, then times --repetitions repetitions and reports their median. \
            FLOPs are counted analytically from the matrix products (the element-wise work is not \
            counted): per optimizee step, the LSTM forward does 2·N·Σ_l fan_in_l·4H_l (plus 2·N·H for \
            the output); meta-training adds as much for ∂W and for ∂[x; h], less layer 1's ∂x, which \
            is not needed (2·N·x·4H₁), plus the optimizee's own products; evaluation does the \
            forward and the optimizee's gradient. \
            Efficiency is that rate over a 2048² sgemm measured on the same number of threads \
            (BLAS's peak), and over the multiply-add peak: twelve independent chains of \
            multiply-adds in the widest vectors the processor has (AVX-512 here), on as many threads \
            (the arithmetic peak, which BLAS may not reach). \
            Writes a table to standard output and runs/bench/latest.json (plus a dated copy).

            Examples:
              l2l-bench
              l2l-bench --repetitions 3 --data data/mnist.h5
            """
    )

    @Option(help: "Timed repetitions per benchmark (the median is reported).")
    var repetitions = 5

    @Option(help: ArgumentHelp("The MNIST file (synthetic data of the same shape when it is missing).", valueName: "path"))
    var data = "data/mnist.h5"

    @Option(help: ArgumentHelp("Where to write latest.json and its dated copy.", valueName: "folder"))
    var out = "runs/bench"

    @Option(help: .hidden)
    var child: String?

    @Option(help: .hidden)
    var threads = 1

    func validate() throws {
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1") }
    }

    func run() throws {
        if let child {
            let result = try Benchmarks.run(child, threads: threads, repetitions: repetitions, data: data)
            print(String(decoding: try JSONEncoder().encode(result), as: UTF8.self))
            return
        }
        var results: [BenchResult] = []
        for threads in [1, 2] {
            for name in Benchmarks.names {
                FileHandle.standardError.write(Data("measuring \(name) on \(threads) thread(s)…\n".utf8))
                results.append(try runChild(name, threads: threads))
            }
        }
        let sgemm = [1, 2].map { Peak(threads: $0, gflops: Benchmarks.sgemmPeak(threads: $0)) }
        let fma = [1, 2].map { Peak(threads: $0, gflops: Benchmarks.fmaPeak(threads: $0)) }
        func peak(_ list: [Peak], _ threads: Int) -> Double { list.first { $0.threads == threads }?.gflops ?? .nan }
        results = results.map { $0.withEfficiencies(sgemmPeak: peak(sgemm, $0.threads), fmaPeak: peak(fma, $0.threads)) }
        let report = BenchReport(machine: Machine.current, codeVersion: Benchmarks.codeVersion, sgemmPeakGFLOPS: sgemm, fmaPeakGFLOPS: fma, results: results)
        print(report.table)
        try report.write(to: out)
    }

    /// Runs one benchmark in a child process pinned to `threads` CPUs.
    private func runChild(_ name: String, threads: Int) throws -> BenchResult {
        let process = Process()
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let cpus = (0..<threads).map(String.init).joined(separator: ",")
        let taskset = "/usr/bin/taskset"
        let arguments = [me, "--child", name, "--threads", "\(threads)", "--repetitions", "\(repetitions)", "--data", data]
        if FileManager.default.isExecutableFile(atPath: taskset) {
            process.executableURL = URL(fileURLWithPath: taskset)
            process.arguments = ["-c", cpus] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: me)
            process.arguments = Array(arguments.dropFirst())
        }
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ValidationError("benchmark \(name) failed (status \(process.terminationStatus))") }
        return try JSONDecoder().decode(BenchResult.self, from: text)
    }
}
