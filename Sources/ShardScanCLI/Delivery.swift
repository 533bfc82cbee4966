import Foundation
import ShardScanReports
import ShardScanStore

/// Deliveries that lose nothing: a JSON or JSON Lines file holding every place recorded since the last
/// delivery of that format from this store, so what a killed or stopped scan recorded arrives with the next one.
enum Delivery {
    /// Writes what delivery `format` owes to `output` (standard output when nil), then moves its cursor;
    /// a delivery that fails to write leaves the cursor where it was, so the next one repeats it.
    /// Returns how many places it held.
    @discardableResult
    static func deliver(store: Store, format: ReportFormat, to output: String?, showSecrets: Bool) throws -> Int {
        let kind = format.rawValue
        let range = try store.pendingDelivery(kind)
        let input = try ReportInput(store: store, selection: .delivery(range))
        try ReportWriter.write(input, format: format, to: output, showSecrets: showSecrets)
        try store.completeDelivery(kind, range)
        return input.rows.count
    }
}
