import ArgumentParser
import Foundation
import ShardScanCore
import ShardScanStore

/// Shell completions for values that live in the store or the rule packs. Each runs while someone presses
/// Tab, so it reads only (the store is opened read-only, the packs parsed, no rule compiled) and, whatever goes
/// wrong, completes nothing rather than printing an error into the command line.
enum Completions {
    /// Shard names in the store named by `--db` on the command line being completed.
    static let shards = CompletionKind.custom { words, _, prefix in
        let names = (try? Store(readingAt: storePath(in: words)).shards().map(\.name)) ?? []
        return names.filter { $0.hasPrefix(prefix) }
    }

    /// Rule ids from the packs named by `--rules` on the command line (else the default ones).
    static let ruleIDs = CompletionKind.custom { words, _, prefix in
        let paths = values(of: "--rules", in: words)
        guard let resolved = try? RuleOptions.resolve(paths) else { return [] }
        return RulePackLoader.load(paths: resolved).rules.map(\.id).filter { $0.hasPrefix(prefix) }.sorted()
    }

    /// Project names in the store's findings.
    static let projects = CompletionKind.custom { words, _, prefix in
        (try? Store(readingAt: storePath(in: words)).projectNames(startingWith: prefix)) ?? []
    }

    static func storePath(in words: [String]) -> String {
        values(of: "--db", in: words).last ?? "shardscan.sqlite"
    }

    /// Every value given to `option` in `words`, as `--option value` or `--option=value`.
    static func values(of option: String, in words: [String]) -> [String] {
        var found: [String] = []
        for (index, word) in words.enumerated() {
            if word == option, index + 1 < words.count {
                found.append(words[index + 1])
            } else if word.hasPrefix(option + "=") {
                found.append(String(word.dropFirst(option.count + 1)))
            }
        }
        return found
    }
}
