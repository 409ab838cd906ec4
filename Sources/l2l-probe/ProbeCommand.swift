// l2l-probe: measurements of the optimizees themselves, for the fidelity study (issue 12).
//
//     $ l2l-probe gradient-scale pipelines/mnist.yaml
//     problem      init      layer  median |dW|  median |db|  |dW| < e^-k
//     base         released  1      6.1e-05      ...
import ArgumentParser
import Foundation
import Pipeline

@main
struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "l2l-probe",
        abstract: "Measure properties of an experiment's optimizees (the fidelity study's diagnostics).",
        version: "0.1.0",
        subcommands: [GradientScale.self, MetaGradient.self]
    )
}

/// What every probe reads: the experiment (a sweep member), and the MNIST file.
struct ProbeInput: ParsableArguments {
    @Argument(help: ArgumentHelp("The experiment definition (YAML).", valueName: "pipeline"))
    var pipeline: String

    @Option(help: ArgumentHelp("The sweep member, by index or id (see l2l-sweep); default: the first.", valueName: "id-or-index"))
    var member: String?

    @Option(help: ArgumentHelp(DataFiles.help, valueName: "folder-or-file"))
    var data = "data"

    /// The member's (or the single run's) configuration; a failure is printed as the stages
    /// print theirs (exit status 1, or 64 for a member the file does not have).
    func withConfiguration(_ body: (PipelineConfiguration) throws -> Void) throws {
        do {
            let runs: [(configuration: PipelineConfiguration, folder: String)]
            do {
                runs = try PipelineFile(contentsOf: pipeline).runs(member: member, out: nil)
            } catch let error as PipelineFile.NoSuchMember {
                throw ValidationError(error.description)
            }
            guard let configuration = runs.first?.configuration else { return }
            try body(configuration)
        } catch let error as RunError {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            throw ExitCode(error.exitStatus)
        }
    }
}

struct GradientScale: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradient-scale",
        abstract: "The gradient's scale at θ₀, layer by layer, for every evaluation problem and initialisation.",
        discussion: """
            For every MNIST evaluation problem of PIPELINE (a sweep: --member's, or its first's) and every \
            --init, draws --samples initial parameters θ₀ and minibatches from the validation split \
            and records, per layer (input layer first), the median |∂f/∂W| and |∂f/∂b| over every \
            entry and sample, the fraction of |∂f/∂W| below e^-k, the threshold under which the \
            LogAndSign preprocessing (Appendix A) passes a gradient only as a scaled-down sign, and the fraction exactly zero (MNIST's pixels blank in the \
            whole minibatch). \
            Prints a table and writes it to --out (HDF5: /<problem>/<init>/weights_median, \
            biases_median, weights_below_threshold, weights_zero, one value per layer, with the provenance of every \
            output file).

            Initialisations: released (weights and biases ~ N(0, 0.01²), the released code's and \
            this project's default), small (W ~ N(0, 0.001²), b = 0), fan_in (U(±1/√fan_in), \
            PyTorch's default).

            Examples:
              l2l-probe gradient-scale pipelines/mnist.yaml
              l2l-probe gradient-scale pipelines/mnist.yaml --init released --init fan_in --samples 50 --out /tmp/g.h5
            """
    )

    @OptionGroup var input: ProbeInput

    @Option(name: .customLong("init"), help: ArgumentHelp("An initialisation: released, small or fan_in (repeat it; default: all three).", valueName: "name"))
    var initialisations: [String] = []

    @Option(help: ArgumentHelp("θ₀ and minibatches per problem and initialisation.", valueName: "count"))
    var samples = 20

    @Option(help: ArgumentHelp("The HDF5 file to write (default: runs/<name>/gradient-scale.h5).", valueName: "path"))
    var out: String?

    func validate() throws {
        if samples < 1 { throw ValidationError("--samples must be at least 1, got \(samples)") }
        let known = GradientScaleProbe.named.map(\.name)
        for name in initialisations where !known.contains(name) {
            throw ValidationError("--init \(name): expected one of \(known.joined(separator: ", "))")
        }
    }

    func run() throws {
        try input.withConfiguration { configuration in
            let chosen = initialisations.isEmpty ? GradientScaleProbe.named : GradientScaleProbe.named.filter { initialisations.contains($0.name) }
            let probe = GradientScaleProbe(configuration: configuration, data: DataFiles(argument: input.data), initialisations: chosen, samples: samples)
            let output = out ?? "runs/\(configuration.name)/gradient-scale.h5"
            try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: output).deletingLastPathComponent().path, withIntermediateDirectories: true)
            let rows = try probe.run(output: output)
            print("problem      init      layer  median |dW|  median |db|  |dW| < e^-k  dW = 0")
            for row in rows {
                let cells = [row.problem.padding(toLength: 12, withPad: " ", startingAt: 0), row.initialisation.padding(toLength: 9, withPad: " ", startingAt: 0),
                             String(row.layer + 1).padding(toLength: 6, withPad: " ", startingAt: 0),
                             String(format: "%-11.2e  %-11.2e  %-11.3f  %.3f", row.statistics.weightMedian, row.statistics.biasMedian,
                                    row.statistics.weightsBelowThreshold, row.statistics.weightsZero)]
                print(cells.joined(separator: " "))
            }
            FileHandle.standardError.write(Data("wrote \(output)\n".utf8))
        }
    }
}

struct MetaGradient: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meta-gradient",
        abstract: "The norm of the meta-gradient ∂L/∂φ over the first unrolls of meta-training.",
        discussion: """
            Meta-trains as l2l-train PIPELINE would (a sweep: --member, or its first; the same seed, draws \
            and updates of φ, clipping included) for --unrolls unrolls, writing nothing, and prints \
            the Euclidean norm of each unroll's meta-gradient before clipping, then its quartiles: the \
            scale against which training.meta_gradient_clip is chosen. A skipped unroll (a non-finite \
            value) prints inf.

            Examples:
              l2l-probe meta-gradient pipelines/mnist.yaml --unrolls 50
              l2l-probe meta-gradient pipelines/study/meta-learning-rate.yaml --member meta_learning_rate=0.03,seed=20161205
            """
    )

    @OptionGroup var input: ProbeInput

    @Option(help: ArgumentHelp("Unrolls to train (an MNIST trajectory has 5).", valueName: "count"))
    var unrolls = 50

    func validate() throws {
        if unrolls < 1 { throw ValidationError("--unrolls must be at least 1, got \(unrolls)") }
    }

    func run() throws {
        try input.withConfiguration { configuration in
            let norms = try MetaGradientProbe(configuration: configuration, data: DataFiles(argument: input.data), unrolls: unrolls).run { index, norm in
                print("unroll \(index): ‖∂L/∂φ‖ = \(String(format: "%.4g", norm))")
            }
            let sorted = norms.sorted()
            func quantile(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int(q * Double(sorted.count - 1) + 0.5))] }
            print(String(format: "quartiles over %d unrolls: %.4g, %.4g, %.4g (min %.4g, max %.4g)", sorted.count,
                         quantile(0.25), quantile(0.5), quantile(0.75), sorted[0], sorted[sorted.count - 1]))
        }
    }
}
