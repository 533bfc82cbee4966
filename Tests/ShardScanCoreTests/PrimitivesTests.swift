import ShardScanCore
import Testing

@Suite struct PrimitivesTests {
    @Test func entropy() {
        #expect(shannonEntropy(Array("aaaaaaaa".utf8)) == 0)
        #expect(shannonEntropy(Array("abababab".utf8)) == 1)
        #expect(abs(shannonEntropy(Array("abcdefgh".utf8)) - 3) < 1e-9)
        #expect(shannonEntropy([UInt8]()) == 0)
        #expect(abs(shannonEntropy((0...255).map { UInt8($0) }) - 8) < 1e-9)
    }

    @Test(arguments: [
        ("*.py", "pkg/a/settings.py", true),
        ("*.py", "setup.cfg", false),
        ("**/tests/**", "pkg/tests/test_a.py", true),
        ("**/tests/**", "tests/x.py", true),
        ("**/tests/**", "pkg/testsuite/x.py", false),
        ("pkg/*.py", "pkg/a.py", true),
        ("pkg/*.py", "pkg/sub/a.py", false),
        ("setup.py", "demo-1.0/setup.py", true),
        ("docs/**/*.rst", "docs/a/b/c.rst", true),
        ("?.env", "a.env", true),
        // The literal tail a path must end with is checked before the segments: trailing `/`s, wildcards last.
        ("*/pyproject.toml", "demo-1.0/pyproject.toml", true),
        ("*/pyproject.toml", "demo-1.0/pyproject.toml/", true),
        ("*/pyproject.toml", "demo-1.0/pyproject.tom", false),
        ("*/pyproject.toml", "pyproject.toml", false),
        ("*/pyproject.toml", "a/b/pyproject.toml", false),
        ("PKG-INFO", "demo-1.0/PKG-INFO", true),
        ("PKG-INFO", "demo-1.0/XPKG-INFO", false),
        ("a?c", "x/abc", true),
        ("a?c", "x/abd", false),
        ("**/x*", "q/x", true),
        ("src/**", "src/a/b", true),
        ("*.py", "pkg/a.py/", true),
    ])
    func globs(glob: String, path: String, matches: Bool) {
        #expect(Glob(glob).matches(path) == matches)
    }

    /// Paths are split at every `/` byte, as git and ``ReleasePath`` split them: a `/` before a combining mark
    /// (one Character with it) still separates two parts.
    @Test func globsSplitAtEverySlashByte() {
        #expect(Glob("a/*").matches("a/\u{301}b"))
        #expect(Glob("*/*").matches("a/\u{301}b"))
        #expect(Glob("*/x\u{301}").matches("y/x\u{301}"))
        #expect(Glob("*.py").matches("d/\u{301}.py"))
    }

    @Test(arguments: [
        ("*/pyproject.toml", "demo-1.0", true),
        ("*/pyproject.toml", "demo-1.0/", true),
        ("*/pyproject.toml", "demo-1.0/src", false),
        ("pkg/*.py", "pkg", true),
        ("pkg/*.py", "lib", false),
        ("pkg/*.py", "pkg/sub", false),
        ("docs/**/*.rst", "docs/a/b", true),
        ("docs/**/*.rst", "src/a", false),
        ("**/tests/*.py", "a/b/c", true),
        ("*.py", "any/where", true),
        ("src/**", "src", true),
        ("a/b", "a/b", false),
        ("a/b", "a", true),
    ])
    func globsRuleOutDirectories(glob: String, directory: String, mayMatch: Bool) {
        var directory = directory
        #expect(directory.withUTF8 { Glob(glob).mayMatch(under: UnsafeRawBufferPointer($0)) } == mayMatch)
    }

