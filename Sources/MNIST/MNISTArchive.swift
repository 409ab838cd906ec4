/// The four parsed files of the MNIST database, checked against each other: images of
/// 28 × 28 pixels, labels in 0...9, as many labels as images in each of train and test.
public struct MNISTArchive: Sendable {
    public var trainImages: IDXImages
    public var trainLabels: [UInt8]
    public var testImages: IDXImages
    public var testLabels: [UInt8]

    public static let imageSide = 28

    /// Validates the parts; `fileNames` name each part's file in error messages.
    public init(
        trainImages: IDXImages, trainLabels: [UInt8], testImages: IDXImages, testLabels: [UInt8],
        fileNames: [MNISTPart: String] = [:]
    ) throws(MNISTError) {
        func name(_ part: MNISTPart) -> String { fileNames[part] ?? part.fileName }
        for (images, labels, imagesPart, labelsPart) in [
            (trainImages, trainLabels, MNISTPart.trainImages, MNISTPart.trainLabels),
            (testImages, testLabels, .testImages, .testLabels),
        ] {
            guard images.rows == Self.imageSide, images.columns == Self.imageSide else {
                throw MNISTError(file: name(imagesPart), kind: .wrongImageSize(rows: images.rows, columns: images.columns))
            }
            if let index = labels.firstIndex(where: { $0 > 9 }) {
                throw MNISTError(file: name(labelsPart), kind: .labelOutOfRange(index: index, value: labels[index]))
            }
            guard images.count == labels.count else {
                throw MNISTError(file: name(imagesPart), kind: .countMismatch(images: images.count, labels: labels.count, labelsFile: name(labelsPart)))
            }
        }
        self.trainImages = trainImages
        self.trainLabels = trainLabels
        self.testImages = testImages
        self.testLabels = testLabels
    }

    /// The IDX encoding of one part: the exact decompressed bytes its checksum is computed on.
    public func idxBytes(_ part: MNISTPart) -> [UInt8] {
        switch part {
        case .trainImages: return IDX.encode(trainImages)
        case .trainLabels: return IDX.encode(labels: trainLabels)
        case .testImages: return IDX.encode(testImages)
        case .testLabels: return IDX.encode(labels: testLabels)
        }
    }
}
