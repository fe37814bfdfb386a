import ColonyCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The HTTP API's bearer token (issue 18). An agent requires one unless told not to:
///
/// - a configured token (`http_token`, `--http-token`) wins;
/// - otherwise the agent makes one at its first start, 32 bytes from the system's
///   cryptographically secure generator written as hex, keeps it in `<data-dir>/http-token`
///   (mode 0600, written atomically) and reuses it on every later start; an agent without a
///   data directory makes a fresh one at each start;
/// - `http_token = "none"` (`--http-token none`) turns it off, on a loopback address only.
///
/// Whichever it runs with, the agent leaves it in the user's runtime directory for the CLI
/// (`RuntimeIndex`).
package enum HTTPToken {
    /// The token's file in the data directory.
    package static let fileName = "http-token"
    /// The `http_token` value that turns the token off (loopback only).
    package static let disabled = "none"

    /// At least 16 characters, none of them white space.
    package static func isAcceptable(_ token: String) -> Bool {
        token.utf8.count >= 16 && !token.contains(where: \.isWhitespace)
    }

    /// A fresh token: 32 bytes from `SystemRandomNumberGenerator` (getrandom(2) on Linux), hex.
    package static func generate() -> String {
        var rng = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for _ in 0..<32 {
            let b = UInt8.random(in: .min ... .max, using: &rng)
            out += [digits[Int(b >> 4)], digits[Int(b & 0x0f)]]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The path of the token file in `directory`.
    package static func path(directory: String) -> String {
        (directory as NSString).appendingPathComponent(fileName)
    }

    /// The token kept in `directory`, made and saved there first if there is none. The
    /// directory is created (0700) if missing; a token file others can read is narrowed to 0600.
    package static func loadOrCreate(directory: String) throws -> String {
        let file = path(directory: directory)
        if FileManager.default.fileExists(atPath: file) {
            var st = stat()
            if stat(file, &st) == 0, st.st_mode & 0o077 != 0 { _ = chmod(file, 0o600) }
            return try read(path: file)
        }
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw HTTPTokenError("cannot create the data directory \(directory): \(error.localizedDescription)")
        }
        let token = generate()
        try PrivateFile.write(token + "\n", to: file)
        return token
    }

    /// The token in a file (surrounding white space ignored); a file that holds no acceptable
    /// token is an error.
    package static func read(path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HTTPTokenError("cannot read the token file \(path)")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard isAcceptable(token) else {
            throw HTTPTokenError("\(path) holds no token (at least 16 characters, no spaces)")
        }
        return token
    }

    /// The token an agent with this configuration runs with: the configured one, the one in its
    /// data directory (made at the first start), or a fresh one; nil if turned off.
    package static func forAgent(_ configuration: AgentConfiguration) throws -> String? {
        switch configuration.httpToken {
        case disabled?: return nil
        case let token?: return token
        case nil: return try configuration.dataDir.map { try loadOrCreate(directory: $0) } ?? generate()
        }
    }
}

package struct HTTPTokenError: Error, CustomStringConvertible, Equatable {
    package var description: String
    package init(_ description: String) { self.description = description }
}

/// Files only their owner reads, written whole or not at all.
enum PrivateFile {
    /// Writes `text` to a temporary file beside `path` (0600), flushes it to disk, renames it
    /// over `path` and flushes the directory, so a crash leaves the old file or the new one.
    static func write(_ text: String, to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let tmp = (directory as NSString).appendingPathComponent(
            ".\(name).\(getpid()).\(UInt32.random(in: .min ... .max)).tmp")
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw HTTPTokenError("cannot create \(tmp): \(errnoDescription())") }
        var renamed = false
        defer { if !renamed { unlink(tmp) } }
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                close(fd)
                throw HTTPTokenError("cannot write \(tmp): \(errnoDescription())")
            }
            done += n
        }
        // The mode open(2) gave is narrowed by the umask; make it exactly 0600.
        guard fchmod(fd, 0o600) == 0, fsync(fd) == 0 else {
            let reason = errnoDescription()
            close(fd)
            throw HTTPTokenError("cannot write \(tmp): \(reason)")
        }
        close(fd)
        guard rename(tmp, path) == 0 else { throw HTTPTokenError("cannot write \(path): \(errnoDescription())") }
        renamed = true
        let dir = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 {
            _ = fsync(dir)
            close(dir)
        }
    }

    static func errnoDescription() -> String {
        String(cString: strerror(errno))
    }
}
