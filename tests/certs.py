"""Certificates made for a test: a CA, a server certificate for 127.0.0.1 and a client certificate."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Pki:
    """PEM files: a CA and the certificates and keys it signed."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def make_pki(directory: Path, name: str = "test") -> Pki:
    """A fresh CA with a server certificate (127.0.0.1, localhost) and a client certificate."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"anomalyd {name} CA")])
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(**_usage(cert_sign=True)), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    files = {"ca": _write(directory / f"{name}-ca.pem", ca.public_bytes(serialization.Encoding.PEM))}
    for role, usage, names in (
        ("server", ExtendedKeyUsageOID.SERVER_AUTH, [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
        ("client", ExtendedKeyUsageOID.CLIENT_AUTH, [x509.DNSName("client.test")]),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"anomalyd {name} {role}")])
        cert = (
            _builder(subject, ca_name, key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(**_usage(digital_signature=True)), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        files[f"{role}_cert"] = _write(directory / f"{name}-{role}.pem", cert.public_bytes(serialization.Encoding.PEM))
        pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        files[f"{role}_key"] = _write(directory / f"{name}-{role}-key.pem", pem_key)
    return Pki(**files)


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
    )


def _usage(*, cert_sign: bool = False, digital_signature: bool = False) -> dict[str, bool]:
    return {
        "digital_signature": digital_signature,
        "content_commitment": False,
        "key_encipherment": False,
        "data_encipherment": False,
        "key_agreement": False,
        "key_cert_sign": cert_sign,
        "crl_sign": cert_sign,
        "encipher_only": False,
        "decipher_only": False,
    }


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
