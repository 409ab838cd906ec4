import CKernels
import Foundation
import L2L
import MNIST
import Pipeline

/// One benchmark's measurement.
struct BenchResult: Codable {
    var name: String
    var threads: Int
    /// Median optimizee steps per second.
    var stepsPerS: Double
    var peakRssMb: Double
    /// FLOPs of the matrix products per second, at the median.
    var gflops: Double
    /// `gflops` over the sgemm peak on the same number of threads.
    var efficiency: Double
    /// `gflops` over the measured multiply-add peak on the same number of threads.
    var fmaEfficiency: Double
    var repetitions: Int
    /// Matrix-product FLOPs per optimizee step (the formula in --help).
    var flopsPerStep: Double

    func withEfficiencies(sgemmPeak: Double, fmaPeak: Double) -> BenchResult {
        var copy = self
        copy.efficiency = sgemmPeak > 0 ? gflops / sgemmPeak : 0
        copy.fmaEfficiency = fmaPeak > 0 ? gflops / fmaPeak : 0
        return copy
    }
}

/// A peak rate measured on some number of threads.
struct Peak: Codable {
    var threads: Int
    var gflops: Double
}

struct Machine: Codable {
    var cpu: String
    var cores: Int
    var blas: String

    static var current: Machine {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        return Machine(cpu: model, cores: ProcessInfo.processInfo.activeProcessorCount, blas: Matrix.blasDescription)
    }
}

struct BenchReport: Codable {
    var machine: Machine
    var codeVersion: String
    var sgemmPeakGFLOPS: [Peak]
    /// The multiply-add peak in the widest vectors the processor has (`l2l_fma_peak`).
    var fmaPeakGFLOPS: [Peak]
    var results: [BenchResult]

    var table: String {
        func peaks(_ list: [Peak]) -> String {
            list.map { "\(String(format: "%.1f", $0.gflops)) GFLOP/s on \($0.threads) thread(s)" }.joined(separator: ", ")
        }
        var lines = ["machine: \(machine.cpu), \(machine.cores) cores, \(machine.blas); code \(codeVersion)"]
        lines.append("sgemm 2048² peak: " + peaks(sgemmPeakGFLOPS))
        lines.append("multiply-add peak: " + peaks(fmaPeakGFLOPS))
        lines.append("")
        lines.append("benchmark         threads   steps/s   peak RSS MB   GFLOP/s   of sgemm   of FMA peak   MFLOP/step")
        for r in results {
            let name = r.name.padding(toLength: 17, withPad: " ", startingAt: 0)
            lines.append(name + String(format: " %7d %9.1f %13.0f %9.1f %9.1f%% %12.1f%% %12.1f", r.threads, r.stepsPerS, r.peakRssMb, r.gflops,
                                       100 * r.efficiency, 100 * r.fmaEfficiency, r.flopsPerStep / 1e6))
        }
        lines.append("(medians of \(results.first?.repetitions ?? 0) timed repetitions after a warm-up)")
        return lines.joined(separator: "\n")
    }

    func write(to folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(self)
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        try data.write(to: URL(fileURLWithPath: folder).appendingPathComponent("latest.json"), options: .atomic)
        try data.write(to: URL(fileURLWithPath: folder).appendingPathComponent("\(stamp).json"), options: .atomic)
        FileHandle.standardError.write(Data("wrote \(folder)/latest.json and \(folder)/\(stamp).json\n".utf8))
    }
}

enum Benchmarks {
    static let names = ["mnist-train", "mnist-eval", "quadratic-train", "quadratic-eval"]
    static var codeVersion: String { Provenance.codeVersion }

    /// Matrix-product FLOPs of one LSTM forward step on `coordinates` coordinates.
    static func lstmForwardFLOPs(_ architecture: LSTMArchitecture, coordinates: Int) -> Double {
        var below = architecture.preprocessing.inputSize, total = 0.0
        for hidden in architecture.hiddenSizes {
            total += 2 * Double(coordinates) * Double(below + hidden) * Double(4 * hidden)
            below = hidden
        }
        return total + 2 * Double(coordinates) * Double(below)
    }

    /// Matrix-product FLOPs of one meta-training step of the LSTM: forward, ∂W, and ∂[x; h]
    /// without layer 1's ∂x (the gradient's preprocessing needs no derivative).
    static func lstmTrainingFLOPs(_ architecture: LSTMArchitecture, coordinates: Int) -> Double {
        let unneeded = 2 * Double(coordinates) * Double(architecture.preprocessing.inputSize) * Double(4 * (architecture.hiddenSizes.first ?? 0))
        return 3 * lstmForwardFLOPs(architecture, coordinates: coordinates) - unneeded
    }

    /// Matrix-product FLOPs of one MLP loss-and-gradient on a minibatch (forward, ∂W, ∂input).
    static func mlpFLOPs(sizes: [Int], batch: Int) -> Double {
        zip(sizes, sizes.dropFirst()).reduce(0.0) { $0 + 3 * 2 * Double(batch) * Double($1.0) * Double($1.1) }
    }

