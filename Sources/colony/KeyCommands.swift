import ArgumentParser
import ColonyAgent
import ColonyCore
import ColonyTrust
import Foundation
import NIOHTTP1

struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Print a new random encryption key (base64, AES-256) for --encrypt and `colony keys`.")

    func run() throws {
        print(Keyring.generateKey())
    }
}

/// `colony keys`: the swarm's keyring, as `serf keys`. Rotation with no lost message:
/// `install NEW` → `use NEW` → `remove OLD`.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "List and rotate the swarm's encryption keys.",
        subcommands: [List.self, Install.self, Use.self, Remove.self, Mode.self])

    struct Common: ParsableArguments {
        @OptionGroup var http: HTTPOption
        @Flag(help: "Change this agent's keyring only (not the swarm's).") var local = false
        @Option(help: "How long to wait for members to answer (swarm scope), e.g. 5s.") var timeout: String = "5s"
        @Option(
            name: .customLong("operator"),
            help: "The operator's key directory (as `colony cert authority init` makes): sign the change as an order.")
        var operatorDirectory: String?

        func path(_ base: String, operation: KeyringOperation?) throws -> String {
            var p = base + (local ? "?scope=local" : "?scope=swarm&timeout=\(queryEscape(timeout))")
            if let operatorDirectory, let operation, !local {
                let signer: Authority
                do { signer = try Authority.load(directory: operatorDirectory) } catch {
                    throw ValidationError("\(error)")
                }
                let at = UInt64(Date().timeIntervalSince1970 * 1000)
                let signature = signer.sign(operation.order(issuedAtMs: at))
                p += "&order=\(OrderParameter.encode(signature))&orderAt=\(at)"
            }
            return p
        }

        func send(
            _ method: HTTPMethod, _ base: String, body: [String: String]?, operation: KeyringOperation? = nil
        ) async throws {
            let bytes = try body.map { Array(try JSONEncoder().encode($0)) }
            let (code, response) = try await http.client().send(
                method, try path(base, operation: operation), json: bytes)
            guard code == 200 else { throw failFromAPI(code, response) }
            print(String(decoding: response, as: UTF8.self))
            // A swarm change some member refused or missed exits non-zero, as `serf keys`.
            struct Answer: Decodable {
                struct Summary: Decodable {
                    var nodes: Int
                    var responses: Int
                    var errors: [String: String]
                }
                var swarm: Summary?
            }
            if let s = (try? JSONDecoder().decode(Answer.self, from: Data(response)))?.swarm,
                !s.errors.isEmpty || s.responses < s.nodes
            {
                FileHandle.standardError.write(
                    Data("error: \(s.responses) of \(s.nodes) members answered, \(s.errors.count) with an error\n".utf8)
                )
                throw ExitCode(1)
            }
        }
    }

    /// The key argument of install, use and remove, checked before anything is sent.
    struct KeyArgument: ParsableArguments {
        @Argument(help: "The key (base64).") var key: String
        func validate() throws {
            do { _ = try Keyring.decode(key) } catch { throw ValidationError("\(error)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the keys every member holds and which is primary.")
        @OptionGroup var common: Common
        func run() async throws { try await common.send(.GET, "/v1/keyring", body: nil) }
    }

    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install a key everywhere (it opens packets at once; seals once used).")
        @OptionGroup var common: Common
        @OptionGroup var argument: KeyArgument
        func run() async throws {
            try await common.send(
                .POST, "/v1/keyring", body: ["key": argument.key], operation: .install(try Keyring.decode(argument.key))
            )
        }
    }

    struct Use: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make an installed key the primary everywhere.")
        @OptionGroup var common: Common
        @OptionGroup var argument: KeyArgument
        func run() async throws {
            try await common.send(
                .PUT, "/v1/keyring", body: ["key": argument.key], operation: .use(try Keyring.decode(argument.key)))
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a key everywhere (not the primary).")
        @OptionGroup var common: Common
        @OptionGroup var argument: KeyArgument
        func run() async throws {
            try await common.send(
                .DELETE, "/v1/keyring", body: ["key": argument.key],
                operation: .remove(try Keyring.decode(argument.key)))
        }
    }

    struct Mode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Step encryption: open (send plain, read both), accept (seal, read both), require.")
        @OptionGroup var common: Common
        @Argument(help: "open, accept or require.") var mode: String
        func run() async throws {
            guard let m = Keyring.Mode(rawValue: mode) else {
                throw ValidationError("mode must be open, accept or require")
            }
            try await common.send(.PUT, "/v1/keyring/mode", body: ["mode": mode], operation: .mode(m))
        }
    }
}
