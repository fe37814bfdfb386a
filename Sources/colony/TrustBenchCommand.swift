import ArgumentParser
import ColonyCore
import ColonyNIO
import ColonyTrust
import Crypto
import Foundation
import Logging
import NIOCore
import NIOPosix

/// `colony trust-bench`: what trust costs (docs/benchmarks.md). Micro: seal, open, sign and
/// verify per second on one core. Macro: real nodes on loopback, plain and encrypted side by
/// side in one run (alternating rounds, so machine noise hits both): join convergence time
/// and process CPU per node per second in a steady swarm; reported as ratios.
struct TrustBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trust-bench", abstract: "Measure the cost of encryption and signatures.")

    @Option(help: "Nodes in the loopback swarm.") var nodes: Int = 16
    @Option(help: "Rounds of each (plain, encrypted), alternating.") var rounds: Int = 3
    @Option(help: "Seconds of steady state measured per round.") var steady: Double = 10
    @Option(help: "Seconds of micro-benchmark per operation.") var micro: Double = 1
    @Flag(help: "Print one JSON object.") var json = false
    @Flag(help: "Only the one-core micro-benchmarks (no loopback swarm).") var microOnly = false

    func run() async throws {
        guard nodes >= 2, rounds >= 1, steady > 0, micro > 0 else {
            throw ValidationError("--nodes ≥ 2, --rounds ≥ 1, --steady and --micro > 0")
        }
        let m = Self.microBench(seconds: micro)
        let pipe = Self.pipelineBench(seconds: micro)
        var plain: [(join: Double, cpu: Double)] = []
        var sealed: [(join: Double, cpu: Double)] = []
        for r in 0..<(microOnly ? 0 : rounds) {
            FileHandle.standardError.write(Data("round \(r + 1)/\(rounds)\n".utf8))
            plain.append(try await Self.swarmBench(nodes: nodes, encrypted: false, steady: steady))
            sealed.append(try await Self.swarmBench(nodes: nodes, encrypted: true, steady: steady))
        }
        func median(_ xs: [Double]) -> Double {
            let s = xs.sorted()
            return s.isEmpty ? .nan : s[s.count / 2]
        }
        let joinPlain = median(plain.map(\.join))
        let joinSealed = median(sealed.map(\.join))
        let cpuPlain = median(plain.map(\.cpu))
        let cpuSealed = median(sealed.map(\.cpu))
        if json {
            let fields = [
                "\"sealPerSecond\": \(Int(m.seal))", "\"openPerSecond\": \(Int(m.open))",
                "\"signPerSecond\": \(Int(m.sign))",
                "\"verifyPerSecond\": \(Int(m.verify))", "\"sealOpenVerifyPerSecond\": \(Int(m.all))",
                "\"packetBytes\": \(m.bytes)",
                "\"pathPacketBytes\": \(pipe.packetBytes)",
                "\"pathPerSecondAuthOff\": \(Int(pipe.off))", "\"pathPerSecondAuthOn\": \(Int(pipe.on))",
                "\"pathAuthRatio\": \(String(format: "%.3f", pipe.ratio))",
                "\"pathPerSecondSealedAuthOff\": \(Int(pipe.sealedOff))",
                "\"pathPerSecondSealedAuthOn\": \(Int(pipe.sealedOn))",
                "\"pathSealedAuthRatio\": \(String(format: "%.3f", pipe.sealedRatio))",
                "\"nodes\": \(nodes)", "\"rounds\": \(rounds)",
                "\"joinMsPlain\": \(String(format: "%.1f", joinPlain))",
                "\"joinMsEncrypted\": \(String(format: "%.1f", joinSealed))",
                "\"joinRatio\": \(String(format: "%.3f", joinSealed / joinPlain))",
                "\"cpuMsPerNodePerSecondPlain\": \(String(format: "%.3f", cpuPlain))",
                "\"cpuMsPerNodePerSecondEncrypted\": \(String(format: "%.3f", cpuSealed))",
                "\"cpuRatio\": \(String(format: "%.3f", cpuSealed / cpuPlain))",
            ]
            print("{" + fields.joined(separator: ", ") + "}")
        } else {
            print(
                String(
                    format:
                        "micro (%d-byte packet, one core): seal %.0f/s · open %.0f/s · Ed25519 sign %.0f/s "
                        + "· verify %.0f/s · seal+open+verify %.0f/s",
                    m.bytes, m.seal, m.open, m.sign, m.verify, m.all))
            print(
                String(
                    format:
                        "receive path (%d-byte packet, one core): authentication off %.0f/s · on %.0f/s · ratio %.2f; "
                        + "inside the keyring's envelope: off %.0f/s · on %.0f/s · ratio %.2f",
                    pipe.packetBytes, pipe.off, pipe.on, pipe.ratio, pipe.sealedOff, pipe.sealedOn, pipe.sealedRatio))
            guard !microOnly else { return }
            print(
                String(
                    format: "join of %d nodes (median of %d): plain %.0f ms · encrypted %.0f ms · ratio %.2f", nodes,
                    rounds, joinPlain, joinSealed, joinSealed / joinPlain))
            print(
                String(
                    format: "steady CPU per node: plain %.3f ms/s · encrypted %.3f ms/s · ratio %.2f", cpuPlain,
                    cpuSealed, cpuSealed / cpuPlain))
        }
    }

    struct Micro {
        var seal, open, sign, verify, all: Double
        var bytes: Int
    }

    static func microBench(seconds: Double) -> Micro {
        let key = Array(SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) })
        let packet = [UInt8](repeating: 0x5A, count: 1200)
        let signer = Ed25519Authenticator(privateKey: .init())
        let claim = [UInt8](repeating: 7, count: 120)
        let signature = signer.sign(claim)
        let sealed = Envelope.seal(packet, key: key, sentAtMs: 1)
        func rate(_ body: () -> Void) -> Double { Self.rate(seconds, body) }
        var sink = 0
        let seal = rate { sink &+= Envelope.seal(packet, key: key, sentAtMs: 1).count }
        let open = rate { sink &+= (try? Envelope.open(sealed, keys: [key]))?.plain.count ?? 0 }
        let sign = rate { sink &+= signer.sign(claim).count }
        let verify = rate { sink &+= signer.verify(signature, of: claim, publicKey: signer.publicKey) ? 1 : 0 }
        let all = rate {
            let s = Envelope.seal(packet, key: key, sentAtMs: 1)
            sink &+= (try? Envelope.open(s, keys: [key]))?.plain.count ?? 0
            sink &+= signer.verify(signature, of: claim, publicKey: signer.publicKey) ? 1 : 0
        }
        if sink == 42 { print("") }
        return Micro(seal: seal, open: open, sign: sign, verify: verify, all: all, bytes: packet.count)
    }

    static func cpuMs() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000 + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec)
            / 1000
    }

    /// One swarm: time from the joins to every node seeing every other alive, then process
    /// CPU per node per second over `steady` seconds.
    static func swarmBench(nodes n: Int, encrypted: Bool, steady: Double) async throws -> (join: Double, cpu: Double) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let keyring = encrypted ? try Keyring(primaryBase64: Keyring.generateKey()) : nil
        var swarm: [ColonyNode] = []
        var first: Address?
        for i in 0..<n {
            var c = ColonyNode.Configuration(name: "b\(i)", bind: Address(host: "127.0.0.1", port: 0), settings: .local)
            c.keyring = keyring
            let node = ColonyNode(
                configuration: c, logger: Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() },
                eventLoopGroup: group)
            let a = try await node.start()
            if first == nil { first = a }
            swarm.append(node)
        }
        let clock = ContinuousClock()
        let t0 = clock.now
        for node in swarm.dropFirst() { try await node.join(seeds: ["\(first!)"]) }
        while true {
            var all = true
            for node in swarm where await node.statusCounts()[.alive] != n {
                all = false
                break
            }
            if all { break }
            if clock.now - t0 > .seconds(60) { throw ValidationError("the swarm did not converge in 60 s") }
            try await Task.sleep(for: .milliseconds(5))
        }
        let join = clock.now - t0
        let cpu0 = cpuMs()
        try await Task.sleep(for: .milliseconds(Int(steady * 1000)))
        let cpu = (cpuMs() - cpu0) / Double(n) / steady
        for node in swarm { await node.stop() }
        try await group.shutdownGracefully()
        return (join.seconds * 1000, cpu)
    }
}
