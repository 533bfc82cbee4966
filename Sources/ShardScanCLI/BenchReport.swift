import Foundation

/// What `shardscan bench` measured; printed as a table or as JSON.
struct BenchReport: Encodable {
    struct Releases: Encodable {
        var code: Int
        var full: Int
        var half: Int?
    }

    /// Blob bytes: in the repository, reachable from code (90%), new in the last 10%, reachable from half.
    struct Bytes: Encodable {
        var all: Int
        var code: Int
        var new: Int
        var half: Int?
    }

    struct Measurement: Encodable {
        enum Kind: String, Encodable, CaseIterable {
            case baseline, full, incremental, half, backfill
            case huntPaths = "hunt-paths"
            case huntContent = "hunt-content"
        }

        var kind: Kind
        var runs: [ChildRun]
        /// The blob bytes this measurement covers (see ``Bytes``).
        var bytes: Int
        /// `bytesScanned` and `findingsNew` of the scan's run in its store, from the last iteration.
        var scannedBytes: Int?
        var findingsNew: Int?

        var seconds: [Double] { runs.map(\.seconds) }
        var median: Double {
            let sorted = seconds.sorted()
            let middle = sorted.count / 2
            return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        }
        var min: Double { seconds.min() ?? 0 }
        var peakRSS: Int { runs.map(\.maxRSSBytes).max() ?? 0 }
        /// The median of the runs' peak RSS: steadier than the largest, which one unlucky run sets.
        var medianRSS: Double { runs.map { Double($0.maxRSSBytes) }.median }
        /// Median user + system CPU time: steadier than wall time on a shared machine.
        var cpuMedian: Double {
            let sorted = runs.map(\.cpuSeconds).sorted()
            let middle = sorted.count / 2
            return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
        }
        var megabytesPerSecond: Double { median > 0 ? Double(bytes) / 1e6 / median : 0 }

        enum CodingKeys: String, CodingKey {
            case kind, seconds, median, min, bytes, megabytesPerSecond, peakRSSBytes, medianRSSBytes, scannedBytes
            case findingsNew, exitStatuses, rssBytes, cpuSeconds
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(kind, forKey: .kind)
            try container.encode(seconds, forKey: .seconds)
            try container.encode(median, forKey: .median)
            try container.encode(min, forKey: .min)
            try container.encode(bytes, forKey: .bytes)
            try container.encode(megabytesPerSecond, forKey: .megabytesPerSecond)
            try container.encode(peakRSS, forKey: .peakRSSBytes)
            try container.encode(medianRSS, forKey: .medianRSSBytes)
            try container.encodeIfPresent(scannedBytes, forKey: .scannedBytes)
            try container.encodeIfPresent(findingsNew, forKey: .findingsNew)
            try container.encode(runs.map(\.status), forKey: .exitStatuses)
            try container.encode(runs.map(\.maxRSSBytes), forKey: .rssBytes)
            try container.encode(runs.map(\.cpuSeconds), forKey: .cpuSeconds)
        }
    }

    /// Another scanner's runs on the same shard (`--peer`).
    struct PeerMeasurement: Encodable {
        var peer: BenchPeer
        var runs: [ChildRun]

        var median: Double { runs.map(\.seconds).median }
        var cpuMedian: Double { runs.map(\.cpuSeconds).median }
        var peakRSS: Int { runs.map(\.maxRSSBytes).max() ?? 0 }

        enum CodingKeys: String, CodingKey {
            case command, seconds, median, cpuSeconds, cpuMedian, peakRSSBytes, exitStatuses, rssBytes
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(peer.command, forKey: .command)
            try container.encode(runs.map(\.seconds), forKey: .seconds)
            try container.encode(median, forKey: .median)
            try container.encode(runs.map(\.cpuSeconds), forKey: .cpuSeconds)
            try container.encode(cpuMedian, forKey: .cpuMedian)
            try container.encode(peakRSS, forKey: .peakRSSBytes)
            try container.encode(runs.map(\.status), forKey: .exitStatuses)
            try container.encode(runs.map(\.maxRSSBytes), forKey: .rssBytes)
        }
    }

    var shard: String
    var iterations: Int
    var releases: Releases
    var bytes: Bytes
    var measurements: [Measurement]
    var peers: [PeerMeasurement] = []

    subscript(_ kind: Measurement.Kind) -> Measurement? { measurements.first { $0.kind == kind } }

    /// Full scan time over baseline time (medians).
    var fullOverBaseline: Double? {
        guard let full = self[.full], let baseline = self[.baseline], baseline.median > 0 else { return nil }
        return full.median / baseline.median
    }

    /// A measurement's median wall time over the baseline's.
    func overBaseline(_ kind: Measurement.Kind) -> Double? {
        guard let measurement = self[kind], let baseline = self[.baseline], baseline.median > 0 else { return nil }
        return measurement.median / baseline.median
    }

    /// The most a hunt may take, in baselines (issue 14): a path-only hunt reads no blob.
    static func target(_ kind: Measurement.Kind) -> Double? {
        switch kind {
        case .huntPaths: return 0.1
        case .huntContent: return 1.0
        default: return nil
        }
    }

