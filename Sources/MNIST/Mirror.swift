import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A place the four compressed files of a data set can be read from: a web mirror or a local
/// folder (`ImageDataset.defaultMirrors` lists the defaults).
public enum Mirror: Sendable, Equatable, CustomStringConvertible {
    /// A base URL; the file names are appended to it.
    case web(URL)
    /// A folder holding the `.gz` files.
    case directory(String)

    /// Parses `http(s)://…` as a web mirror, `file://…` or anything else as a local folder
    /// (made absolute against the current directory).
    public init(parsing text: String) {
        if let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" {
            self = .web(text.hasSuffix("/") ? url : url.appendingPathComponent(""))
        } else if let url = URL(string: text), url.scheme?.lowercased() == "file" {
            self = .directory(URL(fileURLWithPath: url.path).standardizedFileURL.path)
        } else {
            // Absolute, so that the source recorded in the output means the same from anywhere.
            self = .directory(URL(fileURLWithPath: text).standardizedFileURL.path)
        }
    }

    public var description: String {
        switch self {
        case let .web(url): return url.absoluteString
        case let .directory(path): return path
        }
    }

    /// Where `part`'s compressed file is on this mirror.
    public func location(of part: MNISTPart) -> String {
        switch self {
        case let .web(url): return url.appendingPathComponent(part.compressedFileName).absoluteString
        case let .directory(path): return URL(fileURLWithPath: path).appendingPathComponent(part.compressedFileName).path
        }
    }
}

/// Why a mirror could not provide a file (the next mirror is tried).
public struct MirrorFailure: Error, CustomStringConvertible, Sendable {
    public let location: String
    public let reason: String
    public var description: String { "\(location): \(reason)" }
}

/// Downloads one URL into memory with URLSession, reporting progress as bytes arrive.
final class WebDownload: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let lock = NSLock()
    private let finished = DispatchSemaphore(value: 0)
    private var received = Data()
    private var response: URLResponse?
    private var failure: Error?
    private let progress: @Sendable (_ received: Int, _ expected: Int?) -> Void

    private init(progress: @escaping @Sendable (Int, Int?) -> Void) {
        self.progress = progress
    }

    /// Fetches `url`; `timeout` bounds the wait for each piece of the response.
    static func fetch(_ url: URL, timeout: TimeInterval, progress: @escaping @Sendable (Int, Int?) -> Void) throws(MirrorFailure) -> Data {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = max(timeout * 30, 600)
        let download = WebDownload(progress: progress)
        let session = URLSession(configuration: configuration, delegate: download, delegateQueue: nil)
        session.dataTask(with: url).resume()
        download.finished.wait()
        session.finishTasksAndInvalidate()

        download.lock.lock()
        defer { download.lock.unlock() }
        if let failure = download.failure {
            throw MirrorFailure(location: url.absoluteString, reason: describe(failure, timeout: timeout))
        }
        if let http = download.response as? HTTPURLResponse, http.statusCode != 200 {
            throw MirrorFailure(location: url.absoluteString, reason: "HTTP status \(http.statusCode) (\(HTTPURLResponse.localizedString(forStatusCode: http.statusCode)))")
        }
        return download.received
    }

    private static func describe(_ error: Error, timeout: TimeInterval) -> String {
        if let urlError = error as? URLError {
            switch urlError.code {
            case .timedOut: return "timed out after \(Int(timeout)) s without data"
            case .cannotFindHost: return "host not found"
            case .cannotConnectToHost: return "cannot connect to the host"
            case .notConnectedToInternet: return "not connected to the internet"
            default: return urlError.localizedDescription
            }
        }
        return error.localizedDescription
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void
    ) {
        lock.withLock { self.response = response }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let (count, expected, isSuccess) = lock.withLock { () -> (Int, Int?, Bool) in
            received.append(data)
            let length = response?.expectedContentLength ?? -1
            let status = (response as? HTTPURLResponse)?.statusCode ?? 200
            return (received.count, length > 0 ? Int(length) : nil, status == 200)
        }
        // The body of an error page is not the file: no progress for it.
        if isSuccess { progress(count, expected) }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        lock.withLock { failure = error }
        finished.signal()
    }
}
