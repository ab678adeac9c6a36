import FlowForgeShared
import Foundation

#if canImport(Glibc)
import Glibc
import Synchronization
#endif

/// The load generator of `bench api`: HTTP/1.1 GET requests over one kept-alive loopback
/// connection per lane, each lane a thread of its own doing blocking reads and writes.
///
/// It exists to be cheap. URLSession (libcurl underneath on Linux) spent more CPU generating
/// the load than the API spent answering it (27 CPU-seconds against 15 in a 20-second run),
/// on a 2-core machine that the API and PostgreSQL share with it, so the latency it measured
/// was largely its own.
struct LoadClient {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// One lane's connection.
    final class Lane {
        private let socket: Int32
        private var buffer: [UInt8] = []
        private var start = 0

        init(port: Int) throws {
            socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard socket >= 0 else { throw Failure(description: "socket() failed: errno \(errno)") }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else {
                close(socket)
                throw Failure(description: "cannot connect to 127.0.0.1:\(port): errno \(errno)")
            }
            var on: Int32 = 1
            setsockopt(socket, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        }

        deinit { close(socket) }

        /// Sends the request and reads the whole response; returns its status code.
        func get(_ request: [UInt8]) throws -> Int {
            try request.withUnsafeBytes { bytes in
                var sent = 0
                while sent < bytes.count {
                    let n = send(socket, bytes.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
                    guard n > 0 else { throw Failure(description: "send() failed: errno \(errno)") }
                    sent += n
                }
            }
            let head = try line(until: [13, 10, 13, 10])
            let lines = String(decoding: head, as: UTF8.self).split(separator: "\r\n")
            guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1.1 "),
                let status = Int(statusLine.dropFirst(9).prefix(3))
            else { throw Failure(description: "not an HTTP/1.1 response: \(lines.first ?? "")") }
            var length: Int?
            var chunked = false
            for header in lines.dropFirst() {
                let lower = header.lowercased()
                if lower.hasPrefix("content-length:") { length = Int(lower.dropFirst(15).trimmingCharacters(in: .whitespaces)) }
                if lower.hasPrefix("transfer-encoding:"), lower.contains("chunked") { chunked = true }
            }
            if chunked {
                while true {
                    let sizeLine = String(decoding: try line(until: [13, 10]), as: UTF8.self)
                    guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else {
                        throw Failure(description: "bad chunk size \(sizeLine)")
                    }
                    try skip(size + 2)  // the chunk and its CRLF (after the last, empty chunk: the final CRLF)
                    if size == 0 { break }
                }
            } else {
                try skip(length ?? 0)
            }
            return status
        }

        /// The bytes up to `terminator` (not included), which is consumed.
        private func line(until terminator: [UInt8]) throws -> ArraySlice<UInt8> {
            // How far past `start` has been searched (`fill` moves `start` to 0).
            var searched = 0
            while true {
                let end = buffer.count - terminator.count
                var index = start + searched
                while index <= end {
                    if buffer[index] == terminator[0], buffer[index..<(index + terminator.count)].elementsEqual(terminator) {
                        let found = buffer[start..<index]
                        start = index + terminator.count
                        return found
                    }
                    index += 1
                }
                searched = max(0, end + 1 - start)
                try fill()
            }
        }

        private func skip(_ count: Int) throws {
            while buffer.count - start < count { try fill() }
            start += count
        }

        private func fill() throws {
            if start > 0 {
                buffer.removeFirst(start)
                start = 0
            }
            var chunk = [UInt8](repeating: 0, count: 65_536)
            let n = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw Failure(description: n == 0 ? "the server closed the connection" : "recv() failed: errno \(errno)") }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }

    let port: Int
    let token: String
    let paths: [String]

    /// Runs `lanes` lanes until `deadline`; returns every request's latency in milliseconds and
    /// how many did not answer 200.
    func run(lanes: Int, until deadline: ContinuousClock.Instant) async -> (latencies: [Double], errors: Int) {
        let requests = paths.map { Array("GET \($0) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n\r\n".utf8) }
        let results = Results()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let group = DispatchGroup()
            for lane in 0..<lanes {
                group.enter()
                let port = port
                Thread.detachNewThread {
                    var latencies: [Double] = []
                    var errors = 0
                    var index = lane
                    var connection: Lane?
                    while ContinuousClock.now < deadline {
                        let request = requests[index % requests.count]
                        index += 1
                        let start = ContinuousClock.now
                        do {
                            if connection == nil { connection = try Lane(port: port) }
                            if try connection!.get(request) != 200 { errors += 1 }
                        } catch {
                            errors += 1
                            connection = nil
                        }
                        latencies.append((ContinuousClock.now - start).seconds * 1000)
                    }
                    results.add(latencies, errors: errors)
                    group.leave()
                }
            }
            group.notify(queue: .global()) { done.resume() }
        }
        return results.all
    }

    /// What the lanes measured, gathered under a lock.
    private final class Results: Sendable {
        private let gathered = Mutex<(latencies: [Double], errors: Int)>(([], 0))

        func add(_ more: [Double], errors moreErrors: Int) {
            gathered.withLock {
                $0.latencies += more
                $0.errors += moreErrors
            }
        }

        var all: (latencies: [Double], errors: Int) { gathered.withLock { $0 } }
    }
}
