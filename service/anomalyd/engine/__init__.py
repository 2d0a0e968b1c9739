"""The models: bucketing, scoring and learning with numpy (no gRPC, no storage)."""
