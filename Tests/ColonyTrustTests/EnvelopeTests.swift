import ColonyCore
import ColonyTrust
import Foundation
import Testing

/// A deterministic 32-byte key (distinct per seed).
private func key(_ seed: UInt8) -> [UInt8] { (0..<32).map { UInt8(truncatingIfNeeded: Int($0) &* 7 &+ Int(seed)) } }

/// Deterministic plain bytes of a given length.
private func bytes(_ count: Int, seed: UInt8 = 3) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
}

private func nonce(_ i: Int) -> Envelope.Nonce {
    var b = [UInt8](repeating: 0, count: 12)
    withUnsafeBytes(of: UInt64(i).bigEndian) { for (j, x) in $0.enumerated() { b[4 + j] = x } }
    return Envelope.Nonce(b)
}

// MARK: - Envelope

@Suite(.tags(.crypto)) struct EnvelopeTests {
    let k1 = key(1)
    let k2 = key(2)

    @Test(arguments: [0, 1, 17, 64 * 1024])
    func sealAndOpenRoundTrip(length: Int) throws {
        let plain = bytes(length)
        let sealed = Envelope.seal(plain, key: k1, sentAtMs: 1_700_000_000_123)
        #expect(sealed.count - plain.count == Envelope.overhead, "overhead is exactly what sealing adds")
        #expect(Envelope.overhead == 1 + 8 + 12 + 16)
        #expect(sealed.first == Envelope.marker)
        #expect(WireNamespace(first: sealed) == .sealed && Envelope.marker == 0xC1)
        #expect(Envelope.isSealed(sealed))
        if length > 0 {
            #expect(
                Array(sealed[Envelope.headerBytes..<(Envelope.headerBytes + length)]) != plain,
                "the body is not the plain text")
        }
        let opened = try Envelope.open(sealed, keys: [k1])
        #expect(opened.plain == plain)
        #expect(opened.sentAtMs == 1_700_000_000_123)
        #expect(opened.keyIndex == 0)
        #expect(opened.nonce == Envelope.Nonce(sealed[9..<21]))
    }

    @Test func theTimeIsBigEndianInTheHeader() throws {
        let sealed = Envelope.seal([1, 2, 3], key: k1, sentAtMs: 0x0102_0304_0506_0708)
        #expect(Array(sealed[1..<9]) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(try Envelope.open(sealed, keys: [k1]).sentAtMs == 0x0102_0304_0506_0708)
    }

    @Test func freshNoncesDiffer() {
        let a = Envelope.seal([9, 9, 9], key: k1, sentAtMs: 5)
        let b = Envelope.seal([9, 9, 9], key: k1, sentAtMs: 5)
        #expect(a[9..<21] != b[9..<21], "each seal draws a fresh nonce")
        #expect(a != b)
    }

    @Test func explicitNonceIsUsedAndDeterministic() throws {
        let n: [UInt8] = Array(1...12)
        let a = Envelope.seal(bytes(40), key: k1, sentAtMs: 77, nonce: n)
        let b = Envelope.seal(bytes(40), key: k1, sentAtMs: 77, nonce: n)
        #expect(a == b)
        #expect(Array(a[9..<21]) == n)
        #expect(try Envelope.open(a, keys: [k1]).nonce == Envelope.Nonce(n))
    }

    @Test func anyInstalledKeyOpensAndReportsItsIndex() throws {
        let sealed = Envelope.seal(bytes(100), key: k1, sentAtMs: 42)
        let opened = try Envelope.open(sealed, keys: [k2, k1])
        #expect(opened.keyIndex == 1)
        #expect(opened.plain == bytes(100))
        let third = try Envelope.open(sealed, keys: [key(7), k2, k1])
        #expect(third.keyIndex == 2)
    }

    @Test func aWrongKeyOpensNothing() {
        let sealed = Envelope.seal(bytes(100), key: k1, sentAtMs: 42)
        #expect(throws: Envelope.Failure.noKeyOpens) { try Envelope.open(sealed, keys: [k2]) }
        #expect(throws: Envelope.Failure.noKeyOpens) { try Envelope.open(sealed, keys: [k2, key(9)]) }
        #expect(throws: Envelope.Failure.noKeyOpens, "no keys at all") { try Envelope.open(sealed, keys: []) }
    }

    @Test func flippingAnySingleByteIsDetected() throws {
        let plain = bytes(8)
        let sealed = Envelope.seal(plain, key: k1, sentAtMs: 1_700_000_000_000)
        #expect(sealed.count == Envelope.overhead + 8)
        #expect(try Envelope.open(sealed, keys: [k1]).plain == plain, "the unaltered packet opens")
        var checked = 0
        for index in sealed.indices {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                var altered = sealed
                altered[index] ^= mask
                do {
                    let opened = try Envelope.open(altered, keys: [k1, k2])
                    Issue.record("byte \(index) ^ \(mask) opened as \(opened.plain)")
                } catch {
                    // The marker byte makes it unsealed; anything else breaks authentication.
                    #expect(error == (index == 0 ? .notSealed : .noKeyOpens), "byte \(index) ^ \(mask): \(error)")
                }
                checked += 1
            }
        }
        #expect(checked == sealed.count * 3)
    }

    @Test func everyTruncationShorterThanTheEnvelopeIsRefused() {
        let sealed = Envelope.seal(bytes(8), key: k1, sentAtMs: 1_700_000_000_000)
        for length in 0..<Envelope.overhead {
            let cut = Array(sealed.prefix(length))
            let expected: Envelope.Failure = length == 0 ? .notSealed : .truncated(length)
            #expect(throws: expected, "length \(length)") { try Envelope.open(cut, keys: [k1]) }
        }
    }

    @Test func truncationsLongerThanTheEnvelopeFailAuthentication() {
        let sealed = Envelope.seal(bytes(8), key: k1, sentAtMs: 1_700_000_000_000)
        for length in Envelope.overhead..<sealed.count {
            #expect(throws: Envelope.Failure.noKeyOpens, "length \(length)") {
                try Envelope.open(Array(sealed.prefix(length)), keys: [k1])
            }
        }
        var extended = sealed
        extended.append(0)
        #expect(throws: Envelope.Failure.noKeyOpens, "an appended byte") { try Envelope.open(extended, keys: [k1]) }
    }

    @Test func aPacketNotStartingWithTheMarkerIsNotSealed() {
        var sealed = Envelope.seal(bytes(8), key: k1, sentAtMs: 1)
        for first: UInt8 in [0x00, 0x01, 0xC0, 0xC2, 0xFF] {
            sealed[0] = first
            #expect(!Envelope.isSealed(sealed))
            #expect(throws: Envelope.Failure.notSealed, "first byte \(first)") { try Envelope.open(sealed, keys: [k1]) }
        }
        #expect(throws: Envelope.Failure.notSealed, "a plain wire packet (version 1)") {
            try Envelope.open([1] + bytes(60), keys: [k1])
        }
        #expect(!Envelope.isSealed([]))
    }

    @Test func failureReasonsAreDistinctLabels() {
        let all: [Envelope.Failure] = [.notSealed, .truncated(3), .noKeyOpens, .stale(skewMs: -5), .replayed]
        #expect(Set(all.map(\.reason)).count == all.count)
        #expect(Envelope.Failure.noKeyOpens.reason == "unsealable")
        #expect(Envelope.Failure.truncated(3).description.contains("3 bytes"))
        #expect(Envelope.Failure.stale(skewMs: -5).description.contains("-5"))
    }
}

