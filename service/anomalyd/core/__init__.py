"""The domain: jobs and their lifecycle, ingest and data counts, results, snapshots (no gRPC)."""
