import ShardScanCore
import Testing

/// `text` with the character at `offset` replaced by the next one of `alphabet`, so it stays in the alphabet.
private func changing(_ text: String, at offset: Int, within alphabet: String = TokenMint.base62Alphabet) -> String {
    var characters = Array(text)
    let digits = Array(alphabet)
    let index = characters.index(characters.startIndex, offsetBy: offset >= 0 ? offset : characters.count + offset)
    let position = digits.firstIndex(of: characters[index]) ?? 0
    characters[index] = digits[(position + 1) % digits.count]
    return String(characters)
}

/// `checked` with the GitLab checksum of it appended, to build tokens whose only fault is elsewhere.
private func withGitLabCRC(_ checked: String) -> String {
    checked + base36(crc32(checked.utf8), width: 7)
}

@Suite struct GitHubValidatorTests {
    @Test(arguments: ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"])
    func mintedTokensPass(prefix: String) {
        var mint = TokenMint(seed: 1)
        for _ in 0..<50 {
            let token = mint.githubToken(prefix: prefix)
            let result = TokenValidator.githubChecksum.validate(token)
            #expect(result.isValid, "\(result.facts)")
            #expect(result.facts["checksum"] == "ok")
        }
    }

    @Test func factsNameTheTokenType() {
        var mint = TokenMint(seed: 2)
        #expect(
            TokenValidator.githubChecksum.validate(mint.githubToken(prefix: "ghp_")).facts["token_type"]
                == "personal_access_token")
        #expect(
            TokenValidator.githubChecksum.validate(mint.githubToken(prefix: "ghs_")).facts["token_type"]
                == "server_to_server_token")
    }

    @Test func checksumCoversTheRandomPartOnly() {
        // The prefix is not covered: the same body is valid under every prefix.
        var mint = TokenMint(seed: 3)
        let body = String(mint.githubToken(prefix: "ghp_").dropFirst(4))
        for prefix in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"] {
            #expect(TokenValidator.githubChecksum.validate(prefix + body).isValid)
        }
        // And it is base62 in the order 0-9A-Za-z, padded with 0.
        let random = String(body.prefix(30))
        #expect(body.hasSuffix(base62(crc32(random.utf8), width: 6)))
    }

    @Test func oneChangedCharacterFails() {
        var mint = TokenMint(seed: 4)
        for _ in 0..<20 {
            let token = mint.githubToken()
            for offset in [4, 10, 20, 33] {
                let result = TokenValidator.githubChecksum.validate(changing(token, at: offset))
                #expect(!result.isValid)
                #expect(result.facts["checksum"] == "mismatch")
            }
        }
    }

    @Test func changedChecksumFails() {
        var mint = TokenMint(seed: 5)
        let token = mint.githubToken()
        for offset in -6 ... -1 {
            #expect(!TokenValidator.githubChecksum.validate(changing(token, at: offset)).isValid)
        }
    }

    @Test func wrongLengthAlphabetOrPrefixFails() {
        var mint = TokenMint(seed: 6)
        let token = mint.githubToken()
        let validator = TokenValidator.githubChecksum
        #expect(!validator.validate(String(token.dropLast())).isValid)
        #expect(!validator.validate(token + "0").isValid)
        #expect(!validator.validate(String(token.prefix(10)) + "-" + String(token.dropFirst(11))).isValid)
        #expect(!validator.validate("ghx_" + token.dropFirst(4)).isValid)
        #expect(!validator.validate("ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx").isValid)
        #expect(!validator.validate("").isValid)
        #expect(!validator.validate("ghp_").isValid)
        #expect(!validator.validate("ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789é").isValid)
    }

    @Test func fineGrainedTokensAreCheckedForShapeOnly() {
        var mint = TokenMint(seed: 7)
        let token =
            "github_pat_" + mint.string(22, from: TokenMint.base62Alphabet) + "_"
            + mint.string(59, from: TokenMint.base62Alphabet)
        let result = TokenValidator.githubChecksum.validate(token)
        #expect(result.isValid)
        #expect(result.facts["checksum"] == "unpublished")
        #expect(!TokenValidator.githubChecksum.validate(String(token.dropLast())).isValid)
    }
}