    /// Incremental scan time over the full scan's time scaled to the share of new bytes.
    var incrementalOverShare: Double? {
        guard let incremental = self[.incremental], let full = self[.full], bytes.code > 0, bytes.new > 0 else {
            return nil
        }
        let share = full.median * Double(bytes.new) / Double(bytes.code)
        return share > 0 ? incremental.median / share : nil
    }

    /// Backfill time (one new pack over the whole store) over the full scan's time.
    var backfillOverFull: Double? {
        guard let backfill = self[.backfill], let full = self[.full], full.median > 0 else { return nil }
        return backfill.median / full.median
    }

    /// CPU time (user + system) over the baseline's.
    func cpuOver(_ seconds: Double) -> Double? {
        guard let baseline = self[.baseline], baseline.cpuMedian > 0 else { return nil }
        return seconds / baseline.cpuMedian
    }

    /// Peak RSS of the full scan over that of the half-size scan.
    var rssFullOverHalf: Double? {
        guard let full = self[.full], let half = self[.half], half.peakRSS > 0 else { return nil }
        return Double(full.peakRSS) / Double(half.peakRSS)
    }

    enum CodingKeys: String, CodingKey {
        case shard, iterations, releases, bytes, measurements, fullOverBaseline, incrementalOverShare
        case rssFullOverHalf, peers, fullCPUOverBaseline, backfillOverFull, huntPathsOverBaseline,
            huntContentOverBaseline
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(shard, forKey: .shard)
        try container.encode(iterations, forKey: .iterations)
        try container.encode(releases, forKey: .releases)
        try container.encode(bytes, forKey: .bytes)
        try container.encode(measurements, forKey: .measurements)
        try container.encodeIfPresent(fullOverBaseline, forKey: .fullOverBaseline)
        try container.encodeIfPresent(incrementalOverShare, forKey: .incrementalOverShare)
        try container.encodeIfPresent(rssFullOverHalf, forKey: .rssFullOverHalf)
        try container.encodeIfPresent(backfillOverFull, forKey: .backfillOverFull)
        try container.encodeIfPresent(self[.full].flatMap { cpuOver($0.cpuMedian) }, forKey: .fullCPUOverBaseline)
        try container.encodeIfPresent(overBaseline(.huntPaths), forKey: .huntPathsOverBaseline)
        try container.encodeIfPresent(overBaseline(.huntContent), forKey: .huntContentOverBaseline)
        if !peers.isEmpty { try container.encode(peers, forKey: .peers) }
    }

    func table() -> String {
        func mb(_ bytes: Int) -> String { String(format: "%.1f", Double(bytes) / 1e6) }
        func fixed(_ value: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }
        var lines = ["shardscan bench \(shard): \(iterations) iteration\(iterations == 1 ? "" : "s")"]
        lines.append(
            "  releases: \(releases.code) at code (90%), \(releases.full) at refs/bench/full"
                + (releases.half.map { ", \($0) at refs/bench/half" } ?? ""))
        lines.append(
            "  blob MB: \(mb(bytes.all)) in the repository, \(mb(bytes.code)) at code, \(mb(bytes.new)) new since code"
                + (bytes.half.map { ", \(mb($0)) at half" } ?? ""))
        lines.append("")
        let header = ["MEASUREMENT", "MEDIAN s", "MIN s", "CPU s", "MB", "MB/s", "RATIO", "PEAK RSS MB"]
        let widths = [24, 9, 8, 8, 7, 7, 34, 11]
        func row(_ cells: [String]) -> String {
            zip(cells, widths).enumerated().map { index, pair in
                let (cell, width) = pair
                let pad = String(repeating: " ", count: Swift.max(0, width - cell.count))
                return index == 0 || index == 6 ? cell + pad : pad + cell
            }.joined(separator: " ")
        }
        lines.append(row(header))
        let names: [Measurement.Kind: String] = [
            .baseline: "baseline (git cat-file)", .full: "full scan (code at 90%)",
            .incremental: "incremental (+10%)", .half: "half scan (code at half)",
            .backfill: "backfill (+1 pack)",
            .huntPaths: "hunt, paths only", .huntContent: "hunt, pattern",
        ]
        for measurement in measurements {
            var ratio = ""
            switch measurement.kind {
            case .full:
                ratio = fullOverBaseline.map { "  \(fixed($0)) × baseline" } ?? ""
                if let cpu = cpuOver(measurement.cpuMedian) { ratio += " (CPU \(fixed(cpu)) ×)" }
            case .incremental: ratio = incrementalOverShare.map { "  \(fixed($0)) × its share of full" } ?? ""
            case .half:
                let byteRatio = Double(bytes.code) / Double(Swift.max(1, bytes.half ?? 0))
                ratio = rssFullOverHalf.map { "  RSS full/half \(fixed($0)) (bytes \(fixed(byteRatio)))" } ?? ""
            case .backfill: ratio = backfillOverFull.map { "  \(fixed($0)) × full scan" } ?? ""
            case .huntPaths, .huntContent:
                ratio = overBaseline(measurement.kind).map { "  \(fixed($0)) × baseline" } ?? ""
                if let target = Self.target(measurement.kind) { ratio += " (target ≤ \(fixed(target, 1)))" }
            case .baseline: ratio = ""
            }
            lines.append(
                row([
                    names[measurement.kind] ?? measurement.kind.rawValue, fixed(measurement.median),
                    fixed(measurement.min), fixed(measurement.cpuMedian), mb(measurement.bytes),
                    fixed(measurement.megabytesPerSecond, 1), ratio,
                    fixed(Double(measurement.peakRSS) / 1e6, 1),
                ]))
        }
        for peer in peers {
            let wall = self[.baseline].map { $0.median > 0 ? peer.median / $0.median : 0 } ?? 0
            var ratio = "  \(fixed(wall)) × baseline"
            if let full = self[.full], peer.median > 0 { ratio += "; full \(fixed(full.median / peer.median)) ×" }
            let min = peer.runs.map(\.seconds).min() ?? 0
            lines.append(
                row([
                    String(peer.peer.name.prefix(24)), fixed(peer.median), fixed(min), fixed(peer.cpuMedian),
                    mb(bytes.all), fixed(peer.median > 0 ? Double(bytes.all) / 1e6 / peer.median : 0, 1), ratio,
                    fixed(Double(peer.peakRSS) / 1e6, 1),
                ]))
        }
        if !peers.isEmpty {
            lines.append("")
            lines.append("  Peers (run by /bin/sh; MB is every blob; exit statuses as recorded):")
            for (number, peer) in peers.enumerated() {
                let statuses = peer.runs.map { String($0.status) }.joined(separator: ",")
                lines.append("    \(number + 1). \(peer.peer.command)  (exit \(statuses))")
            }
        }
        let scanned = measurements.compactMap { measurement -> String? in
            guard let bytes = measurement.scannedBytes else { return nil }
            let name = padded(measurement.kind.rawValue + ":", 13)
            return "    \(name)\(mb(bytes)) MB scanned, \(measurement.findingsNew ?? 0) new findings"
        }
        if !scanned.isEmpty {
            lines.append("")
            lines.append("  The last iteration's runs, from their stores:")
            lines += scanned
        }
        return lines.joined(separator: "\n")
    }
}