// MARK: - Nonce

@Suite(.tags(.crypto)) struct NonceTests {
    @Test func nonceEqualityFollowsAllTwelveBytes() {
        let base: [UInt8] = Array(1...12)
        #expect(Envelope.Nonce(base) == Envelope.Nonce(base))
        for i in 0..<12 {
            var other = base
            other[i] ^= 0x40
            #expect(Envelope.Nonce(other) != Envelope.Nonce(base), "byte \(i) matters")
        }
        #expect(Envelope.Nonce(base[...]) == Envelope.Nonce(base), "slices and arrays agree")
    }
}

// MARK: - ReplayGuard

@Suite(.tags(.crypto)) struct ReplayGuardTests {
    let now: UInt64 = 1_700_000_000_000

    @Test func acceptsAFreshNonceAndRefusesItAgain() throws {
        var guardian = ReplayGuard(windowMs: 1_000, capacity: 100)
        try guardian.admit(sentAtMs: now, nonce: nonce(1), nowMs: now)
        #expect(guardian.count == 1)
        #expect(throws: Envelope.Failure.replayed) { try guardian.admit(sentAtMs: now, nonce: nonce(1), nowMs: now) }
        #expect(throws: Envelope.Failure.replayed, "a replay with another time is still the same nonce") {
            try guardian.admit(sentAtMs: now + 5, nonce: nonce(1), nowMs: now + 10)
        }
        try guardian.admit(sentAtMs: now, nonce: nonce(2), nowMs: now)
        #expect(guardian.count == 2)
    }

    @Test func refusesTimesOutsideTheWindowEitherWay() throws {
        var guardian = ReplayGuard(windowMs: 1_000, capacity: 100)
        #expect(throws: Envelope.Failure.stale(skewMs: 1_001), "from the future") {
            try guardian.admit(sentAtMs: now + 1_001, nonce: nonce(1), nowMs: now)
        }
        #expect(throws: Envelope.Failure.stale(skewMs: -1_001), "from the past") {
            try guardian.admit(sentAtMs: now - 1_001, nonce: nonce(2), nowMs: now)
        }
        #expect(throws: Envelope.Failure.stale(skewMs: -Int64(now)), "time zero") {
            try guardian.admit(sentAtMs: 0, nonce: nonce(3), nowMs: now)
        }
        #expect(guardian.count == 0, "refused packets are not remembered")
        // The window's edges are inside.
        try guardian.admit(sentAtMs: now + 1_000, nonce: nonce(4), nowMs: now)
        try guardian.admit(sentAtMs: now - 1_000, nonce: nonce(5), nowMs: now)
        #expect(guardian.count == 2)
    }

    @Test func forgetsNoncesOnceTheWindowPassesAndTheirReplayIsStale() throws {
        var guardian = ReplayGuard(windowMs: 1_000, capacity: 100)
        for i in 0..<10 { try guardian.admit(sentAtMs: now + UInt64(i), nonce: nonce(i), nowMs: now + UInt64(i)) }
        #expect(guardian.count == 10)
        // Half a window later nothing is forgotten.
        try guardian.admit(sentAtMs: now + 500, nonce: nonce(100), nowMs: now + 500)
        #expect(guardian.count == 11)
        #expect(throws: Envelope.Failure.replayed) {
            try guardian.admit(sentAtMs: now + 3, nonce: nonce(3), nowMs: now + 500)
        }
        // Well past the window: the first ten are forgotten...
        let later = now + 1_200
        try guardian.admit(sentAtMs: later, nonce: nonce(200), nowMs: later)
        #expect(guardian.count == 2, "only the packets from within the window are held")
        // ...and a replay of any of them is stale, not admitted.
        for i in 0..<10 {
            #expect(throws: Envelope.Failure.stale(skewMs: -Int64(1_200 - i)), "nonce \(i)") {
                try guardian.admit(sentAtMs: now + UInt64(i), nonce: nonce(i), nowMs: later)
            }
        }
        #expect(throws: Envelope.Failure.replayed, "still held") {
            try guardian.admit(sentAtMs: now + 500, nonce: nonce(100), nowMs: later)
        }
        #expect(guardian.floorMs == 0, "expiry by time does not raise the floor")
    }

    @Test func overflowRaisesTheFloorSoEvictedNoncesStayRefused() throws {
        var guardian = ReplayGuard(windowMs: 60_000, capacity: 4)
        for i in 1...4 { try guardian.admit(sentAtMs: now + UInt64(i), nonce: nonce(i), nowMs: now + 10) }
        #expect(guardian.count == 4)
        #expect(guardian.floorMs == 0)
        // The fifth evicts the oldest (nonce 1, sent at now + 1).
        try guardian.admit(sentAtMs: now + 5, nonce: nonce(5), nowMs: now + 10)
        #expect(guardian.count == 4)
        #expect(guardian.floorMs == now + 1)
        #expect(throws: Envelope.Failure.replayed, "the evicted nonce is refused by the floor") {
            try guardian.admit(sentAtMs: now + 1, nonce: nonce(1), nowMs: now + 10)
        }
        #expect(throws: Envelope.Failure.replayed, "a held nonce is refused by the cache") {
            try guardian.admit(sentAtMs: now + 3, nonce: nonce(3), nowMs: now + 10)
        }
        // Newer packets still get in, evicting more and raising the floor further.
        try guardian.admit(sentAtMs: now + 6, nonce: nonce(6), nowMs: now + 10)
        try guardian.admit(sentAtMs: now + 7, nonce: nonce(7), nowMs: now + 10)
        #expect(guardian.floorMs == now + 3)
        #expect(guardian.count == 4)
        for i in 1...3 {
            #expect(throws: Envelope.Failure.replayed, "evicted nonce \(i)") {
                try guardian.admit(sentAtMs: now + UInt64(i), nonce: nonce(i), nowMs: now + 10)
            }
        }
        #expect(throws: Envelope.Failure.replayed, "a fresh nonce at or below the floor is refused too") {
            try guardian.admit(sentAtMs: now + 3, nonce: nonce(999), nowMs: now + 10)
        }
        try guardian.admit(sentAtMs: now + 8, nonce: nonce(8), nowMs: now + 10)
        #expect(guardian.count == 4)
    }

    @Test func countNeverExceedsCapacity() throws {
        let capacity = 64
        var guardian = ReplayGuard(windowMs: 60_000, capacity: capacity)
        var admitted = 0
        var maxCount = 0
        for i in 0..<10_000 {
            let t = now + UInt64(i)
            // Half the packets replay the previous nonce: never admitted, never grow the cache.
            if i % 2 == 1 {
                #expect(throws: Envelope.Failure.replayed) {
                    try guardian.admit(sentAtMs: t, nonce: nonce(i - 1), nowMs: t)
                }
            } else {
                try guardian.admit(sentAtMs: t, nonce: nonce(i), nowMs: t)
                admitted += 1
            }
            maxCount = max(maxCount, guardian.count)
        }
        #expect(admitted == 5_000)
        #expect(maxCount == capacity)
        #expect(guardian.count == capacity)
        #expect(guardian.floorMs > now, "the overflow raised the floor")
    }

    @Test func capacityIsAtLeastOne() throws {
        var guardian = ReplayGuard(windowMs: 1_000, capacity: 0)
        #expect(guardian.capacity == 1)
        try guardian.admit(sentAtMs: now, nonce: nonce(1), nowMs: now)
        try guardian.admit(sentAtMs: now + 1, nonce: nonce(2), nowMs: now + 1)
        #expect(guardian.count == 1)
        #expect(throws: Envelope.Failure.replayed) {
            try guardian.admit(sentAtMs: now, nonce: nonce(1), nowMs: now + 1)
        }
    }
}

