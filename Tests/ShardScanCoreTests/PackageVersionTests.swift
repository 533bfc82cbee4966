import ShardScanCore
import Testing

@Suite struct PackageVersionTests {
    @Test(arguments: [
        ("1.2", "1.10"),
        ("1.0rc1", "1.0"),
        ("1.0", "1.0.post1"),
        ("1.0.dev0", "1.0a1"),
        ("1.0a1", "1.0a2.dev1"),
        ("1.0a2.dev1", "1.0a2"),
        ("1.0a2", "1.0b1"),
        ("1.0b1", "1.0rc1"),
        ("1.0.post1.dev0", "1.0.post1"),
        ("2.0", "1!0.1"),
        ("1.0", "1.0+abc"),
        ("1.0+abc", "1.0+5"),
        ("1.0+5", "1.0+10"),
        ("1.0.post1", "1.1.dev0"),
        ("9.9", "not-a-version"),
        ("1!5.0", "banana"),
    ])
    func orders(_ lower: String, _ higher: String) {
        #expect(PackageVersion(lower) < PackageVersion(higher), "\(lower) < \(higher)")
        #expect(!(PackageVersion(higher) < PackageVersion(lower)), "not \(higher) < \(lower)")
    }

    @Test(arguments: [
        ("1.0", "1"), ("1.0.0", "1.0"), ("1.0-RC1", "1.0rc1"), ("v1.0", "1.0"), ("1.0c1", "1.0rc1"),
        ("1.0alpha1", "1.0a1"), ("1.0.post", "1.0.post0"), ("1.0-1", "1.0.post1"), ("1.0rev2", "1.0.post2"),
        ("1.0-dev", "1.0.dev0"), ("1.0+Ubuntu-1", "1.0+ubuntu.1"), (" 1.0 ", "1.0"), ("0!1.0", "1.0"),
    ])
    func normalises(_ spelling: String, _ normal: String) {
        #expect(PackageVersion(spelling) == PackageVersion(normal))
        #expect(PackageVersion(spelling).isValid)
    }

    @Test(arguments: ["", "banana", "1.0-", "1..0", "1.0+", "1.0+a..b", "1.0 beta", "release-1"])
    func rejects(_ text: String) {
        #expect(!PackageVersion(text).isValid)
    }

    @Test func sortsAListAsPEP440Does() {
        let shuffled = ["1.10", "1.0", "1!0.1", "1.0.post1", "weird", "1.2", "1.0rc1", "1.0.dev0", "1.0a1", "1.0+abc"]
        #expect(
            shuffled.map(PackageVersion.init).sorted().map(\.text) == [
                "1.0.dev0", "1.0a1", "1.0rc1", "1.0", "1.0+abc", "1.0.post1", "1.2", "1.10", "1!0.1", "weird",
            ])
    }
}

@Suite struct UploadedVersionTests {
    @Test func invalidVersionsFollowValidOnesByUpload() {
        let versions = [
            UploadedVersion("nightly", uploadedAt: "2026-01-01T00:00:00Z"),
            UploadedVersion("2.0", uploadedAt: "2020-01-01T00:00:00Z"),
            UploadedVersion("alpha", uploadedAt: "2025-01-01T00:00:00Z"),
            UploadedVersion("1.10", uploadedAt: "2021-01-01T00:00:00Z"),
        ]
        #expect(versions.sorted().map(\.version.text) == ["1.10", "2.0", "alpha", "nightly"])
    }
}
