import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A secret given as a file (`DATABASE_URL_FILE=/run/secrets/database_url`), the convention of
/// Docker and Kubernetes secrets: a file can be readable by the process alone, where an
/// environment variable is handed on to every child and shows in `/proc/<pid>/environ`.
enum SecretFile {
    /// More than any URL, token list or key; a larger file is a wrong path, not a secret.
    static let maximumSize = 64 * 1024

    /// The file's text without its trailing newlines (editors and `echo` add one).
    /// `variable` is the `…_FILE` setting that named the file, for the error line.
    static func contents(of path: String, variable: String) throws(ConfigError) -> String {
        func failure(_ reason: String) -> ConfigError { ConfigError("\(variable): cannot read \(path): \(reason)") }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure(String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure(String(cString: strerror(errno)))
            }
            if count == 0 { break }
            bytes += buffer[0..<count]
            if bytes.count > maximumSize { throw failure("it is larger than 64 KiB, so it is not a secret of FlowForge's") }
        }
        guard var text = String(bytes: bytes, encoding: .utf8) else { throw failure("it is not UTF-8 text") }
        while let last = text.last, last == "\n" || last == "\r" || last == "\r\n" { text.removeLast() }
        return text
    }
}
