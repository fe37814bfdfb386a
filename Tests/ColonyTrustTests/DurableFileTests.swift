import ColonyCore
import Foundation
import Testing

@testable import ColonyTrust

/// Files holding a secret or state: replaced whole (temporary file, fsync, rename, fsync of
/// the directory), secrets owner-only, and a secret found readable by others made private.
@Suite(.tags(.crypto)) struct DurableFileTests {
    func tempDir() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("colony-files-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }

    @Test func aWriteReplacesTheFileWholeWithTheModeAskedAndLeavesNothingBehind() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/state.json"
        try DurableFile.write(Data("one".utf8), to: path, mode: DurableFile.secret)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "one")
        #expect(try mode(path) == 0o600)
        try DurableFile.write(Data("two".utf8), to: path, mode: DurableFile.shared)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "two")
        #expect(try mode(path) == 0o644)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["state.json"], "no temporary file left")
    }

    @Test func aWriteThatCannotStartSaysWhichStepFailed() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/missing/state.json"
        #expect {
            try DurableFile.write(Data("x".utf8), to: path, mode: DurableFile.secret)
        } throws: { error in
            guard let e = error as? DurableFileError else { return false }
            return e.step == "create" && "\(e)".contains("No such file")
        }
    }

    @Test func theKeyringIsSavedOwnerOnlyAndMadePrivateIfOthersCouldReadIt() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ring = try Keyring(primary: Array(repeating: 7, count: 32), mode: .accept)
        try ring.save(directory: dir)
        let path = Keyring.fileURL(directory: dir).path
        #expect(try mode(path) == 0o600)
        #expect(try Keyring.makePrivate(directory: dir) == nil, "private already")
        chmod(path, 0o644)
        #expect(try Keyring.makePrivate(directory: dir) == 0o644, "the mode it had, to report")
        #expect(try mode(path) == 0o600)
        #expect(try Keyring.load(directory: dir) == ring)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["keyring.json"])
    }

    @Test func theAuthorityKeyIsOwnerOnlyAndTheCertificateReplacedWhole() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let authority = Authority.generate()
        try authority.save(directory: dir)
        #expect(try mode(dir + "/authority.key") == 0o600)
        #expect(try mode(dir + "/authority.pub") == 0o644)
        #expect(try Authority.load(directory: dir).publicKey == authority.publicKey)
        let cert = authority.issue(publicKey: Array(repeating: 1, count: 32), name: "n", expiresMs: 10)
        try CertificateFile(cert).save(directory: dir)
        try CertificateFile(cert).save(directory: dir)
        #expect(try CertificateFile.load(directory: dir) == cert)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == [
                "authority.key", "authority.pub", "node.cert",
            ])
    }
}
