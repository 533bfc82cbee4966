import ShardScanCLI

@main
extension ShardScan {}