@Suite struct NPMValidatorTests {
    /// npm's own example of its 2021 format, a dummy: shown in GitHub's changelog entry "npm has a new access
    /// token format" (2021-09-23) and quoted in https://github.com/secretlint/secretlint/issues/200.
    static let documentedExample = "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"

    @Test func npmDocumentedExample() {
        let result = TokenValidator.npmChecksum.validate(Self.documentedExample)
        #expect(result.isValid)
        #expect(result.facts == ["token_type": "access_token", "checksum": "ok"])
        #expect(!TokenValidator.npmChecksum.validate(changing(Self.documentedExample, at: 4)).isValid)
        #expect(!TokenValidator.npmChecksum.validate(changing(Self.documentedExample, at: -1)).isValid)
    }

    @Test func mintedTokensPassAndCorruptedOnesFail() {
        var mint = TokenMint(seed: 8)
        for _ in 0..<50 {
            let token = mint.npmToken()
            #expect(TokenValidator.npmChecksum.validate(token).isValid)
            #expect(!TokenValidator.npmChecksum.validate(changing(token, at: 12)).isValid)
            #expect(!TokenValidator.npmChecksum.validate(changing(token, at: -3)).isValid)
        }
    }

    @Test func wrongLengthAlphabetOrPrefixFails() {
        var mint = TokenMint(seed: 9)
        let token = mint.npmToken()
        #expect(!TokenValidator.npmChecksum.validate(String(token.dropLast())).isValid)
        #expect(!TokenValidator.npmChecksum.validate(token + "A").isValid)
        #expect(!TokenValidator.npmChecksum.validate("npm_" + String(repeating: "_", count: 36)).isValid)
        #expect(!TokenValidator.npmChecksum.validate("ghp_" + token.dropFirst(4)).isValid)
        // A legacy npm token (a UUID) has no checksum to check.
        #expect(!TokenValidator.npmChecksum.validate("npm_0a1b2c3d-4e5f-6789-abcd-ef0123456789").isValid)
    }
}

