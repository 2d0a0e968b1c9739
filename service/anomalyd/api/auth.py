"""Who may call what: the privilege each method needs, the roles that grant them, and the check.

After Elasticsearch's machine-learning privileges: `monitor` reads jobs, stats, tasks, results
and snapshots; `manage` changes them and includes everything `monitor` may do. A method
missing from METHOD_PRIVILEGES is refused to every key, so an RPC added without an entry fails
closed (a test checks that every anomalyd.v1 RPC has one). Health checking and reflection are
open: load balancers and grpcurl use them before they have a key.

Nothing here depends on the kind of gRPC server; interceptors.py hooks it into one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from anomalyd.api.keystore import ApiKey, KeyStore, decode_credential
from anomalyd.core.errors import ApiKeyInvalid, ApiKeyRequired, InsufficientPrivileges

MANAGE = "manage"
MONITOR = "monitor"

ROLE_PRIVILEGES: Mapping[str, frozenset[str]] = {
    MANAGE: frozenset({MANAGE, MONITOR}),
    MONITOR: frozenset({MONITOR}),
}
"""The privileges each role grants."""

_JOBS = "/anomalyd.v1.JobService/"
_RESULTS = "/anomalyd.v1.ResultsService/"
_SNAPSHOTS = "/anomalyd.v1.ModelSnapshotService/"

METHOD_PRIVILEGES: Mapping[str, str] = {
    _JOBS + "PutJob": MANAGE,
    _JOBS + "GetJobs": MONITOR,
    _JOBS + "GetJobStats": MONITOR,
    _JOBS + "OpenJob": MANAGE,
    _JOBS + "PostData": MANAGE,
    _JOBS + "FlushJob": MANAGE,
    _JOBS + "CloseJob": MANAGE,
    _JOBS + "DeleteJob": MANAGE,
    _JOBS + "GetTask": MONITOR,
    _JOBS + "UpdateJob": MANAGE,
    _JOBS + "ResetJob": MANAGE,
    _RESULTS + "GetBuckets": MONITOR,
    _RESULTS + "GetRecords": MONITOR,
    _RESULTS + "GetInfluencers": MONITOR,
    _RESULTS + "GetOverallBuckets": MONITOR,
    _SNAPSHOTS + "CreateModelSnapshot": MANAGE,
    _SNAPSHOTS + "GetModelSnapshots": MONITOR,
    _SNAPSHOTS + "UpdateModelSnapshot": MANAGE,
    _SNAPSHOTS + "DeleteModelSnapshot": MANAGE,
    _SNAPSHOTS + "RevertModelSnapshot": MANAGE,
}
"""The privilege each method (as gRPC names it, /package.Service/Method) needs."""

OPEN_SERVICES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)
"""Method prefixes that need no key."""

_SCHEME = "apikey"


class Authorizer:
    """Decides each call from its method and metadata, against the keys of a KeyStore."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys

    def authorize(self, method: str, metadata: Iterable[tuple[str, str | bytes]]) -> ApiKey | None:
        """Checks that a call may go ahead.

        Args:
            method: the full method name, such as "/anomalyd.v1.JobService/PutJob".
            metadata: the call's invocation metadata, (key, value) pairs.

        Returns:
            The key the call was made with, or None for an open method.

        Raises:
            ApiKeyRequired: the call has no authorization metadata.
            ApiKeyInvalid: it is not "ApiKey <credential>" of a key in the keys file.
            InsufficientPrivileges: the key's role lacks the method's privilege, or the method
                has none in METHOD_PRIVILEGES.
        """
        if method.startswith(OPEN_SERVICES):
            return None
        key = self._authenticate(metadata)
        needed = METHOD_PRIVILEGES.get(method)
        if needed is None:
            raise InsufficientPrivileges(f"no API key may call {method}", method=method)
        if needed not in ROLE_PRIVILEGES.get(key.role, frozenset()):
            raise InsufficientPrivileges(
                f"API key {key.id} has role {key.role}, which lacks the {needed} privilege that {method} needs",
                privilege=needed,
                role=key.role,
                keyId=key.id,
                method=method,
            )
        return key

    def _authenticate(self, metadata: Iterable[tuple[str, str | bytes]]) -> ApiKey:
        values = [value for name, value in metadata if name == "authorization"]
        if not values:
            raise ApiKeyRequired('this server requires an API key: send the metadata "authorization: ApiKey <credential>"')
        value = values[0]
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        scheme, _, credential = text.strip().partition(" ")
        if len(values) > 1 or scheme.lower() != _SCHEME:
            raise ApiKeyInvalid('the authorization metadata must be one "ApiKey <credential>"')
        try:
            key_id, secret = decode_credential(credential.strip())
        except ValueError:
            raise ApiKeyInvalid("the API key credential is not base64 of id:secret") from None
        key = self.keys.verify(key_id, secret)
        if key is None:
            # The same answer for an unknown id and a wrong secret, as Elasticsearch gives.
            raise ApiKeyInvalid("the API key is unknown or has been deleted")
        return key
