import ArgumentParser
import Foundation
import ShardScanEngine
import ShardScanStore

/// `shardscan merge`: folds the stores of a fleet's workers into the main one.
struct Merge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fold worker stores (from scan --worker) into the main store.",
        discussion: """
            Rows are matched on what they stand for, not on local ids: blobs by object id and rule set, findings \
            by fingerprint, shards by name, releases by shard, project and file, runs by their key. Merging the \
            same stores again changes nothing. Up to 8 stores are merged in one transaction: a kill leaves the \
            main store as it was before that transaction, and running the merge again completes it; readers see \
            the main store as it was until each transaction commits. Triage: the newer change wins. A shard whose \
            watermark both stores moved, differently, is reported; the commit that descends from the other wins \
            (the main store's is kept when the shard's repository cannot tell). Takes the main store's lock, \
            like scan.
            With --same-as, nothing is merged: the main store is compared with another (say, one process's scan \
            of the same mirror) on every place, watermark, scanned blob and triage decision.
            Exit status: 0 merged (conflicts are reported as warnings) or the same, 1 not the same (--same-as), \
            2 error (nothing of the failed transaction was written).
            """)

    @Option(
        help: ArgumentHelp("The main store, created when missing.", valueName: "MAIN.sqlite"), completion: .file())
    var into: String

    @Option(
        help: ArgumentHelp(
            "Merge nothing: compare the main store with this one (places, watermarks, scanned blobs, triage).",
            valueName: "store"), completion: .file())
    var sameAs: String?

    @Argument(help: "Worker stores to fold into the main store.", completion: .file())
    var stores: [String] = []

    func validate() throws {
        if into.isEmpty { throw ValidationError("--into needs the main store's path") }
        if let sameAs {
            if sameAs.isEmpty { throw ValidationError("--same-as needs a store's path") }
            if !stores.isEmpty { throw ValidationError("--same-as compares; it takes no worker stores to merge") }
        } else if stores.isEmpty {
            throw ValidationError("name at least one worker store to merge --into \(into)")
        }
    }

    func run() async throws {
        if let sameAs { return try compare(with: sameAs) }
        let (main, lock) = try StoreOptions.parse(["--db", into]).openForScan(quiet: true)
        defer { withExtendedLifetime(lock) {} }
        let outcome: MergeOutcome
        do {
            outcome = try main.merge(stores) { repositories, mainCommit, workerCommit in
                switch CommitAncestry.of(mainCommit, workerCommit, in: repositories) {
                case .firstDescends: .mainDescends
                case .secondDescends: .workerDescends
                case .diverged: .diverged
                case nil: nil
                }
            }
        } catch {
            printError("error: \(terminalSafe("\(error)"))")
            throw ExitCode(2)
        }
        for conflict in outcome.conflicts {
            printError(
                "warning: shard \(terminalSafe(conflict.shard)): \(terminalSafe(conflict.store)) moved its watermark to "
                    + "\(conflict.workerCommit.hex.prefix(12)) and \(terminalSafe(into)) to "
                    + "\(conflict.mainCommit.hex.prefix(12)); kept \(conflict.kept.hex.prefix(12)): \(conflict.reason)")
        }
        print(
            "merged \(outcome.stores) store(s) into \(terminalSafe(into)): \(outcome.runsAdded) runs, "
                + "\(outcome.blobsAdded) blobs, \(outcome.findingsAdded) secrets, \(outcome.placesAdded) places, "
                + "\(outcome.watermarksMoved) watermarks moved, \(outcome.triageApplied) triage changes, "
                + "\(outcome.conflicts.count) watermark conflicts")
    }
}

extension Merge {
    /// `--same-as`: exits 1, listing the first differences, unless both stores hold the same content.
    func compare(with other: String) throws {
        let mine = try StoreOptions.parse(["--db", into]).open().content()
        let theirs = try StoreOptions.parse(["--db", other]).open().content()
        let differences = mine.differences(from: theirs)
        guard !differences.isEmpty else {
            print(
                "\(terminalSafe(into)) and \(terminalSafe(other)) hold the same \(mine.places.count) places, "
                    + "\(mine.watermarks.count) watermarks, \(mine.blobs.count) scanned blobs and "
                    + "\(mine.triage.count) triage decisions")
            return
        }
        for line in differences { print(terminalSafe(line)) }
        throw ExitCode(1)
    }
}
