import Foundation

/// Validates JSON against a JSON Schema with the `jsonschema` Python package (Debian's
/// python3-jsonschema, which `ci/install-deps.sh` installs): a complete draft 2020-12 validator.
enum SchemaValidator {
    static let script = """
        import json, sys
        import jsonschema
        schema = json.load(open(sys.argv[1]))
        if len(sys.argv) > 3:
            schema = {"$schema": schema.get("$schema"), "$defs": schema.get("$defs", {}), "$ref": "#/$defs/" + sys.argv[3]}
        cls = jsonschema.validators.validator_for(schema)
        validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
        documents = [json.loads(line) for line in open(sys.argv[2]) if line.strip()] if len(sys.argv) > 3 else [json.load(open(sys.argv[2]))]
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for d in documents for e in validator.iter_errors(d)]
        print(json.dumps(errors))
        """

    /// The schema violations of `data` (each line of it, when `definition` names a `$defs` entry).
    static func errors(in data: Data, schema: String, definition: String? = nil) throws -> [String] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("schema-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let instance = folder.appendingPathComponent("instance.json")
        try data.write(to: instance)
        let output = folder.appendingPathComponent("out")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        for python in ["python3", "/usr/bin/python3"] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [python, "-c", script, schema, instance.path] + (definition.map { [$0] } ?? [])
            process.standardOutput = try FileHandle(forWritingTo: output)
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            if process.terminationStatus == 0 {
                return try JSONDecoder().decode([String].self, from: Data(contentsOf: output))
            }
        }
        throw ValidatorMissing()
    }

    struct ValidatorMissing: Error, CustomStringConvertible {
        var description: String { "python3 with jsonschema is needed to validate reports: run ci/install-deps.sh" }
    }
}
