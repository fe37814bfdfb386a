import ArgumentParser
import ColonyCore
import ColonyStore
import ColonyTrust
import Foundation
import NIOHTTP1

/// `colony cert`: the swarm authority (admission by certificate, revocation).
struct CertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert", abstract: "Swarm authority: certificates that admit nodes, and revocations.",
        subcommands: [AuthorityCommand.self, Issue.self, Revoke.self])

    struct AuthorityCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "authority", abstract: "Manage the authority key.", subcommands: [Init.self])

        struct Init: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create an authority key in a directory (authority.key, owner-only; authority.pub).")
            @Option(help: "Directory for the authority's files.") var dir: String = "colony-authority"
            func run() throws {
                let a = Authority.generate()
                do { try a.save(directory: dir) } catch { throw ValidationError("\(error)") }
                print(a.publicKeyBase64)
                FileHandle.standardError.write(
                    Data("authority created in \(dir); give agents --authority \(a.publicKeyBase64)\n".utf8))
            }
        }
    }

    struct Issue: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a node certificate (written as node.cert into the node's data directory, or printed).")
        @Option(help: "The authority's directory.") var authority: String = "colony-authority"
        @Option(help: "The node's member name.") var node: String
        @Option(
            name: .customLong("data-dir"),
            help: "The node's data directory: its key is read there and node.cert written there.") var dataDir: String?
        @Option(
            name: .customLong("node-key"),
            help: "The node's public key (base64), instead of --data-dir; the certificate is printed.") var nodeKey:
            String?
        @Option(help: "Days the certificate is valid.") var days: Int = 365
        func run() throws {
            guard days > 0 else { throw ValidationError("--days must be positive") }
            let a: Authority
            do { a = try Authority.load(directory: authority) } catch { throw ValidationError("\(error)") }
            let key: [UInt8]
            if let dataDir {
                key = try NodeStore(directory: dataDir).identity().publicKeyBytes
            } else if let nodeKey, let d = Data(base64Encoded: nodeKey), d.count == 32 {
                key = Array(d)
            } else {
                throw ValidationError("give --data-dir (the node's data directory) or --node-key (32 bytes of base64)")
            }
            let expires = UInt64(Date().timeIntervalSince1970 * 1000) + UInt64(days) * 86_400_000
            let file = CertificateFile(a.issue(publicKey: key, name: node, expiresMs: expires))
            if let dataDir {
                try file.save(directory: dataDir)
                FileHandle.standardError.write(Data("wrote \(CertificateFile.url(directory: dataDir).path)\n".utf8))
            }
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            print(String(decoding: try e.encode(file), as: UTF8.self))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a node id: signed by the authority, spread by the local agent to every member.")
        @OptionGroup var http: HTTPOption
        @Option(help: "The authority's directory.") var authority: String = "colony-authority"
        @Option(help: "The node id to revoke (32 hex digits, as `colony members --json` shows).") var node: String
        @Flag(help: "Only print the signed revocation (base64); do not send it.") var print = false
        func run() async throws {
            guard let id = NodeID(hex: node) else { throw ValidationError("--node must be a node id of 32 hex digits") }
            let a: Authority
            do { a = try Authority.load(directory: authority) } catch { throw ValidationError("\(error)") }
            let r = a.revoke(id, atMs: UInt64(Date().timeIntervalSince1970 * 1000))
            let text = Data(r.encoded).base64EncodedString()
            if self.print {
                Swift.print(text)
                return
            }
            try await http.call(.POST, "/v1/revocations", body: Array(try JSONEncoder().encode(["revocation": text])))
        }
    }
}
