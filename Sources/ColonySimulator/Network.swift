import ColonyCore

/// The modelled network: per-link latency from synthetic positions plus jitter, loss,
/// duplication, reordering and partitions. Streams (TCP) are reliable but slower (handshake
/// and bandwidth) and fail across partitions or to dead hosts.
package struct NetworkModel: Sendable {
    /// One-way latency floor.
    public var baseLatency: Duration
    /// Extra one-way latency across the whole plane (positions lie in the unit square).
    public var spanLatency: Duration
    /// Jitter as a fraction of the link latency, uniformly added.
    public var jitter: Double = 0.2
    /// Probability that a datagram is lost.
    public var loss: Double = 0
    /// Probability that a datagram is delivered twice.
    public var duplicate: Double = 0
    /// Probability that a datagram is held back (up to 5× its latency), reordering it.
    public var reorder: Double = 0
    /// Stream bandwidth, bytes per microsecond (1 Gbit/s ≈ 125).
    public var streamBytesPerMicrosecond: Double = 125

    public init(baseLatency: Duration, spanLatency: Duration) {
        self.baseLatency = baseLatency
        self.spanLatency = spanLatency
    }

    /// One rack/datacenter: 0.1–0.5 ms one way.
    public static var lan: NetworkModel {
        NetworkModel(baseLatency: .microseconds(100), spanLatency: .microseconds(400))
    }
    /// Regions apart: 10–150 ms one way.
    public static var wan: NetworkModel {
        NetworkModel(baseLatency: .milliseconds(10), spanLatency: .milliseconds(140))
    }
    /// Loopback: 20–50 µs.
    public static var local: NetworkModel {
        NetworkModel(baseLatency: .microseconds(20), spanLatency: .microseconds(30))
    }

    public static func profile(named name: String) -> NetworkModel? {
        switch name {
        case "lan": .lan
        case "wan": .wan
        case "local": .local
        default: nil
        }
    }

    /// The one-way latency between two positions, in whole nanoseconds.
    func linkLatency(_ a: SIMD2<Double>, _ b: SIMD2<Double>) -> Duration {
        let d = a - b
        let dist = (d.x * d.x + d.y * d.y).squareRoot() / 2.0.squareRoot()
        return baseLatency + spanLatency.scaled(by: dist)
    }

    /// How long a stream takes to carry `bytes` at its bandwidth, in whole nanoseconds.
    func transferTime(bytes: Int) -> Duration {
        .nanoseconds(Int64(Double(bytes) / streamBytesPerMicrosecond * 1000))
    }
}

// MARK: Carrying packets

extension Simulator {
    func resolve(_ peer: Peer) -> Int? {
        if let id = peer.id { return index(of: id) }
        return addressIndex[peer.address].map(Int.init)
    }

    /// The node with this id (ids carry their index in `high`).
    package func index(of id: NodeID) -> Int? {
        let i = Int(truncatingIfNeeded: id.high)
        return i >= 0 && i < nodes.count && nodes[i].id == id ? i : nil
    }

    /// Count a packet node `i` sends and put it on the modelled network: across no
    /// partition or broken link; a datagram may be lost, delayed, reordered or duplicated;
    /// a stream is reliable but slower, and refused by a dead process on a live host.
    func route(_ packet: Packet, from i: Int, to peer: Peer, via: Transport) {
        let bytes = Wire.size(of: packet)
        traffic.sent(packet, bytes: bytes)
        nodes[i].bytesSent += bytes
        nodes[i].messagesSent += 1
        onSend?(self, i, packet)
        guard let j = resolve(peer) else { return }
        if nodes[i].group != nodes[j].group { return }
        if !faults.brokenLinks.isEmpty && faults.brokenLinks.contains(Self.linkKey(i, j)) { return }
        let latency = network.linkLatency(nodes[i].position, nodes[j].position)
        let delivery = Payload.deliver(
            to: Int32(j), from: Int32(i), packet: packet, via: via, bytes: Int32(clamping: bytes), injected: injecting)
        switch via {
        case .datagram:
            if rng.chance(network.loss) { return }
            if !faults.hostLoss.isEmpty {
                if rng.chance(faults.hostLoss[i].outbound) || rng.chance(faults.hostLoss[j].inbound) { return }
            }
            var delay = latency + latency.scaled(by: network.jitter, rng.unit())
            if rng.chance(network.reorder) { delay += latency.scaled(by: 5, rng.unit()) }
            queue.push(delivery, at: now + delay)
            if rng.chance(network.duplicate) {
                let again = delay + latency.scaled(by: rng.unit())
                queue.push(delivery, at: now + again)
            }
        case .stream:
            guard nodes[j].isUp else {
                // A dead process on a live host answers the connect with a reset.
                if nodes[j].refusesStreams {
                    queue.push(.refused(node: Int32(i), address: peer.address), at: now + latency * 2)
                }
                return
            }
            // Handshake, then the frame, then bandwidth.
            let transfer = network.transferTime(bytes: bytes)
            let (loss, reverseLoss) = pathLoss(i, j)
            if loss > 0 || reverseLoss > 0 {
                // Lossy: SYN retransmission, retransmission timeouts, head-of-line blocking.
                guard
                    let at = streams.arrival(
                        from: i, to: j, bytes: bytes, now: now, latency: latency, loss: loss,
                        reverseLoss: reverseLoss, rng: &rng)
                else { return }
                queue.push(delivery, at: at + transfer)
                return
            }
            let delay = latency * 3 + transfer + latency.scaled(by: network.jitter, rng.unit())
            queue.push(delivery, at: now + delay)
        }
    }

    /// The chance a packet from `i` to `j` is lost, and one from `j` to `i`: the network's
    /// loss and each end's own (a host at high loss, one-way loss).
    func pathLoss(_ i: Int, _ j: Int) -> (Double, Double) {
        guard !faults.hostLoss.isEmpty else { return (network.loss, network.loss) }
        let kept = 1 - network.loss
        let forward = 1 - kept * (1 - faults.hostLoss[i].outbound) * (1 - faults.hostLoss[j].inbound)
        let reverse = 1 - kept * (1 - faults.hostLoss[j].outbound) * (1 - faults.hostLoss[i].inbound)
        return (forward, reverse)
    }

    static func linkKey(_ a: Int, _ b: Int) -> UInt64 { UInt64(min(a, b)) << 32 | UInt64(max(a, b)) }

    /// Send a packet from node `i` as if its core had (offenders' traffic). Goes through the
    /// same modelled network.
    package func inject(_ packet: Packet, from i: Int, to j: Int, via: Transport = .datagram) {
        guard nodes[i].isUp else { return }
        injecting = true
        defer { injecting = false }
        route(packet, from: i, to: Peer(id: nodes[j].id, address: nodes[j].address), via: via)
    }

    /// The true round trip between two nodes (no jitter), seconds.
    package func trueRTT(_ a: Int, _ b: Int) -> Double {
        (network.linkLatency(nodes[a].position, nodes[b].position) * 2).inSeconds
    }
}
