import Foundation
import Testing
import Yams

/// `ci/k8s/`: no cluster here, so the manifests are parsed and checked against what the fleet needs.
@Suite struct KubernetesManifestTests {
    static let folder = CLI.packageRoot.appendingPathComponent("ci/k8s")

    func load(_ name: String) throws -> [String: Any] {
        let text = try String(contentsOf: Self.folder.appendingPathComponent(name), encoding: .utf8)
        return try #require(try Yams.load(yaml: text) as? [String: Any])
    }

    func podSpec(_ job: [String: Any]) throws -> [String: Any] {
        let spec = try #require(job["spec"] as? [String: Any])
        let template = try #require(spec["template"] as? [String: Any])
        return try #require(template["spec"] as? [String: Any])
    }

    func container(_ job: [String: Any]) throws -> [String: Any] {
        let containers = try #require(try podSpec(job)["containers"] as? [[String: Any]])
        #expect(containers.count == 1)
        return try #require(containers.first)
    }

    /// The shell command the container runs.
    func command(_ job: [String: Any]) throws -> String {
        let container = try container(job)
        let parts = (container["command"] as? [String] ?? []) + (container["args"] as? [String] ?? [])
        return parts.joined(separator: " ")
    }

    /// Mount path by volume name, each volume checked to be declared with a claim.
    func mounts(_ job: [String: Any]) throws -> [String: (path: String, claim: String)] {
        let volumes = try #require(try podSpec(job)["volumes"] as? [[String: Any]])
        var claims: [String: String] = [:]
        for volume in volumes {
            let claim = try #require((volume["persistentVolumeClaim"] as? [String: Any])?["claimName"] as? String)
            claims[try #require(volume["name"] as? String)] = claim
        }
        var found: [String: (path: String, claim: String)] = [:]
        for mount in try #require(try container(job)["volumeMounts"] as? [[String: Any]]) {
            let name = try #require(mount["name"] as? String)
            found[name] = (try #require(mount["mountPath"] as? String), try #require(claims[name]))
        }
        return found
    }

    @Test func scanJobIsIndexedWithOneSharePerCompletion() throws {
        let job = try load("scan-job.yaml")
        #expect(job["kind"] as? String == "Job")
        let spec = try #require(job["spec"] as? [String: Any])
        #expect(spec["completionMode"] as? String == "Indexed")
        let completions = try #require(spec["completions"] as? Int)
        #expect(spec["parallelism"] as? Int == completions)
        #expect(try podSpec(job)["restartPolicy"] as? String == "Never")

        let command = try command(job)
        let worker = try #require(command.firstMatch(of: /--worker auto\/(\d+)/))
        #expect(Int(worker.1) == completions, "--worker auto/N must match completions")
        #expect(command.contains("shardscan scan"))
        #expect(command.contains("--db /stores/worker-$JOB_COMPLETION_INDEX.sqlite"))
        #expect(command.contains("--seed /stores/main.sqlite"))

        let mounts = try mounts(job)
        let mirror = try #require(mounts["mirror"])
        let stores = try #require(mounts["stores"])
        // The mirror mount is what the scan is given.
        #expect(command.contains("--worker auto/\(completions) --jobs 2 \(mirror.path);"))
        #expect(stores.path == "/stores")
    }

    @Test func mergeJobFoldsTheScanJobsStores() throws {
        let scan = try load("scan-job.yaml")
        let merge = try load("merge-job.yaml")
        #expect(merge["kind"] as? String == "Job")
        let spec = try #require(merge["spec"] as? [String: Any])
        #expect(spec["completions"] as? Int == 1)
        #expect(spec["completionMode"] == nil)

        let command = try command(merge)
        #expect(command.contains("shardscan merge --into /stores/main.sqlite /stores/worker-*.sqlite"))
        // The same stores the scan pods wrote, and the same mirror paths (watermark conflicts read the shards).
        let scanMounts = try mounts(scan)
        let mergeMounts = try mounts(merge)
        for name in ["stores", "mirror"] {
            let a = try #require(scanMounts[name])
            let b = try #require(mergeMounts[name])
            #expect(a.path == b.path && a.claim == b.claim, "\(name)")
        }
    }
}
