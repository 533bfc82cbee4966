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

    /// The id read straight from memory (at any alignment) is the id of the same bytes read one by one.
    @Test func objectIDFromUnalignedMemory() {
        var generator = SystemRandomNumberGenerator()
        for offset in 0..<8 {
            let bytes = (0..<(20 + offset)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let read = bytes.withUnsafeBytes { ObjectID(unsafeBytesAt: $0.baseAddress! + offset) }
            #expect(read == ObjectID(bytes: bytes[offset...]))
            #expect(read.bytes == Array(bytes[offset...]))
        }
    }

    @Test func pathFilterExcludeWins() {
        let filter = PathFilter(include: [Glob("*.py")], exclude: [Glob("**/tests/**")])
        #expect(filter.admits("pkg/a.py"))
        #expect(!filter.admits("pkg/tests/a.py"))
        #expect(!filter.admits("pkg/a.txt"))
        #expect(filter.admits(nil))
    }

    @Test func redactionKeepsOnlyAShortPrefix() {
        let token = "ghp_R8bq0Kx4M2nTzP7wVd9sLc3yHf6uJe1aQo5i"
        #expect(redact(token) == "ghp_R8…")
        #expect(redact("hunter2") == "h…")
        #expect(redact("abc") == "…")
    }
}
