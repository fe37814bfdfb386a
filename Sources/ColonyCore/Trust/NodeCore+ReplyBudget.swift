/// No amplification (issue 18): a datagram from a sender with no standing here — a stranger,
/// or a member's id (verified or not) from a host other than the member's — gets at most as
/// many bytes back as it sent. A datagram's source address is not proven by anything (a MAC or a
/// signature proves the key, not the address), so a larger answer would let anyone aim this
/// node at a victim: a spoofed 60-byte ping drawing a 1,400-byte ack full of gossip, or a
/// graft drawing every broadcast it names. Streams are not bounded: their handshake proves
/// the return address (joins and exchanges run over them).
///
/// The budget is the request's encoded size. Authentication adds at most as much to the
/// answer as it did to the request (a MAC both ways, or a signature on the request), so the
/// bound holds on the wire too.
extension NodeCore {
    /// The bytes datagram answers to `packet` may take, or nil when it needs no bound: it came
    /// over a stream, or from a member with standing at the host we know for it. A member's
    /// packet from elsewhere is bounded too: the MAC proves the member sent it once, not that
    /// the source is where it is now (a captured packet replayed with a victim's source
    /// address must draw no more than itself).
    func replyBudget(for packet: Packet, from source: Address, attributable: Bool, via transport: Transport) -> Int? {
        guard transport == .datagram else { return nil }
        if attributable, table[packet.from]?.member.address.host == source.host { return nil }
        return Wire.size(of: packet)
    }

    /// `packet` trimmed to fit the answer budget of the datagram being handled (no gossip
    /// piggybacked, then an ack without its network coordinate), so a stranger's probe is
    /// still answered; unchanged when no budget applies or it fits.
    mutating func trimmedToReplyBudget(_ packet: Packet) -> Packet {
        guard let cap = trust.replyBudget, Wire.size(of: packet) > cap else { return packet }
        var p = packet
        p.updates = []
        if Wire.size(of: p) > cap, case .ack(let seq, _?) = p.message { p.message = .ack(seq: seq, coordinate: nil) }
        trust.stats.repliesTrimmed += 1
        return p
    }

    /// Withhold the datagrams queued since `mark` beyond the answer budget of the datagram
    /// being handled (counted; nobody is blamed: the source may be spoofed).
    mutating func boundReplies(since mark: Int) {
        guard var left = trust.replyBudget, mark < out.count else { return }
        var kept: [Effect] = []
        for effect in out[mark...] {
            if case .send(let p, _, .datagram) = effect {
                let size = Wire.size(of: p)
                guard size <= left else {
                    trust.stats.repliesWithheld += 1
                    continue
                }
                left -= size
            }
            kept.append(effect)
        }
        out.replaceSubrange(mark..., with: kept)
    }
}
