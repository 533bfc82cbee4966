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
        case .blob(let data): ObjectID(bytes: data)
        case .string(let hex): ObjectID(hex: hex)
        default: nil
        }
    }
}