// MARK: - Keyring

@Suite(.tags(.crypto)) struct KeyringTests {
    let k1 = key(1)
    let k2 = key(2)
    let k3 = key(3)

    @Test func initRejectsBadKeysWithTheDocumentedErrors() {
        #expect(throws: KeyringError.notBase64) { try Keyring(primaryBase64: "not base64!") }
        #expect(throws: KeyringError.notBase64) { try Keyring.decode("@@@@") }
        #expect(throws: KeyringError.wrongLength(16)) {
            try Keyring(primaryBase64: Data(bytes(16)).base64EncodedString())
        }
        #expect(throws: KeyringError.wrongLength(33)) {
            try Keyring(primaryBase64: Data(bytes(33)).base64EncodedString())
        }
        #expect(throws: KeyringError.wrongLength(0)) { try Keyring(primaryBase64: "") }
        #expect(throws: KeyringError.wrongLength(31)) { try Keyring(primary: bytes(31)) }
        #expect(throws: KeyringError.wrongLength(0)) { try Keyring(primary: []) }
        #expect("\(KeyringError.wrongLength(16))".contains("16 bytes"))
        #expect("\(KeyringError.notBase64)".contains("base64"))
    }

    @Test func decodeAcceptsAValidKeyWithSurroundingWhitespace() throws {
        let b64 = Data(k1).base64EncodedString()
        #expect(try Keyring.decode(b64) == k1)
        #expect(try Keyring.decode("  \(b64)\n") == k1)
        let ring = try Keyring(primaryBase64: b64)
        #expect(ring.keys == [k1])
        #expect(ring.primary == k1)
        #expect(ring.mode == .require, "require is the default mode")
        #expect(ring.encodedKeys == [b64])
    }

    @Test func modesSealAndAcceptPlainAsDocumented() {
        #expect(!Keyring.Mode.open.seals && Keyring.Mode.open.acceptsPlain)
        #expect(Keyring.Mode.accept.seals && Keyring.Mode.accept.acceptsPlain)
        #expect(Keyring.Mode.require.seals && !Keyring.Mode.require.acceptsPlain)
    }

    @Test func installIsIdempotentAndChecksLength() throws {
        var ring = try Keyring(primary: k1)
        try ring.install(k2)
        try ring.install(k2)
        try ring.install(k1)
        #expect(ring.keys == [k1, k2])
        #expect(ring.primary == k1, "installing does not change the primary")
        #expect(throws: KeyringError.wrongLength(5)) { try ring.install(bytes(5)) }
        #expect(ring.keys == [k1, k2])
    }

    @Test func useMovesAKeyToPrimaryKeepingTheOthers() throws {
        var ring = try Keyring(primary: k1)
        try ring.install(k2)
        try ring.install(k3)
        try ring.use(k3)
        #expect(ring.keys == [k3, k1, k2])
        #expect(ring.primary == k3)
        try ring.use(k3)
        #expect(ring.keys == [k3, k1, k2], "using the primary is a no-op")
        try ring.use(k2)
        #expect(ring.keys == [k2, k3, k1])
    }

    @Test func useOfAnUninstalledKeyThrows() throws {
        var ring = try Keyring(primary: k1)
        try ring.install(k2)
        #expect(throws: KeyringError.notInstalled) { try ring.use(k3) }
        #expect(ring.keys == [k1, k2], "unchanged")
    }

    @Test func removingThePrimaryThrowsAndRemovingAnAbsentKeyIsANoOp() throws {
        var ring = try Keyring(primary: k1)
        try ring.install(k2)
        #expect(throws: KeyringError.removingPrimary) { try ring.remove(k1) }
        #expect(ring.keys == [k1, k2])
        try ring.remove(k3)
        #expect(ring.keys == [k1, k2], "absent key: no-op")
        try ring.remove(k2)
        #expect(ring.keys == [k1])
        try ring.remove(k2)
        #expect(ring.keys == [k1])
        // Rotation: use the new key, then the old one can go.
        try ring.install(k3)
        try ring.use(k3)
        try ring.remove(k1)
        #expect(ring.keys == [k3])
    }

    @Test(arguments: Keyring.Mode.allCases)
    func jsonRoundTripPreservesKeyOrderAndMode(mode: Keyring.Mode) throws {
        var ring = try Keyring(primary: k1, mode: mode)
        try ring.install(k2)
        try ring.install(k3)
        try ring.use(k3)
        let json = ring.encoded()
        #expect(!json.isEmpty)
        let back = try Keyring(json: json)
        #expect(back == ring)
        #expect(back.keys == [k3, k1, k2])
        #expect(back.mode == mode)
        let object = try JSONSerialization.jsonObject(with: json) as? [String: Any]
        #expect(object?["mode"] as? String == mode.rawValue)
        #expect(object?["keys"] as? [String] == [k3, k1, k2].map { Data($0).base64EncodedString() })
    }

    @Test(arguments: [
        "", "garbage", "{", "[]", "{\"keys\": [], \"mode\": \"require\"}", "{\"keys\": [\"x\"]}",
        "{\"keys\": [\"AAAA\"], \"mode\": \"bogus\"}",
    ])
    func jsonThatIsNotAKeyringIsUnreadable(text: String) {
        let error = #expect(throws: KeyringError.self) { try Keyring(json: Data(text.utf8)) }
        guard case .unreadable? = error else {
            Issue.record("expected .unreadable, got \(String(describing: error))")
            return
        }
    }

    @Test func jsonWithABadKeyReportsTheKey() {
        let json = Data("{\"keys\": [\"\(Data(k1).base64EncodedString())\", \"AAAA\"], \"mode\": \"open\"}".utf8)
        #expect(throws: KeyringError.wrongLength(3)) { try Keyring(json: json) }
    }

    @Test func generatedKeysAre32RandomBytes() throws {
        let a = Keyring.generateKey()
        let b = Keyring.generateKey()
        #expect(try Keyring.decode(a).count == 32)
        #expect(Data(base64Encoded: a)?.count == 32)
        #expect(a != b)
        #expect(try Keyring.decode(a) != Keyring.decode(b))
        _ = try Keyring(primaryBase64: a)
    }

    @Test func saveAndLoadRoundTripOwnerOnly() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("colony-trust-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try Keyring.load(directory: dir) == nil, "no file: no keyring")
        var ring = try Keyring(primary: k1, mode: .accept)
        try ring.install(k2)
        try ring.save(directory: dir)
        #expect(try Keyring.load(directory: dir) == ring)
        let path = Keyring.fileURL(directory: dir).path
        let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(permissions == 0o600, "keyring.json is owner-only (got \(String(permissions ?? -1, radix: 8)))")
        // Saving again replaces it.
        try ring.use(k2)
        try ring.save(directory: dir)
        #expect(try Keyring.load(directory: dir)?.keys == [k2, k1])
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"), "no temporary file left behind")
    }
}