@Suite struct GitLabValidatorTests {
    @Test func mintedRoutableTokensPassWithTheirRoutingFacts() {
        var mint = TokenMint(seed: 10)
        let token = mint.gitlabRoutableToken(routing: ["c": 100, "o": 1, "u": 12_345_678])
        #expect(token.hasPrefix("glpat-"))
        #expect(token.contains(".01."))
        let result = TokenValidator.gitlabChecksum.validate(token)
        #expect(result.isValid, "\(result.facts)")
        #expect(
            result.facts == [
                "format": "routable", "checksum": "ok", "version": "1", "prefix": "glpat-",
                "token_type": "access_token", "cell_id": "100", "organization_id": "1", "user_id": "12345678",
            ])
    }

    @Test func manyMintedTokensPass() {
        var mint = TokenMint(seed: 11)
        for index in 0..<100 {
            let routing: [Character: UInt64] = ["o": UInt64(index + 1), "u": mint.next() >> 20]
            let token = mint.gitlabRoutableToken(routing: routing, versioned: index % 2 == 0)
            #expect(TokenValidator.gitlabChecksum.validate(token).isValid, "\(token)")
        }
    }

    @Test func unversionedLayoutAndOtherPrefixesPass() {
        var mint = TokenMint(seed: 12)
        let old = TokenValidator.gitlabChecksum.validate(mint.gitlabRoutableToken(routing: ["o": 3], versioned: false))
        #expect(old.isValid)
        #expect(old.facts["version"] == "unversioned")
        #expect(old.facts["organization_id"] == "3")

        // The checksum covers the prefix, so an instance prefix needs no special case.
        let instance = TokenValidator.gitlabChecksum.validate(mint.gitlabRoutableToken(prefix: "acme-glpat-"))
        #expect(instance.isValid)
        #expect(instance.facts["prefix"] == "acme-glpat-")
        #expect(instance.facts["token_type"] == "access_token")

        let runner = TokenValidator.gitlabChecksum.validate(
            mint.gitlabRoutableToken(prefix: "glrt-t2_", routing: ["g": 42, "o": 1, "t": 2]))
        #expect(runner.isValid)
        #expect(runner.facts["token_type"] == "runner_authentication_token")
        #expect(runner.facts["group_id"] == "42")
        #expect(runner.facts["runner_type"] == "2")
    }

    /// The two example tokens of GitLab's design document
    /// (https://handbook.gitlab.com/handbook/engineering/architecture/design-documents/cells/routable_tokens/),
    /// "Minimum token length" and "Maximum token length": unversioned, without and with a 20-byte prefix.
    @Test func designDocumentExamplesPass() {
        let minimum = TokenValidator.gitlabChecksum.validate("bzoxd_Rb5_cHeWe1JH56wr2FCBA.0r1pum4t4")
        #expect(minimum.isValid, "\(minimum.facts)")
        #expect(minimum.facts["organization_id"] == "1")
        #expect(minimum.facts["prefix"] == nil)

        let maximum = TokenValidator.gitlabChecksum.validate(
            [
                "++++++++++++++++++++YzozdzVlMTEyNjRzZ3NmCmc6M3c1ZTExMjY0c2dzZgpoOjN3NWUxMTI2NHNnc2YKajozdz",
                "VlMTEyNjRzZ3NmCms6M3c1ZTExMjY0c2dzZgpsOjN3NWUxMTI2NHNnc2YKbTozdzVlMTEyNjRzZ3NmCm86M3c1ZTEx",
                "MjY0c2dzZgpwOjN3NWUxMTI2NHNnc2YKdTozdzVlMTEyNjRzZ3Nmw5bzMmayzK43Ugba9fl8T_I-nZqc5gxOGH2HsU",
                "F6-J7UesTG4lmc3PT2aoPyuiUndG5Ci5IMThAbaiNkUTR87KBB.8c1adh6iv",
            ].joined())
        #expect(maximum.isValid, "\(maximum.facts)")
        #expect(maximum.facts["user_id"] == String(UInt64.max))
    }

    @Test func oneChangedCharacterFails() {
        var mint = TokenMint(seed: 13)
        for _ in 0..<20 {
            let token = mint.gitlabRoutableToken(routing: ["o": 1, "u": 99])
            for offset in [0, 6, 15, 30, -12, -10, -9, -8] {
                let changed = changing(token, at: offset, within: TokenMint.base64URLAlphabet)
                guard changed != token else { continue }
                #expect(!TokenValidator.gitlabChecksum.validate(changed).isValid, "\(offset)")
            }
        }
    }

    @Test func changedChecksumFails() {
        var mint = TokenMint(seed: 14)
        let token = mint.gitlabRoutableToken()
        for offset in -7 ... -1 {
            let result = TokenValidator.gitlabChecksum.validate(
                changing(token, at: offset, within: "0123456789abcdefghijklmnopqrstuvwxyz"))
            #expect(!result.isValid)
        }
        // Base 36 is written in lower case.
        let upper = String(token.dropLast(7)) + token.suffix(7).uppercased()
        #expect(upper == token || !TokenValidator.gitlabChecksum.validate(upper).isValid)
    }

    @Test func structuralFaultsFailEvenWithARightChecksum() {
        var mint = TokenMint(seed: 15)
        let token = mint.gitlabRoutableToken(routing: ["o": 1, "u": 7])
        let checked = String(token.dropLast(7))
        let validator = TokenValidator.gitlabChecksum
        #expect(validator.validate(withGitLabCRC(checked)).isValid)
        // The length field says one character more or fewer than the payload has.
        let length = Int(checked.suffix(2), radix: 36)!
        for wrong in [length - 1, length + 1, 26, 301] {
            let field = String(wrong, radix: 36)
            let padded = String(repeating: "0", count: max(0, 2 - field.count)) + field
            #expect(!validator.validate(withGitLabCRC(String(checked.dropLast(2)) + padded)).isValid, "\(wrong)")
        }
        // No separators, or a payload that is not base64url.
        #expect(!validator.validate(withGitLabCRC(String(checked.map { $0 == "." ? "x" : $0 }))).isValid)
        #expect(!validator.validate(withGitLabCRC("glpat-" + String(repeating: "!", count: 30) + ".01.0u")).isValid)
        // A payload whose routing part is not key:value lines.
        let random = Array(repeating: UInt8(7), count: 16)
        let bad = Array("no colon here".utf8)
        let encoded = Base64URL.encode(random + bad + [UInt8(bad.count)])
        let badLength = String(encoded.count, radix: 36)
        #expect(!validator.validate(withGitLabCRC("glpat-" + encoded + ".01." + badLength)).isValid)
    }

    @Test func wrongLengthOrAlphabetFails() {
        var mint = TokenMint(seed: 16)
        let token = mint.gitlabRoutableToken()
        let validator = TokenValidator.gitlabChecksum
        #expect(!validator.validate(String(token.dropLast())).isValid)
        #expect(!validator.validate(String(token.dropFirst())).isValid)
        #expect(!validator.validate(token + "0").isValid)
        #expect(!validator.validate("glpat-.01.00").isValid)
        #expect(!validator.validate(".").isValid)
        #expect(!validator.validate("..........").isValid)
        #expect(!validator.validate(String(repeating: ".", count: 100)).isValid)
    }

    @Test func legacyTokensHaveNoChecksum() {
        var mint = TokenMint(seed: 17)
        let token = mint.gitlabLegacyToken()
        let result = TokenValidator.gitlabChecksum.validate(token)
        #expect(result.isValid)
        #expect(result.facts == ["format": "legacy", "checksum": "absent", "token_type": "access_token"])
        #expect(TokenValidator.gitlabChecksum.validate(mint.gitlabLegacyToken(prefix: "gldt-")).isValid)
        #expect(!TokenValidator.gitlabChecksum.validate(String(token.dropLast())).isValid)
        #expect(!TokenValidator.gitlabChecksum.validate(token + "a").isValid)
        #expect(!TokenValidator.gitlabChecksum.validate("glpat-" + String(repeating: "!", count: 20)).isValid)
        #expect(!TokenValidator.gitlabChecksum.validate("glxyz-" + token.dropFirst(6)).isValid)
    }
}

