import ShardScanCore
import Testing

@Suite struct CoreMetadataTests {
    @Test func readsContactHeadersWithContinuationsAndRepeatedURLs() {
        let text = """
            Metadata-Version: 2.1\r
            Name: demo-pkg
            Version: 1.0
            Author: Ada
              Lovelace
            Author-email: ada@example.invalid
            Maintainer-email: Team <team@example.invalid>, ops@example.invalid
            Home-page: https://example.invalid/demo
            Project-URL: Source, https://example.invalid/src
            Project-URL: Tracker, https://example.invalid/issues

            Name: not-a-header (the description)
            """
        let metadata = CoreMetadata.parse(Array(text.utf8), source: "demo-1.0/PKG-INFO")
        #expect(metadata.name == "demo-pkg")
        #expect(metadata.version == "1.0")
        #expect(metadata.author == "Ada Lovelace")
        #expect(metadata.authorEmail == "ada@example.invalid")
        #expect(metadata.maintainerEmail == "Team <team@example.invalid>, ops@example.invalid")
        #expect(metadata.homePage == "https://example.invalid/demo")
        #expect(
            metadata.projectURLs == ["Source, https://example.invalid/src", "Tracker, https://example.invalid/issues"])
        #expect(metadata.source == "demo-1.0/PKG-INFO")
        #expect(metadata.problems.isEmpty)
    }

    @Test func keepsWhatParsesOfMalformedMetadata() {
        let bytes: [UInt8] =
            Array("  stray continuation\nthis line has no colon\nAuthor-email: a@b.invalid\n: empty name\n".utf8)
            + [0xFF, 0xFE] + Array("\nName: x\n".utf8)
        let metadata = CoreMetadata.parse(bytes)
        #expect(metadata.authorEmail == "a@b.invalid")
        #expect(metadata.name == "x")
        #expect(metadata.problems.count == 4)
        #expect(CoreMetadata.parse([UInt8]()).problems == ["no headers"])
    }

    @Test(arguments: [
        ("PKG-INFO", true), ("demo-1.0/PKG-INFO", true), ("demo.dist-info/METADATA", true),
        ("demo-1.0/demo.egg-info/PKG-INFO", false), ("src/demo.egg-info/PKG-INFO", false), ("demo/METADATA", false),
        ("demo-1.0/src/PKG-INFO", false),
    ])
    func findsTheReleasesOwnMetadataFile(_ path: String, _ expected: Bool) {
        #expect(CoreMetadata.isMetadataPath(path) == expected)
    }
}
