import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Files that hold a secret or a node's state, written so a crash leaves either the old
/// contents or the new, never a torn or empty file, and a secret is never readable by others,
/// not even for a moment: a temporary file beside the target, created with the final mode,
/// written and fsynced, renamed over the target, then the directory fsynced (the rename itself
/// durable).
package enum DurableFile {
    /// Owner read and write: keys and anything else secret.
    package static let secret: mode_t = 0o600
    /// Owner read and write, others read: state that is not secret (a certificate).
    package static let shared: mode_t = 0o644

    /// Replace `path` with `data` atomically and durably, the file's mode `mode`.
    package static func write(_ data: Data, to path: String, mode: mode_t) throws {
        let tmp = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw DurableFileError(path: tmp, step: "create", errno: errno) }
        var done = false
        defer {
            if !done { unlink(tmp) }
        }
        do {
            defer { close(fd) }
            // The umask may have masked bits off at creation: the mode asked for, exactly.
            guard fchmod(fd, mode) == 0 else { throw DurableFileError(path: tmp, step: "chmod", errno: errno) }
            try data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
                var offset = 0
                while offset < buffer.count {
                    let n = systemWrite(fd, buffer.baseAddress! + offset, buffer.count - offset)
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else { throw DurableFileError(path: tmp, step: "write", errno: errno) }
                    offset += n
                }
            }
            guard fsync(fd) == 0 else { throw DurableFileError(path: tmp, step: "fsync", errno: errno) }
        }
        guard rename(tmp, path) == 0 else { throw DurableFileError(path: path, step: "rename", errno: errno) }
        done = true
        try syncDirectory(of: path)
    }

    private static func systemWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
            Glibc.write(fd, bytes, count)
        #else
            Darwin.write(fd, bytes, count)
        #endif
    }

    /// Fsync the directory holding `path`, so a file created or renamed there stays.
    package static func syncDirectory(of path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        let fd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw DurableFileError(path: dir, step: "open directory", errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw DurableFileError(path: dir, step: "fsync directory", errno: errno) }
    }

    /// The permission bits of `path`, or nil if it does not exist.
    package static func mode(of path: String) -> mode_t? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return st.st_mode & 0o777
    }

    /// If `path` exists and its group or others may read, write or run it, make it
    /// owner-only (keeping the owner's bits) and return the mode it had; nil if it was private
    /// already or absent.
    @discardableResult
    package static func makePrivate(_ path: String) throws -> mode_t? {
        guard let m = mode(of: path), m & 0o077 != 0 else { return nil }
        guard chmod(path, m & 0o700) == 0 else { throw DurableFileError(path: path, step: "chmod", errno: errno) }
        return m
    }
}

/// A step of writing a durable file failed.
package struct DurableFileError: Error, CustomStringConvertible, Equatable {
    package var path: String
    package var step: String
    package var errno: Int32

    package init(path: String, step: String, errno: Int32) {
        self.path = path
        self.step = step
        self.errno = errno
    }

    package var description: String { "cannot \(step) \(path): \(String(cString: strerror(errno)))" }
}
