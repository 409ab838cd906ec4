import Foundation
import MNIST

/// Where the stages read each data set: `<folder>/<dataset>.h5` as `l2l-fetch` writes them
/// (`data/mnist.h5`, `data/fashion-mnist.h5`). The commands' `--data` names the folder, or, as
/// before data sets could be chosen, MNIST's file itself, the others then beside it.
public struct DataFiles: Sendable, Equatable {
    /// The folder holding `<dataset>.h5`.
    public var folder: String
    /// Files given by name instead of by the folder.
    public var files: [ImageDataset: String]

    public init(folder: String = "data", files: [ImageDataset: String] = [:]) {
        self.folder = folder
        self.files = files
    }

    /// `--data`: a path ending in `.h5` is MNIST's file (its folder holds the other data sets);
    /// anything else is the folder.
    public init(argument: String) {
        if argument.hasSuffix(".h5") {
            let folder = (argument as NSString).deletingLastPathComponent
            self.init(folder: folder.isEmpty ? "." : folder, files: [.mnist: argument])
        } else {
            self.init(folder: argument)
        }
    }

    /// The file of `dataset`.
    public func path(_ dataset: ImageDataset) -> String {
        files[dataset] ?? (folder.hasSuffix("/") ? folder : folder + "/") + "\(dataset.rawValue).h5"
    }

    /// The help text of every command's `--data`.
    public static let help = "The data folder, holding each data set as <folder>/<dataset>.h5 (written by l2l-fetch: mnist.h5, fashion-mnist.h5), or MNIST's file itself (the other data sets beside it)."
}
