/// Vivaldi network coordinates (Dabek et al. 2004), as Serf's `coordinate` package computes
/// them: each node places itself in an 8-dimensional Euclidean space plus a height (the
/// access link), so the distance between two coordinates estimates their round-trip time
/// without measuring it. Probe acks carry the acker's coordinate; the prober updates its
/// own from the measured RTT. Times are in seconds, as in Serf.
public struct Coordinate: Hashable, Sendable {
    public static let dimensions = 8
    public var vec: [Double]
    public var error: Double
    public var adjustment: Double
    public var height: Double

    public init(
        vec: [Double] = Array(repeating: 0, count: Coordinate.dimensions), error: Double = VivaldiSettings().errorMax,
        adjustment: Double = 0, height: Double = VivaldiSettings().heightMin
    ) {
        self.vec = vec
        self.error = error
        self.adjustment = adjustment
        self.height = height
    }

    /// Finite numbers and the right shape (a coordinate from the network may be neither).
    public var isValid: Bool {
        vec.count == Self.dimensions && vec.allSatisfy(\.isFinite) && error.isFinite && adjustment.isFinite
            && height.isFinite
            && error >= 0 && height >= 0
    }

    /// Estimated round-trip time to `other`, seconds (Serf's `DistanceTo`).
    public func distance(to other: Coordinate) -> Double {
        let raw = rawDistance(to: other)
        let adjusted = raw + adjustment + other.adjustment
        return adjusted > 0 ? adjusted : raw
    }

    func rawDistance(to other: Coordinate) -> Double {
        Self.magnitude(Self.diff(vec, other.vec)) + height + other.height
    }

    static func diff(_ a: [Double], _ b: [Double]) -> [Double] { zip(a, b).map { $0 - $1 } }
    static func magnitude(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
}

/// Serf's defaults (`coordinate.DefaultConfig`).
public struct VivaldiSettings: Sendable, Hashable {
    public var errorMax = 1.5
    public var ce = 0.25
    public var cc = 0.25
    public var adjustmentWindow = 20
    public var heightMin = 10e-6
    public var latencyFilterSize = 3
    public var gravityRho = 150.0
    public init() {}
}

/// One node's Vivaldi state: its coordinate, the recent RTTs per peer (a median filter) and
/// the adjustment window.
package struct VivaldiClient: Sendable {
    public private(set) var coordinate = Coordinate()
    public let settings: VivaldiSettings
    var samples: [NodeID: [Double]] = [:]
    var adjustments: [Double] = []
    var adjustmentIndex = 0
    /// Updates refused for invalid input (a NaN coordinate, an absurd RTT).
    public private(set) var rejected = 0
    public private(set) var updates = 0

    public init(settings: VivaldiSettings = VivaldiSettings()) {
        self.settings = settings
        adjustments = Array(repeating: 0, count: max(1, settings.adjustmentWindow))
    }

    /// Start from a saved coordinate (a restarted node keeps its place).
    public mutating func restore(_ c: Coordinate) {
        if c.isValid && c.vec.count == Coordinate.dimensions { coordinate = c }
    }

    /// A probe of `peer`, whose coordinate is `other`, took `rtt` seconds.
    public mutating func update(peer: NodeID, other: Coordinate, rtt: Double, rng: inout Xoshiro256) {
        guard other.isValid, rtt.isFinite, rtt >= 0, rtt < 10 else {
            rejected += 1
            return
        }
        var s = samples[peer] ?? []
        s.append(rtt)
        if s.count > settings.latencyFilterSize { s.removeFirst(s.count - settings.latencyFilterSize) }
        samples[peer] = s
        let filtered = s.sorted()[s.count / 2]
        let before = coordinate
        updateVivaldi(other: other, rtt: filtered, rng: &rng)
        updateAdjustment(other: other, rtt: filtered)
        updateGravity(rng: &rng)
        if !coordinate.isValid { coordinate = before }
        updates += 1
    }

    /// Forget a peer's samples (it left).
    public mutating func forget(_ peer: NodeID) { samples[peer] = nil }

    static let zero = 1e-6

    mutating func updateVivaldi(other: Coordinate, rtt: Double, rng: inout Xoshiro256) {
        let rtt = max(rtt, Self.zero)
        let dist = coordinate.rawDistance(to: other)
        let wrongness = abs(dist - rtt) / rtt
        let total = max(coordinate.error + other.error, Self.zero)
        let weight = coordinate.error / total
        coordinate.error = min(
            settings.ce * weight * wrongness + coordinate.error * (1 - settings.ce * weight), settings.errorMax)
        let force = settings.cc * weight * (rtt - dist)
        applyForce(force, from: other, rng: &rng)
    }

    mutating func updateAdjustment(other: Coordinate, rtt: Double) {
        guard settings.adjustmentWindow > 0 else { return }
        adjustments[adjustmentIndex] = rtt - coordinate.rawDistance(to: other)
        adjustmentIndex = (adjustmentIndex + 1) % settings.adjustmentWindow
        coordinate.adjustment = adjustments.reduce(0, +) / (2 * Double(settings.adjustmentWindow))
    }

    mutating func updateGravity(rng: inout Xoshiro256) {
        let origin = Coordinate(height: settings.heightMin)
        let dist = origin.distance(to: coordinate)
        let ratio = dist / settings.gravityRho
        applyForce(-(ratio * ratio), from: origin, rng: &rng)
    }

    /// Move along the unit vector from `other` to us by `force` (Serf's `ApplyForce`).
    mutating func applyForce(_ force: Double, from other: Coordinate, rng: inout Xoshiro256) {
        var d = Coordinate.diff(coordinate.vec, other.vec)
        var mag = Coordinate.magnitude(d)
        if mag <= Self.zero {
            // On top of each other: push in a random direction.
            d = (0..<Coordinate.dimensions).map { _ in rng.unit() - 0.5 }
            mag = Coordinate.magnitude(d)
            if mag <= Self.zero { return }
            d = d.map { $0 / mag }
            mag = 0
        } else {
            d = d.map { $0 / mag }
        }
        coordinate.vec = zip(coordinate.vec, d).map { $0 + $1 * force }
        if mag > Self.zero {
            coordinate.height = max(
                (coordinate.height + other.height) * force / mag + coordinate.height, settings.heightMin)
        }
    }
}