/// Several shards benched in one run (`shardscan bench SHARD SHARD…`), as JSON.
struct BenchRun: Encodable {
    var shards: [BenchReport]
    var comparisons: [BenchComparison]
}

/// A shard's full scans against the first shard's, measured in the same run: whether throughput and memory hold
/// on a larger shard.
struct BenchComparison: Encodable {
    var shard: String
    var against: String
    /// Full-scan MB/s over the first shard's (median wall times).
    var throughputRatio: Double
    /// The median of the full scans' peak RSS over the first shard's.
    var medianRSSRatio: Double
    /// The largest full-scan peak RSS over the first shard's.
    var peakRSSRatio: Double
    /// Each shard's full scan over its own git baseline (medians), when both were timed.
    var fullOverBaseline: Double?
    var againstFullOverBaseline: Double?

    /// Every shard after the first against the first, for those with full scans.
    static func comparisons(_ reports: [BenchReport]) -> [BenchComparison] {
        guard let first = reports.first, let firstFull = first[.full] else { return [] }
        return reports.dropFirst().compactMap { report in
            guard let full = report[.full], firstFull.megabytesPerSecond > 0, firstFull.medianRSS > 0,
                firstFull.peakRSS > 0
            else { return nil }
            return BenchComparison(
                shard: report.shard, against: first.shard,
                throughputRatio: full.megabytesPerSecond / firstFull.megabytesPerSecond,
                medianRSSRatio: full.medianRSS / firstFull.medianRSS,
                peakRSSRatio: Double(full.peakRSS) / Double(firstFull.peakRSS),
                fullOverBaseline: report.fullOverBaseline, againstFullOverBaseline: first.fullOverBaseline)
        }
    }

    static func table(_ comparisons: [BenchComparison]) -> String {
        guard let against = comparisons.first?.against else { return "No full scans to compare." }
        func fixed(_ value: Double) -> String { String(format: "%.2f", value) }
        var lines = ["Full scans against \(against)'s, in the same run:"]
        for comparison in comparisons {
            var line =
                "  \(comparison.shard): throughput \(fixed(comparison.throughputRatio)) ×, peak RSS "
                + "\(fixed(comparison.medianRSSRatio)) × (median of the runs; largest \(fixed(comparison.peakRSSRatio)) ×)"
            if let own = comparison.fullOverBaseline, let theirs = comparison.againstFullOverBaseline {
                line += ", \(fixed(own)) × git against \(fixed(theirs)) ×"
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}

extension Array where Element == Double {
    /// The middle value (the mean of the two middle ones for an even count); 0 when empty.
    var median: Double {
        guard !isEmpty else { return 0 }
        let sorted = self.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