    /// Whatever a glob matches, it may match under each folder of the path: ruling out a folder never loses a
    /// match. And a path it matches ends with what ``Glob/mayEndWith(_:)`` checks.
    @Test func aGlobNeverRulesOutAFolderOfAPathItMatches() {
        let globs = [
            "*/pyproject.toml", "pkg/*.py", "docs/**/*.rst", "**/tests/*.py", "*.py", "src/**", "a?/b*/c", "**",
            "*/*/__init__.py", "PKG-INFO",
        ]
        let names = ["a", "ab", "pkg", "docs", "tests", "src", "b1", "c", "x.py", "pyproject.toml", "__init__.py"]
        var paths: [[String]] = names.map { [$0] }
        for _ in 0..<3 { paths += paths.flatMap { path in names.map { path + [$0] } }.prefix(2000) }
        var checked = 0
        for pattern in globs {
            let glob = Glob(pattern)
            for parts in paths {
                var path = parts.joined(separator: "/")
                guard glob.matches(path) else { continue }
                checked += 1
                #expect(path.withUTF8 { glob.mayEndWith(UnsafeRawBufferPointer($0)) })
                for depth in 1..<parts.count {
                    var folder = parts[..<depth].joined(separator: "/")
                    #expect(
                        folder.withUTF8 { glob.mayMatch(under: UnsafeRawBufferPointer($0)) },
                        "\(pattern) matches \(path) but rules out \(folder)")
                }
            }
        }
        #expect(checked > 100)
    }

    /// The id read straight from memory (at any alignment) is the id of the same bytes read one by one.
    /// Fingerprints, rule digests and object ids are stored and compared as these strings.
    @Test func digestsAreLowerCaseHex() {
        #expect(lowercaseHex([0x00, 0x0F, 0xA0, 0xFF]) == "000fa0ff")
        #expect(lowercaseHex([UInt8]()) == "")
        // FIPS 180-2's first SHA-256 example.
        #expect(sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let id = ObjectID(hex: "0123456789abcdef0123456789abcdef01234567")
        #expect(id?.hex == "0123456789abcdef0123456789abcdef01234567")
    }

    /// Rule packs are parsed this way: the first definition of a duplicate id must stay the first.
    @Test func concurrentMapKeepsTheOrder() {
        let numbers = Array(0..<1000)
        #expect(numbers.concurrentMap { $0 * 3 } == numbers.map { $0 * 3 })
        #expect([Int]().concurrentMap { $0 }.isEmpty)
        #expect(["one"].concurrentMap { $0.count } == [3])
    }

    @Test func objectIDFromUnalignedMemory() {
        var generator = SystemRandomNumberGenerator()
        for offset in 0..<8 {
            let bytes = (0..<(20 + offset)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let read = bytes.withUnsafeBytes { ObjectID(unsafeBytesAt: $0.baseAddress! + offset) }
            #expect(read == ObjectID(bytes: bytes[offset...]))
            #expect(read.bytes == Array(bytes[offset...]))
            #expect(read.withUnsafeBytes { Array($0) } == Array(bytes[offset...]))
        }
    }

    @Test func pathFilterExcludeWins() {
        let filter = PathFilter(include: [Glob("*.py")], exclude: [Glob("**/tests/**")])
        #expect(filter.admits("pkg/a.py"))
        #expect(!filter.admits("pkg/tests/a.py"))
        #expect(!filter.admits("pkg/a.txt"))
        #expect(filter.admits(nil))
    }

    /// Which rules the Python pass leaves to a database scanned only for the files they admit.
    @Test(arguments: [
        ([], false), (["*.py"], false), (["src/*.py"], false), (["*"], false), (["**"], false), (["*py"], false),
        (["setup.py"], true), (["__init__.py", "*.pth"], true), (["*.pth"], true), (["*_build.py"], true),
        (["setup.py", "*.py"], false),
    ])
    func pathFiltersTellRulesThatSingleOutPythonFilesByName(include: [String], byName: Bool) {
        #expect(PathFilter(include: include.map(Glob.init)).admitsByMoreThan(suffix: ".py") == byName)
    }

    @Test func redactionKeepsOnlyAShortPrefix() {
        let token = "ghp_R8bq0Kx4M2nTzP7wVd9sLc3yHf6uJe1aQo5i"
        #expect(redact(token) == "ghp_R8…")
        #expect(redact("hunter2") == "h…")
        #expect(redact("abc") == "…")
    }
}