    static func run(_ name: String, threads: Int, repetitions: Int, data: String) throws -> BenchResult {
        Matrix.setThreads(1)
        let times: [Double], stepsPerRepetition: Int, flops: Double
        switch name {
        case "mnist-train", "mnist-eval":
            let problem = MLPProblem(data: try mnistTrain(data))
            let sizes = [784, 20, 10], n = 15_910
            if name == "mnist-train" {
                let trainer = MetaTrainer(problem: problem, architecture: .paperMNIST, seed: 1)
                stepsPerRepetition = 40
                times = try time(repetitions) { for _ in 0..<2 { try trainer.trainUnroll() } }
                flops = lstmTrainingFLOPs(.paperMNIST, coordinates: n) + mlpFLOPs(sizes: sizes, batch: 128)
            } else {
                stepsPerRepetition = 50
                times = try evaluation(problem: problem, architecture: .paperMNIST, steps: stepsPerRepetition, repetitions: repetitions)
                flops = lstmForwardFLOPs(.paperMNIST, coordinates: n) + mlpFLOPs(sizes: sizes, batch: 128)
            }
        case "quadratic-train", "quadratic-eval":
            let problem = QuadraticProblem()
            let n = 1280
            let quadraticFLOPs = 2 * 2 * Double(128 * 10 * 10)
            if name == "quadratic-train" {
                let trainer = MetaTrainer(problem: problem, architecture: .paperQuadratic, seed: 1)
                stepsPerRepetition = 100
                times = try time(repetitions) { for _ in 0..<5 { try trainer.trainUnroll() } }
                flops = lstmTrainingFLOPs(.paperQuadratic, coordinates: n) + quadraticFLOPs
            } else {
                stepsPerRepetition = 200
                times = try evaluation(problem: problem, architecture: .paperQuadratic, steps: stepsPerRepetition, repetitions: repetitions)
                flops = lstmForwardFLOPs(.paperQuadratic, coordinates: n) + quadraticFLOPs
            }
        default:
            throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "unknown benchmark \(name)"])
        }
        let median = times.sorted()[times.count / 2]
        let stepsPerSecond = Double(stepsPerRepetition) / median
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return BenchResult(
            name: name, threads: threads, stepsPerS: stepsPerSecond, peakRssMb: Double(usage.ru_maxrss) / 1024,
            gflops: flops * stepsPerSecond / 1e9, efficiency: 0, fmaEfficiency: 0, repetitions: repetitions, flopsPerStep: flops)
    }

    /// The MNIST training split, or random data of its shape when the file is missing.
    static func mnistTrain(_ path: String) throws -> ClassificationData {
        if FileManager.default.fileExists(atPath: path) {
            let split = try MNIST.load(.train, from: path)
            return ClassificationData(bytes: split.pixels, divisor: 255, labels: split.labels, inputSize: 784, classes: 10)
        }
        FileHandle.standardError.write(Data("note: \(path) is missing; using random data of MNIST's shape\n".utf8))
        var generator = Generator(seed: 1)
        return ClassificationData(bytes: (0..<55_000 * 784).map { _ in UInt8(generator.index(below: 256)) }, divisor: 255,
                                  labels: (0..<55_000).map { _ in UInt8(generator.index(below: 10)) }, inputSize: 784, classes: 10)
    }

    /// Seconds of each repetition, after one untimed warm-up.
    static func time(_ repetitions: Int, _ body: () throws -> Void) rethrows -> [Double] {
        try body()
        return try (0..<repetitions).map { _ in
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
    }

    static func evaluation<P: Problem>(problem: P, architecture: LSTMArchitecture, steps: Int, repetitions: Int) throws -> [Double] {
        var generator = Generator(seed: 2)
        let optimizer = LearnedOptimizer(phi: Phi(initializing: architecture, using: &generator))
        var instance = problem.makeInstance(using: &generator)
        var theta = instance.initialTheta(using: &generator)
        var state = optimizer.makeState(parameterCount: theta.count)
        var gradient = [Float](repeating: 0, count: theta.count)
        return try time(repetitions) {
            for _ in 0..<steps {
                _ = instance.lossAndGradient(theta, batch: instance.sampleBatch(using: &generator), gradient: &gradient)
                try optimizer.step(&theta, gradient: gradient, state: &state)
            }
        }
    }

    /// GFLOP/s of independent multiply-adds in the widest vectors the processor has, on
    /// `threads` threads at once (median of 3 after a warm-up): the arithmetic peak, which BLAS
    /// may not reach (Debian's BLIS runs AVX2 kernels on some AVX-512 machines).
    static func fmaPeak(threads: Int) -> Double {
        let iterations: Int64 = 20_000_000
        nonisolated(unsafe) let flops = UnsafeMutableBufferPointer<Double>.allocate(capacity: threads)
        defer { flops.deallocate() }
        let times = time(3) {
            DispatchQueue.concurrentPerform(iterations: threads) { thread in
                var sink: Float = 0
                flops[thread] = l2l_fma_peak(iterations, &sink)
                precondition(sink.isFinite, "the multiply-add chains diverged")
            }
        }
        return flops.reduce(0, +) / times.sorted()[1] / 1e9
    }

    /// GFLOP/s of a 2048 × 2048 sgemm on `threads` BLIS threads (median of 3 after a warm-up).
    static func sgemmPeak(threads: Int) -> Double {
        Matrix.setThreads(threads)
        defer { Matrix.setThreads(1) }
        let size = 2048
        let a = Buffer(count: size * size), b = Buffer(count: size * size), c = Buffer(count: size * size)
        for i in 0..<a.count { a[i] = Float(i % 13) * 0.01; b[i] = Float(i % 7) * 0.01 }
        let times = time(3) { Matrix.multiply(a.pointer, b.pointer, into: c.pointer, m: size, n: size, k: size) }
        return 2 * pow(Double(size), 3) / times.sorted()[1] / 1e9
    }
}
