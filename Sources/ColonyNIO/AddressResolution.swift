import ColonyCore
import Foundation
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

public enum AddressError: Error, CustomStringConvertible, Equatable {
    case malformed(String)
    case unresolvable(String)

    public var description: String {
        switch self {
        case .malformed(let s): "'\(s)' is not host:port (use [v6]:port for IPv6)"
        case .unresolvable(let s): "cannot resolve '\(s)'"
        }
    }
}

extension Address {
    /// Parse `host:port`, `[v6]:port` or `host` (with `defaultPort`).
    public init(parsing text: String, defaultPort: UInt16 = 7946) throws(AddressError) {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard !t.isEmpty else { throw .malformed(text) }
        if t.hasPrefix("[") {
            guard let close = t.firstIndex(of: "]") else { throw .malformed(text) }
            let host = String(t[t.index(after: t.startIndex)..<close])
            let rest = t[t.index(after: close)...]
            var port = defaultPort
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let p = UInt16(rest.dropFirst()), p > 0 else { throw .malformed(text) }
                port = p
            }
            guard !host.isEmpty else { throw .malformed(text) }
            self.init(host: host, port: port)
            return
        }
        let colons = t.filter { $0 == ":" }.count
        if colons == 0 {
            self.init(host: t, port: defaultPort)
        } else if colons == 1 {
            let parts = t.split(separator: ":", omittingEmptySubsequences: false)
            guard !parts[0].isEmpty, let p = UInt16(parts[1]), p > 0 else { throw .malformed(text) }
            self.init(host: String(parts[0]), port: p)
        } else {
            // A bare IPv6 literal.
            self.init(host: t, port: defaultPort)
        }
    }

    /// True when `host` is an IPv4 or IPv6 literal.
    package var isIPLiteral: Bool { (try? SocketAddress(ipAddress: host, port: Int(port))) != nil }

    /// True for 127.0.0.0/8, ::1 and `localhost`: reachable from this machine only.
    package var isLoopback: Bool {
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".")
        return parts.count == 4 && parts[0] == "127" && isIPLiteral
    }

    /// Every address a name resolves to (IPv4 and IPv6), or the literal itself.
    package func resolved() throws(AddressError) -> [Address] {
        if isIPLiteral { return [self] }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let first = result else {
            throw .unresolvable(host)
        }
        defer { freeaddrinfo(first) }
        var out: [Address] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let ai = cursor {
            if let sa = ai.pointee.ai_addr {
                var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                if getnameinfo(sa, ai.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0
                {
                    let ip = String(cString: buffer)
                    let a = Address(host: ip, port: port)
                    if !out.contains(a) { out.append(a) }
                }
            }
            cursor = ai.pointee.ai_next
        }
        guard !out.isEmpty else { throw .unresolvable(host) }
        return out
    }

    func socketAddress() throws -> SocketAddress { try SocketAddress(ipAddress: host, port: Int(port)) }

    init?(_ socketAddress: SocketAddress?) {
        guard let sa = socketAddress, let ip = sa.ipAddress, let port = sa.port else { return nil }
        self.init(host: ip, port: UInt16(clamping: port))
    }
}