@Suite struct PyPIValidatorTests {
    @Test func userScopedToken() {
        var mint = TokenMint(seed: 20)
        let user = mint.uuid()
        let identifier = mint.uuid()
        let token = mint.pypiToken(identifier: identifier, caveats: [.requestUser(user)])
        #expect(token.hasPrefix("pypi-AgEIcHlwaS5vcmc"))
        let result = TokenValidator.pypiMacaroon.validate(token)
        #expect(result.isValid, "\(result.facts)")
        #expect(
            result.facts == [
                "location": "pypi.org", "index": "pypi", "identifier": identifier, "caveats": "1", "scope": "user",
                "user_id": user,
            ])
    }

    @Test func projectScopedTokenWithExpiry() {
        var mint = TokenMint(seed: 21)
        let token = mint.pypiToken(caveats: [
            .projectNames(["requests", "flask-login"]), .projectIDs(["1f6b", "9c2e"]),
            .expiration(expiresAt: 1_705_876_828, notBefore: 1_705_875_828),
        ])
        let result = TokenValidator.pypiMacaroon.validate(token)
        #expect(result.isValid, "\(result.facts)")
        #expect(result.facts["scope"] == "projects")
        #expect(result.facts["projects"] == "requests,flask-login")
        #expect(result.facts["project_ids"] == "1f6b,9c2e")
        #expect(result.facts["expires"] == "2024-01-21T22:40:28Z")
        #expect(result.facts["not_before"] == "2024-01-21T22:23:48Z")
        #expect(result.facts["caveats"] == "3")
        #expect(result.facts["unknown_caveats"] == nil)
    }

    @Test func legacyCaveatsDecode() {
        var mint = TokenMint(seed: 22)
        let user = TokenValidator.pypiMacaroon.validate(mint.pypiToken(caveats: [.legacyUser]))
        #expect(user.isValid)
        #expect(user.facts["scope"] == "user")
        let projects = TokenValidator.pypiMacaroon.validate(
            mint.pypiToken(caveats: [
                .legacyProjects(["tidyframe"]), .raw(#"{"project_ids": ["ab12"]}"#),
                .raw(#"{"exp": 1700000000, "nbf": 1690000000}"#),
            ]))
        #expect(projects.isValid)
        #expect(projects.facts["scope"] == "projects")
        #expect(projects.facts["projects"] == "tidyframe")
        #expect(projects.facts["project_ids"] == "ab12")
        #expect(projects.facts["expires"] == "2023-11-14T22:13:20Z")
        #expect(projects.facts["not_before"] == "2023-07-22T04:26:40Z")
    }

    @Test func trustedPublishingAndUnknownCaveats() {
        var mint = TokenMint(seed: 23)
        let result = TokenValidator.pypiMacaroon.validate(
            mint.pypiToken(caveats: [.oidcPublisher("p-1"), .raw("not json"), .raw("[9, 1]"), .raw(#"[1, "x"]"#)]))
        #expect(result.isValid)
        #expect(result.facts["scope"] == "trusted_publisher")
        #expect(result.facts["publisher_id"] == "p-1")
        #expect(result.facts["caveats"] == "4")
        #expect(result.facts["unknown_caveats"] == "3")
        let bare = TokenValidator.pypiMacaroon.validate(mint.pypiToken())
        #expect(bare.isValid)
        #expect(bare.facts["scope"] == "unrestricted")
    }

    @Test func testPyPITokensSaySo() {
        var mint = TokenMint(seed: 24)
        let token = mint.pypiToken(location: "test.pypi.org", caveats: [.projectNames(["demo"])])
        #expect(token.hasPrefix("pypi-AgENdGVzdC5weXBpLm9yZw"))
        let result = TokenValidator.pypiMacaroon.validate(token)
        #expect(result.isValid)
        #expect(result.facts["location"] == "test.pypi.org")
        #expect(result.facts["index"] == "testpypi")
    }

    @Test func factsNeverHoldTheSignatureOrTheToken() throws {
        var mint = TokenMint(seed: 25)
        let raw = mint.pypiMacaroon(location: "pypi.org", identifier: nil, caveats: [PyPICaveat.legacyUser.json])
        let token = "pypi-" + Base64URL.encode(raw)
        let signature = Array(raw.suffix(32))
        let facts = TokenValidator.pypiMacaroon.validate(token).facts
        for value in facts.values {
            #expect(!token.contains(value) || value.count < 40)
            #expect(!value.contains(Base64URL.encode(signature)))
        }
    }

    @Test func oneChangedStructuralCharacterFails() {
        var mint = TokenMint(seed: 26)
        let token = mint.pypiToken(caveats: [.requestUser(mint.uuid())])
        // `pypi-A` holds the version byte: changing it gives version 0 or 3, neither of which is v2.
        #expect(
            !TokenValidator.pypiMacaroon.validate(changing(token, at: 5, within: TokenMint.base64URLAlphabet)).isValid)
        // The identifier's length, 0x24 (`J` at offset 21), made 0xFC: a varint claiming more bytes than follow.
        let lengthChanged = TokenValidator.pypiMacaroon.validate(
            String(token.prefix(21)) + "_" + String(token.dropFirst(22)))
        #expect(!lengthChanged.isValid)
        #expect(!TokenValidator.pypiMacaroon.validate("pypx-" + token.dropFirst(5)).isValid)
    }

    @Test func truncatedMacaroonsFail() {
        var mint = TokenMint(seed: 27)
        let token = mint.pypiToken(caveats: [.projectNames(["requests"])])
        for length in stride(from: 5, to: token.count, by: 1) {
            let result = TokenValidator.pypiMacaroon.validate(String(token.prefix(length)))
            #expect(!result.isValid, "\(length)")
        }
        #expect(!TokenValidator.pypiMacaroon.validate(token + "AA").isValid)
    }

    @Test func garbageBase64Fails() {
        for text in ["pypi-", "pypi-!!!!", "pypi-AgE=x", "pypi-A", "pypi-" + String(repeating: "A", count: 5000)] {
            #expect(!TokenValidator.pypiMacaroon.validate(text).isValid, "\(text.prefix(20))")
        }
        #expect(!TokenValidator.pypiMacaroon.validate("pypi-" + String(repeating: "A", count: 40_000)).isValid)
    }

    @Test func hugeDeclaredLengthsFail() {
        // location field declaring 2^28-1 bytes, then a varint that never ends.
        let cases: [[UInt8]] = [
            [2, 1, 0xFF, 0xFF, 0xFF, 0x7F, 0x61],
            [2, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
            [2, 2, 0x80],
            [2, 1, 8] + Array("pypi.org".utf8) + [2, 4, 0x61, 0x62, 0x63, 0x64, 0, 0, 6, 0xFF, 0x7F],
            [2, 1, 8] + Array("pypi.org".utf8) + [2, 4, 0x61, 0x62, 0x63, 0x64, 0, 0, 6, 31]
                + Array(repeating: 1, count: 31),
        ]
        for raw in cases {
            #expect(!TokenValidator.pypiMacaroon.validate("pypi-" + Base64URL.encode(raw)).isValid, "\(raw)")
        }
    }

    @Test func malformedSectionsFail() {
        let header: [UInt8] = [2, 1, 8] + Array("pypi.org".utf8) + [2, 4] + Array("abcd".utf8)
        let signature: [UInt8] = [6, 32] + Array(repeating: 9, count: 32)
        let cases: [(String, [UInt8])] = [
            ("well formed", header + [0, 0] + signature),
            ("fields out of order", [2, 2, 1, 0x61, 1, 1, 0x62, 0, 0] + signature),
            ("no identifier", [2, 1, 1, 0x61, 0, 0] + signature),
            ("located first-party caveat", header + [0, 1, 1, 0x61, 2, 1, 0x62, 0, 0] + signature),
            ("caveat without identifier", header + [0, 4, 1, 0x61, 0, 0] + signature),
            ("no signature", header + [0, 0]),
            ("wrong field for signature", header + [0, 0, 5, 32] + Array(repeating: 9, count: 32)),
            ("trailing bytes", header + [0, 0] + signature + [0]),
            ("version 1 byte", [1] + header.dropFirst() + [0, 0] + signature),
            ("no location", [2, 2, 4] + Array("abcd".utf8) + [0, 0] + signature),
        ]
        for (name, raw) in cases {
            let result = TokenValidator.pypiMacaroon.validate("pypi-" + Base64URL.encode(raw))
            #expect(result.isValid == (name == "well formed"), "\(name): \(result.facts)")
        }
        // A third-party caveat is well formed, and counted.
        let thirdParty = header + [0, 2, 1, 0x61, 4, 1, 0x62, 0, 0] + signature
        let result = TokenValidator.pypiMacaroon.validate("pypi-" + Base64URL.encode(thirdParty))
        #expect(result.isValid)
        #expect(result.facts["third_party_caveats"] == "1")
    }

    @Test func deeplyNestedCaveatsAreNotParsed() {
        var mint = TokenMint(seed: 28)
        let nested = String(repeating: "[", count: 3000) + String(repeating: "]", count: 3000)
        let result = TokenValidator.pypiMacaroon.validate(mint.pypiToken(caveats: [.raw(nested)]))
        #expect(result.isValid)
        #expect(result.facts["unknown_caveats"] == "1")
    }

    @Test func randomBytesNeverCrash() {
        var mint = TokenMint(seed: 29)
        var accepted = 0
        for round in 0..<3000 {
            let count = mint.next(below: 200)
            var raw = mint.bytes(count)
            if round % 2 == 0, !raw.isEmpty { raw[0] = 2 }
            if TokenValidator.pypiMacaroon.validate("pypi-" + Base64URL.encode(raw)).isValid { accepted += 1 }
            let text = String(decoding: mint.bytes(count), as: UTF8.self)
            for validator in TokenValidator.allCases {
                _ = validator.validate(text)
                _ = validator.validate("pypi-" + text)
            }
        }
        #expect(accepted == 0)
        // Mutating one byte of a real macaroon at a time.
        let raw = mint.pypiMacaroon(location: "pypi.org", identifier: nil, caveats: [#"[1,["a","b"]]"#])
        for index in raw.indices {
            for value: UInt8 in [0, 1, 0x7F, 0x80, 0xFF] {
                var mutated = raw
                mutated[index] = value
                _ = TokenValidator.pypiMacaroon.validate("pypi-" + Base64URL.encode(mutated))
            }
        }
    }
}

@Suite struct ValidatorSupportTests {
    @Test func rawValuesAreThoseOfRulePacks() {
        #expect(
            TokenValidator.allCases.map(\.rawValue) == [
                "github-checksum", "npm-checksum", "gitlab-checksum", "pypi-macaroon", "grafana-api-key",
            ])
        #expect(TokenValidator(rawValue: "pypi-macaroon") == .pypiMacaroon)
    }

    @Test func base64URLRoundTrips() {
        var mint = TokenMint(seed: 30)
        for count in 0..<70 {
            let bytes = mint.bytes(count)
            let text = Base64URL.encode(bytes)
            #expect(!text.contains("="))
            #expect(Base64URL.decode(Array(text.utf8)) == bytes)
        }
        #expect(Base64URL.encode(Array("pypi.org".utf8)) == "cHlwaS5vcmc")
        #expect(Base64URL.decode(Array("A".utf8)) == nil)
        #expect(Base64URL.decode(Array("AB".utf8)) == nil)  // leftover bits must be zero
        #expect(Base64URL.decode(Array("AA".utf8)) == [0])
        #expect(Base64URL.decode(Array("+/8".utf8)) == Base64URL.decode(Array("-_8".utf8)))
    }

    @Test func base36MatchesRuby() {
        #expect(base36(0, width: 7) == "0000000")
        #expect(base36(UInt32.max, width: 7) == "1z141z3")
        #expect(base36(35, width: 2) == "0z")
    }

    @Test func mintIsDeterministic() {
        var first = TokenMint(seed: 42)
        var second = TokenMint(seed: 42)
        #expect(first.githubToken() == second.githubToken())
        #expect(first.pypiToken() == second.pypiToken())
        var again = TokenMint(seed: 42)
        var other = TokenMint(seed: 43)
        #expect(again.next() != other.next())
    }
}

@Suite struct GrafanaValidatorTests {
    @Test func mintedKeysPassWithTheirNameAndOrganization() {
        var mint = TokenMint(seed: 16)
        for organization in [1, 7, 12345] {
            let key = mint.grafanaAPIKey(name: "deploy \(organization)", organization: organization)
            #expect(key.hasPrefix("eyJrIjoi"))
            let validation = TokenValidator.grafanaAPIKey.validate(key)
            #expect(validation.isValid, "\(validation.facts)")
            #expect(validation.facts["name"] == "deploy \(organization)")
            #expect(validation.facts["organization_id"] == String(organization))
            #expect(!validation.facts.values.contains { $0.count >= 16 && key.contains($0) })
        }
    }

    @Test func documentationSampleAndLookAlikesFail() {
        // Grafana's HTTP API documentation shows a key cut short: an unterminated JSON object.
        #expect(!TokenValidator.grafanaAPIKey.validate("eyJrIjoiT0tTcG1pUlY2RnVKZTFVaDFsNFZXdE9ZWmNrMkZYbk").isValid)
        func encoded(_ json: String) -> String {
            String(Base64URL.encode(Array(json.utf8)).map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        }
        var mint = TokenMint(seed: 17)
        let random = mint.string(32, from: TokenMint.base62Alphabet)
        for json in [
            "{\"k\":\"\(random)\",\"x\":1}",  // no name, no organization
            "{\"k\":\"\(random)\",\"n\":\"a\"}",  // no organization
            "{\"k\":\"short\",\"n\":\"a\",\"id\":1}",  // random part too short
            "{\"k\":\"\(random)\",\"n\":\"a\",\"id\":0}",  // no organization 0
            "[\"k\"]",
        ] {
            #expect(!TokenValidator.grafanaAPIKey.validate(encoded(json)).isValid, "\(json)")
        }
        #expect(!TokenValidator.grafanaAPIKey.validate("eyJrIjoi!!!!").isValid)
    }
}
