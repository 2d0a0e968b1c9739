"""anomalyd: streaming anomaly detection as a gRPC service."""

VERSION = "0.1.0"
