import Foundation
import ShardScanCore

// Seeds for the fuzz targets; not a fuzz target itself.
//
//   FuzzSeeds corpus CORPUS            the minted files of CORPUS/matcher and CORPUS/tokens (Fuzz/Corpus): fake
//                                      tokens with real structure and checksums from TokenMint, from a fixed seed,
//                                      so the files never change; hand-written seeds beside them are left alone
//   FuzzSeeds rule-examples RULES DIR  every example and negative example of the packs under RULES as matcher
//                                      inputs in DIR (scripts/fuzz adds them to the matcher's temporary corpus)

@main
enum FuzzSeeds {
    static func main() throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        switch (arguments.first, arguments.count) {
        case ("corpus", 2): try writeCorpus(URL(fileURLWithPath: arguments[1]))
        case ("rule-examples", 3): try writeRuleExamples(rules: arguments[1], to: URL(fileURLWithPath: arguments[2]))
        default:
            FileHandle.standardError.write(
                Data("usage: FuzzSeeds corpus CORPUS | FuzzSeeds rule-examples RULES DIR\n".utf8))
            exit(2)
        }
    }

    static func writeRuleExamples(rules: String, to folder: URL) throws {
        let loaded = RulePackLoader.load(paths: [rules])
        var files: [(String, [UInt8])] = []
        for rule in loaded.rules {
            for (index, example) in (rule.examples + rule.negativeExamples).enumerated() {
                // Path byte 3: no path, so every rule applies.
                files.append(("\(rule.id)-\(index)", [3] + Array(example.text.utf8)))
            }
        }
        try write(files, to: folder, prefix: "example-")
    }

    static func writeCorpus(_ corpus: URL) throws {
        var mint = TokenMint(seed: 0x5EED_F022)

        let github = mint.githubToken()
        let githubApp = mint.githubToken(prefix: "ghs_")
        let npm = mint.npmToken()
        let gitlab = mint.gitlabRoutableToken(routing: ["o": 1, "u": 1_234_567])
        let gitlabOld = mint.gitlabRoutableToken(prefix: "glrt-", routing: ["c": 2, "t": 1], versioned: false)
        let gitlabLegacy = mint.gitlabLegacyToken()
        let pypiProject = mint.pypiToken(caveats: [
            .projectNames(["fuzz-demo"]), .projectIDs([mint.uuid()]),
            .expiration(expiresAt: 1_900_000_000, notBefore: 1_700_000_000),
        ])
        let pypiUser = mint.pypiToken(caveats: [.requestUser(mint.uuid())])
        let pypiLegacy = mint.pypiToken(caveats: [.legacyProjects(["fuzz-demo", "other_pkg"])])
        let testPyPI = mint.pypiToken(location: "test.pypi.org", caveats: [.legacyUser, .oidcPublisher(mint.uuid())])
        let macaroon = mint.pypiMacaroon(
            location: "pypi.org", identifier: nil,
            caveats: [#"[1,["fuzz-demo"]]"#, #"{"exp":1900000000,"nbf":1700000000}"#, #"{"project_ids":["x"]}"#])

        // Tokens: the first byte picks the mode (see FuzzTokens.swift).
        let tokens: [(String, [UInt8])] = [
            ("github", [0] + Array(github.utf8)),
            ("github-app", [0] + Array(githubApp.utf8)),
            ("npm", [0] + Array(npm.utf8)),
            ("gitlab-routable", [0] + Array(gitlab.utf8)),
            ("gitlab-routable-unversioned", [0] + Array(gitlabOld.utf8)),
            ("gitlab-legacy", [0] + Array(gitlabLegacy.utf8)),
            ("pypi-project", [0] + Array(pypiProject.utf8)),
            ("pypi-user", [0] + Array(pypiUser.utf8)),
            ("pypi-legacy", [0] + Array(pypiLegacy.utf8)),
            ("testpypi", [0] + Array(testPyPI.utf8)),
            ("macaroon-binary", [2] + macaroon),
        ]
        try write(tokens, to: corpus.appendingPathComponent("tokens"))

        // Matcher: the first byte picks the path (see FuzzMatcher.swift): 0 setup.py, 2 .env, 3 none,
        // 4 pkg/.pypirc, 6 src/pkg/settings.py.
        let matcher: [(String, [UInt8])] = [
            (
                "setup-py", [0] + Array(
                    """
                    from setuptools import setup
                    import os
                    os.environ["GITHUB_TOKEN"] = "\(github)"
                    NPM_TOKEN = '\(npm)'
                    setup(name="fuzz-demo", version="0.1")

                    """.utf8)
            ),
            (
                "dotenv", [2] + Array(
                    """
                    # deploy settings
                    TWINE_USERNAME=__token__
                    TWINE_PASSWORD=\(pypiProject)
                    GITLAB_TOKEN=\(gitlab)
                    DATABASE_PASSWORD=Vq7rT2wKx9Lm3Zp8

                    """.utf8)
            ),
            (
                "pypirc", [4] + Array(
                    """
                    [distutils]
                    index-servers = pypi testpypi

                    [pypi]
                      username = __token__
                      password = \(pypiUser)

                    [testpypi]
                      username = __token__
                      password = \(testPyPI)

                    """.utf8)
            ),
            (
                "settings-py", [6] + Array(
                    """
                    SECRET_KEY = "k3v!9q@x7#m2z$w8r%t5y^u1i&o4p*a6s(d0f)g-h=j+l"
                    DEBUG = False
                    GITLAB = {"token": "\(gitlabLegacy)", "runner": "\(gitlabOld)"}
                    headers = {"Authorization": "Bearer \(githubApp)"}
                    url = "https://deploy:Hq8mZ2vR7xKp@example.invalid/simple/"

                    """.utf8)
            ),
            ("binary", [3] + mint.bytes(200) + Array("password=\(github)".utf8) + mint.bytes(100)),
            ("private-key", [3] + Array(fakePrivateKey(&mint).utf8)),
        ]
        try write(matcher, to: corpus.appendingPathComponent("matcher"))
    }

    /// An OpenSSH-style private key block around random bytes: the shape only, no key.
    static func fakePrivateKey(_ mint: inout TokenMint) -> String {
        let body = Data(mint.bytes(300)).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "KEY = '''\n-----BEGIN OPENSSH PRIVATE KEY-----\n\(body)\n-----END OPENSSH PRIVATE KEY-----\n'''\n"
    }

    static func write(_ files: [(String, [UInt8])], to folder: URL, prefix: String = "minted-") throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (name, bytes) in files {
            try Data(bytes).write(to: folder.appendingPathComponent(prefix + name))
        }
    }
}

/// `-sanitize=fuzzer` links the whole libFuzzer runtime into every executable of this package, and its driver
/// refers to this symbol; this program never starts the fuzzer.
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { 0 }
