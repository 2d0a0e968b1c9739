"""Python client, command line and demo for anomalyd."""

from anomalyd_client.client import DEFAULT_TARGET, Client, Document
from anomalyd_client.convert import format_duration, parse_duration, parse_time, to_dict
from anomalyd_client.detector import Detector
from anomalyd_client.errors import AnomalydError
from anomalyd_client.upload import Progress, column_batch, ndjson_chunks

__all__ = [
    "DEFAULT_TARGET",
    "AnomalydError",
    "Client",
    "Detector",
    "Document",
    "Progress",
    "column_batch",
    "format_duration",
    "ndjson_chunks",
    "parse_duration",
    "parse_time",
    "to_dict",
]
