import Foundation

/// Writes a run's timeline as CSV and as an SVG plot of the fraction of nodes that know the
/// news over time, plus the JSON summary, into a directory.
public enum Report {
    public static func write(_ result: SimulationResult, to directory: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let base = "\(result.options.scenario.rawValue)-n\(result.options.nodes)-\(result.options.seedText)"
        var csv = "ms,fraction\n"
        for p in result.timeline { csv += String(format: "%.3f,%.5f\n", p.ms, p.fraction) }
        try csv.write(toFile: "\(directory)/\(base).csv", atomically: true, encoding: .utf8)
        try svg(result).write(toFile: "\(directory)/\(base).svg", atomically: true, encoding: .utf8)
        try (result.json + "\n").write(toFile: "\(directory)/\(base).json", atomically: true, encoding: .utf8)
    }

    static func svg(_ result: SimulationResult) -> String {
        let w = 640.0
        let h = 360.0
        let left = 60.0
        let right = 20.0
        let top = 40.0
        let bottom = 50.0
        let points = result.timeline
        let maxMs = max(1, points.map(\.ms).max() ?? 1) * 1.05
        func x(_ ms: Double) -> Double { left + ms / maxMs * (w - left - right) }
        func y(_ f: Double) -> Double { top + (1 - f) * (h - top - bottom) }
        var path = ""
        var prev: (Double, Double)?
        for p in points {
            if let prev { path += String(format: " L%.1f,%.1f", x(p.ms), y(prev.1)) }
            path += (prev == nil ? "M" : " L") + String(format: "%.1f,%.1f", x(p.ms), y(p.fraction))
            prev = (p.ms, p.fraction)
        }
        let o = result.options
        let title = "colony simulate — \(o.scenario.rawValue), N=\(o.nodes), \(o.profile), seed \(o.seedText)"
        var s = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(w))" height="\(Int(h))" \
            font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left)" y="20" font-size="14">\(escape(title))</text>
            <line x1="\(left)" y1="\(y(0))" x2="\(w - right)" y2="\(y(0))" stroke="black"/>
            <line x1="\(left)" y1="\(y(0))" x2="\(left)" y2="\(y(1))" stroke="black"/>

            """
        for f in [0.0, 0.25, 0.5, 0.75, 1.0] {
            s += String(
                format: "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.0f%%</text>\n", left - 6, y(f) + 4, f * 100)
            s += String(
                format: "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", left, y(f),
                w - right, y(f))
        }
        for k in 0...4 {
            let ms = maxMs * Double(k) / 4
            s += String(
                format: "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%.0f</text>\n", x(ms), h - bottom + 16, ms)
        }
        let middle = (top + h - bottom) / 2
        s += "<text x=\"\((left + w - right) / 2)\" y=\"\(h - 12)\" text-anchor=\"middle\">"
        s += "milliseconds of virtual time</text>\n"
        s += "<text x=\"14\" y=\"\(middle)\" transform=\"rotate(-90 14 \(middle))\" text-anchor=\"middle\">"
        s += "\(escape(result.newsLabel))</text>\n"
        s += "<path d=\"\(path)\" fill=\"none\" stroke=\"#c0392b\" stroke-width=\"2\"/>\n</svg>\n"
        return s
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(
            of: ">", with: "&gt;")
    }
}
