"""The server's TLS credentials from PEM files, checked at start.

A bad file's message names the flag and the path, never the file's content.
"""

from __future__ import annotations

import ssl

import grpc


def server_credentials(cert: str | None, key: str | None, client_ca: str | None) -> grpc.ServerCredentials | None:
    """TLS credentials for the server, or None to serve plaintext.

    Args:
        cert: PEM certificate chain of the server (--tls-cert).
        key: PEM private key of that certificate, not encrypted (--tls-key).
        client_ca: PEM CA certificates; when given, every client must present a certificate
            that one of them signed (--tls-client-ca).

    Raises:
        ValueError: only one of cert and key, a client CA without them, or a file that cannot
            be read or is not what its flag needs.
    """
    if not cert and not key:
        if client_ca:
            raise ValueError("--tls-client-ca needs --tls-cert and --tls-key")
        return None
    if not (cert and key):
        raise ValueError("--tls-cert and --tls-key go together: give both or neither")
    cert_pem, key_pem = _read(cert, "--tls-cert"), _read(key, "--tls-key")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key, password=_no_password)
    except (ssl.SSLError, ValueError) as err:
        raise ValueError(
            f"--tls-cert {cert} and --tls-key {key} are not a PEM certificate and its unencrypted private key ({_why(err)})"
        ) from None
    ca_pem = None
    if client_ca:
        ca_pem = _read(client_ca, "--tls-client-ca")
        try:
            context.load_verify_locations(cafile=client_ca)
        except ssl.SSLError as err:
            raise ValueError(f"--tls-client-ca {client_ca} holds no PEM CA certificate ({_why(err)})") from None
    return grpc.ssl_server_credentials(
        [(key_pem, cert_pem)], root_certificates=ca_pem, require_client_auth=ca_pem is not None
    )


def _read(path: str, flag: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as err:
        raise ValueError(f"cannot read {flag} {path}: {err.strerror}") from None


def _no_password() -> str:
    # Without a callback, OpenSSL would prompt on the terminal for an encrypted key's password.
    raise ValueError("the private key is encrypted")


def _why(err: Exception) -> str:
    return str(err.reason or "not PEM") if isinstance(err, ssl.SSLError) else str(err)
