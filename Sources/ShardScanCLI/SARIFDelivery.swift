import Foundation
import ShardScanReports
import ShardScanStore

/// SARIF state deliveries: every shard's open truth, as GitHub code scanning needs it.
///
/// Each upload replaces every alert of its category (one per shard), so a shard's SARIF must hold all its
/// findings every time, open ones as results and triaged ones suppressed; and since GitHub takes one category
/// per upload, `--sarif-dir` writes a file per shard. The store remembers what each shard's last state said,
/// so only shards whose state changed get a file, and a shard that once had results keeps getting its run
/// (empty, when its findings are gone) until that is delivered.
enum SARIFDelivery {
    /// Writes the state of every shard with (or once with) findings to `output`, split as GitHub's limits
    /// need (see ``ReportWriter``), and remembers the shards it held, so that they keep getting a run.
    static func writeState(store: Store, to output: String?, showSecrets: Bool) throws {
        let input = try ReportInput(store: store, selection: .open)
        try ReportWriter.write(input, format: .sarif, to: output, showSecrets: showSecrets)
        try store.rememberSARIFShards(Set(input.rows.map(\.shard)))
    }

    /// Writes `DIR/<shard>.sarif` for every shard whose state changed since its last delivery, and records the
    /// new states once every file is written. Returns the files written.
    ///
    /// The folder is an outbox: the uploader removes each file once GitHub has taken it. A file still there
    /// (an upload that failed) is left alone while its shard's state is unchanged, so the next upload retries
    /// it; a newer state of the shard replaces it.
    @discardableResult
    static func writeChanged(store: Store, to directory: String, showSecrets: Bool) throws -> [String] {
        let input = try ReportInput(store: store, selection: .open)
        let files = try SARIFReport.renderPerShard(input, toolVersion: shardscanVersion, showSecrets: showSecrets)
        let delivered = try store.sarifStates()
        try createFolder(directory)
        var written: [String] = []
        var states: [(shard: String, digest: String, results: Int)] = []
        for file in files where !file.shard.isEmpty {
            let path = (directory as NSString).appendingPathComponent(fileName(file.shard))
            guard delivered[file.shard]?.digest != file.digest else { continue }
            for note in file.notes { printError("note: \(terminalSafe(note))") }
            try OutputFile.write(file.data, to: path)
            written.append(path)
            states.append((file.shard, file.digest, file.results))
        }
        try store.recordSARIFStates(states)
        return written
    }

    /// `<shard>.sarif`, with anything but letters, digits, `-`, `_` and inner `.` percent-encoded, so a shard
    /// name can neither leave the folder nor hide its file.
    static func fileName(_ shard: String) -> String {
        var name = ""
        for (index, byte) in shard.utf8.enumerated() {
            let keep =
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2D || byte == 0x5F || (byte == 0x2E && index > 0)
            name += keep ? String(UnicodeScalar(byte)) : String(format: "%%%02X", byte)
        }
        return name + ".sarif"
    }

    /// Creates the folder (0700: its files may hold secrets with `--show-secrets`) unless it exists.
    static func createFolder(_ path: String) throws {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
            guard isFolder.boolValue else {
                throw OutputFile.Failure(description: "--sarif-dir \(path) is not a folder")
            }
            return
        }
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw OutputFile.Failure(description: "cannot create --sarif-dir \(path): \(error.localizedDescription)")
        }
    }
}
