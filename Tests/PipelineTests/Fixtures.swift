import Foundation
import TestSupport

/// A quadratic experiment small enough to train in seconds in a debug build.
func tinyQuadraticPipeline(epochs: Int = 60, name: String = "tiny") -> String {
    """
    # A tiny quadratic experiment for the tests.
    name: \(name)
    seed: 3
    optimizee: {kind: quadratic, problems: 4, dimensions: 5, distribution: gaussian}
    optimizer:
      layers: [20, 20]
      preprocessing: {kind: identity}
      output_scale: 0.5
    training:
      epochs: \(epochs)
      steps: 20
      unroll: 5
      meta_learning_rate: 0.001
      loss_weights: uniform
      validation_period: 4
      validation_size: 2
      history_period: 5
    evaluation:
      horizon: 20
      runs: 4
      tuning_runs: 2
      learning_rates: {log10_from: -2, log10_to: 0, log10_step: 1}
      problems:
        - {name: quadratic, kind: quadratic, problems: 4, dimensions: 5, distribution: gaussian}
    """
}

/// The built executables, beside the test bundle.
func executable(_ name: String) -> String {
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name).path
}
