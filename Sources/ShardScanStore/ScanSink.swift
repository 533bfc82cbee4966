import Foundation
import GRDB
import ShardScanCore

/// The store is where scans write: every method of the sink is one of the store's.
extension Store: ScanSink {}

/// Object ids are kept as their 20 bytes (a BLOB), never as text.
extension ObjectID: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue { Data(bytes).databaseValue }

    public static func fromDatabaseValue(_ dbValue: DatabaseValue) -> ObjectID? {
        switch dbValue.storage {
        // Read as three words: the generic `init(bytes:)` walked a Data byte by byte, looking up its iterator's
        // metadata each time, for every id a dedupe query returns.
        case .blob(let data):
            data.count == 20 ? data.withUnsafeBytes { ObjectID(unsafeBytesAt: $0.baseAddress!) } : nil
        case .string(let hex): ObjectID(hex: hex)
        default: nil
        }
    }
}
