import ShardScanCore
import Testing

@Suite struct ReleasePathTests {
    @Test(arguments: [
        (
            "packages/requests/requests-2.31.0.tar.gz/requests-2.31.0/setup.py", "requests", "2.31.0",
            "requests-2.31.0.tar.gz", "requests-2.31.0/setup.py"
        ),
        (
            "packages/boto3/boto3-1.34.0-py3-none-any.whl/boto3/session.py", "boto3", "1.34.0",
            "boto3-1.34.0-py3-none-any.whl", "boto3/session.py"
        ),
        (
            "packages/Flask-Login/Flask-Login-0.6.3.tar.gz/x.py", "Flask-Login", "0.6.3", "Flask-Login-0.6.3.tar.gz",
            "x.py"
        ),
        (
            "packages/flask-login/Flask_Login-0.6.3-py3-none-any.whl/a/b.py", "flask-login", "0.6.3",
            "Flask_Login-0.6.3-py3-none-any.whl", "a/b.py"
        ),
        ("packages/pkg/pkg-1.0-py2.7.egg/pkg/__init__.py", "pkg", "1.0", "pkg-1.0-py2.7.egg", "pkg/__init__.py"),
        ("packages/pkg/pkg-1.0.zip/pkg-1.0/a.py", "pkg", "1.0", "pkg-1.0.zip", "pkg-1.0/a.py"),
        ("packages/pkg/pkg-2.0rc1.tgz/a.py", "pkg", "2.0rc1", "pkg-2.0rc1.tgz", "a.py"),
        ("packages/pkg/pkg-3.1.tar.bz2/a.py", "pkg", "3.1", "pkg-3.1.tar.bz2", "a.py"),
        (
            "packages/zope.interface/zope.interface-5.0.tar.gz/a.py", "zope.interface", "5.0",
            "zope.interface-5.0.tar.gz", "a.py"
        ),
        ("packages/renamed/oldname-1.2.tar.gz/a.py", "renamed", "1.2", "oldname-1.2.tar.gz", "a.py"),
        ("packages/odd/odd-latest.tar.gz/a.py", "odd", "latest", "odd-latest.tar.gz", "a.py"),
        ("packages/odd/whatever.rpm/a.py", "odd", "", "whatever.rpm", "a.py"),
        ("packages/odd/odd.tar.gz/a.py", "odd", "", "odd.tar.gz", "a.py"),
        ("packages/odd/odd-1.0.tar.gz", "odd", "1.0", "odd-1.0.tar.gz", ""),
        ("README.md", "", "", "", "README.md"),
        ("packages/only-project", "", "", "", "packages/only-project"),
    ])
    func parses(path: String, project: String, version: String, filename: String, inner: String) {
        let parsed = ReleasePath.parse(path)
        #expect(parsed.project == project)
        #expect(parsed.version == version)
        #expect(parsed.filename == filename)
        #expect(parsed.innerPath == inner)
    }

    /// Parsing with the previous path's release gives what parsing alone gives, in the same release or not.
    @Test func reusingThePreviousReleaseChangesNothing() {
        let paths = [
            "packages/pkg/pkg-1.0.tar.gz/pkg-1.0/a.py", "packages/pkg/pkg-1.0.tar.gz/pkg-1.0/b/c.py",
            "packages/pkg/pkg-1.0.tar.gz/", "packages/pkg/pkg-1.0.tar.gz", "packages/pkg/pkg-1.0.tar.gz/x",
            "packages/pkg/pkg-1.0.tar.gzz/x", "packages/pkg/pkg-1.0.tar.g", "packages/pkgx/pkg-1.0.tar.gz/x",
            "packages/Pkg/pkg-1.0.tar.gz/x", "README.md", "packages/pkg/pkg-1.0.tar.gz/x",
            "packagesX/pkg/pkg-1.0.tar.gz/x",
            "packages/caf\u{E9}/caf\u{E9}-2.whl/\u{1F600}/y", "packages/caf\u{E9}/caf\u{E9}-2.whl/z",
            "packages/cafe\u{301}/caf\u{E9}-2.whl/z",
        ]
        var previous: ReleasePath?
        for path in paths {
            let reused = ReleasePath.parse(path, reusing: previous)
            #expect(reused == ReleasePath.parse(path), "\(path)")
            previous = reused
        }
    }

    @Test func normalisesLikePEP503() {
        #expect(ReleasePath.normalize("Flask_Login") == "flask-login")
        #expect(ReleasePath.normalize("zope.interface") == "zope-interface")
        #expect(ReleasePath.normalize("A--B__c..D") == "a-b-c-d")
    }

    // Found by Fuzz/ (release-path target); the inputs are in Fuzz/Corpus/release-path/crash-*.
    @Test func normalisesSeparatorsFollowedByCombiningMarks() {
        // `_` + U+07F2 is one Character; PEP 503 still replaces the `_`.
        #expect(ReleasePath.normalize("_\u{07F2}") == "-\u{07F2}")
        #expect(ReleasePath.normalize("Foo._\u{0301}Bar") == "foo-\u{0301}bar")
        for name in ["_\u{07F2}", "a-\u{0301}-b", "X.\u{035D}_y"] {
            let once = ReleasePath.normalize(name)
            #expect(ReleasePath.normalize(once) == once)
            #expect(!once.unicodeScalars.contains { $0 == "_" || $0 == "." })
        }
    }

    @Test func splitsAtSlashesFollowedByCombiningMarks() {
        // `/` + U+0301 is one Character; the path still has four parts.
        let parsed = ReleasePath.parse("packages/pkg/pkg-1.0.tar.gz/\u{0301}evil.py")
        #expect(parsed.project == "pkg")
        #expect(parsed.filename == "pkg-1.0.tar.gz")
        #expect(parsed.version == "1.0")
        #expect(parsed.innerPath == "\u{0301}evil.py")
        let project = ReleasePath.parse("packages/a/\u{035D}b-2.0.zip/c.py")
        #expect(project.project == "a")
        #expect(project.filename == "\u{035D}b-2.0.zip")
        #expect(project.innerPath == "c.py")
    }
}
