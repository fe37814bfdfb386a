import ColonyCore
import ColonyNIO
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Where the CLI finds the tokens of the agents its user runs, as Jupyter's runtime directory:
/// `$COLONY_RUNTIME_DIR`, else `$XDG_RUNTIME_DIR/colony`, else `~/.colony/run` (mode 0700,
/// owned by the user). An agent writes `<host>_<port>.json` there once its HTTP API listens
/// (`{"http", "token", "pid"}`, mode 0600) and removes it when it stops cleanly; an entry whose
/// process is gone (a `kill -9`) is ignored.
package struct RuntimeIndex: Sendable, Equatable {
    package let directory: String

    package init(directory: String) { self.directory = directory }

    /// This user's runtime directory as the environment names it (nil: no absolute path found).
    package static func forUser(environment: [String: String]) -> RuntimeIndex? {
        func absolute(_ key: String) -> String? {
            guard let v = environment[key], v.hasPrefix("/") else { return nil }
            return v
        }
        if let d = absolute("COLONY_RUNTIME_DIR") { return RuntimeIndex(directory: d) }
        if let d = absolute("XDG_RUNTIME_DIR") { return RuntimeIndex(directory: d + "/colony") }
        if let home = absolute("HOME") ?? Self.passwordHome() { return RuntimeIndex(directory: home + "/.colony/run") }
        return nil
    }

    static func passwordHome() -> String? {
        guard let pw = getpwuid(geteuid()), let dir = pw.pointee.pw_dir else { return nil }
        let home = String(cString: dir)
        return home.hasPrefix("/") ? home : nil
    }

    package struct Entry: Codable, Equatable, Sendable {
        /// The HTTP API's address, `host:port`.
        package var http: String
        package var token: String
        /// The agent's process.
        package var pid: Int32
    }

    static let fileNameScalars = Set("abcdefghijklmnopqrstuvwxyz0123456789.-".unicodeScalars)

    /// The entry file of the agent whose API listens at `host`:`port`.
    package func path(host: String, port: Int) -> String {
        let safe = String(
            host.lowercased().unicodeScalars.map { Self.fileNameScalars.contains($0) ? Character($0) : "_" })
        return (directory as NSString).appendingPathComponent("\(safe)_\(port).json")
    }

    /// Leave this agent's token for the CLI. The directory is made (0700) if missing and
    /// narrowed to 0700 if others could enter it; one owned by another user is refused.
    package func publish(token: String, host: String, port: Int, pid: Int32 = getpid()) throws {
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw HTTPTokenError("cannot create the runtime directory \(directory): \(error.localizedDescription)")
        }
        var st = stat()
        guard lstat(directory, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            throw HTTPTokenError("the runtime directory \(directory) is not a directory")
        }
        guard st.st_uid == geteuid() else {
            throw HTTPTokenError("the runtime directory \(directory) belongs to another user")
        }
        if st.st_mode & 0o077 != 0, chmod(directory, 0o700) != 0 {
            throw HTTPTokenError("cannot make the runtime directory \(directory) private")
        }
        let entry = Entry(http: Address(host: host, port: UInt16(clamping: port)).description, token: token, pid: pid)
        let json = String(decoding: try JSONEncoder().encode(entry), as: UTF8.self)
        try PrivateFile.write(json + "\n", to: path(host: host, port: port))
    }

    /// Remove this agent's entry (if it is still this process's: another agent may have the
    /// address by now).
    package func withdraw(host: String, port: Int, pid: Int32 = getpid()) {
        let file = path(host: host, port: port)
        guard let entry = read(file), entry.pid == pid else { return }
        unlink(file)
    }

    /// The token of the live agent whose API is at `address`. A loopback address also finds an
    /// agent published under another loopback name or a wildcard address on the same port; a
    /// non-loopback address only its own entry (a wildcard agent's token never goes to an
    /// address that may be another machine).
    package func token(for address: Address) -> String? {
        var hosts = [address.host]
        if address.isLoopback { hosts += ["127.0.0.1", "localhost", "::1", "0.0.0.0", "::"] }
        for host in hosts {
            if let entry = read(path(host: host, port: Int(address.port))), Self.isAlive(entry.pid) {
                return entry.token
            }
        }
        return nil
    }

    /// An entry file this user owns, decoded.
    func read(_ file: String) -> Entry? {
        var st = stat()
        guard lstat(file, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_uid == geteuid(),
            let data = FileManager.default.contents(atPath: file)
        else { return nil }
        return try? JSONDecoder().decode(Entry.self, from: data)
    }

    static func isAlive(_ pid: Int32) -> Bool {
        pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)
    }
}

/// The token the CLI sends (issue 18), from the first of: `--token`, `--token-file`,
/// `COLONY_HTTP_TOKEN`, `COLONY_HTTP_TOKEN_FILE`, the entry the agent at that address left in
/// the runtime directory. Flags come before the environment, so a command line always says
/// what it means. A named token file that cannot be read is an error; finding nothing is not
/// (the agent may run with `http_token = "none"`).
package enum TokenResolver {
    package struct Resolution: Equatable, Sendable {
        package var token: String?
        /// Where it came from (for messages).
        package var source: String
    }

    package static func resolve(
        token: String?, tokenFile: String?, environment: [String: String], address: Address,
        index: RuntimeIndex?
    ) throws -> Resolution {
        if token != nil && tokenFile != nil { throw HTTPTokenError("give --token or --token-file, not both") }
        if let token { return Resolution(token: token, source: "--token") }
        if let tokenFile { return Resolution(token: try HTTPToken.read(path: tokenFile), source: "--token-file") }
        if let t = environment["COLONY_HTTP_TOKEN"], !t.isEmpty {
            return Resolution(token: t, source: "COLONY_HTTP_TOKEN")
        }
        if let f = environment["COLONY_HTTP_TOKEN_FILE"], !f.isEmpty {
            return Resolution(token: try HTTPToken.read(path: f), source: "COLONY_HTTP_TOKEN_FILE")
        }
        guard let index else { return Resolution(token: nil, source: "no token (no runtime directory)") }
        if let t = index.token(for: address) { return Resolution(token: t, source: "runtime directory") }
        return Resolution(token: nil, source: "no token (none for \(address) in \(index.directory))")
    }
}
