"""The lab's S3-compatible object store: SeaweedFS (`weed server -s3`, built from go/seaweedfs)
in the namespace `lab-objectstore`, for the backups of the Redis tier.

    deploy(cluster)   the namespace, SeaweedFS with one S3 identity, the Service `s3` (port 8333),
                      a client pod with the backup image, the bucket `kubernaut-backups`, and the
                      Secret `redis-gateway-backup-s3` (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) in
                      the namespace that the backups run in; returns the ObjectStore
    remove(cluster)   the namespace and that Secret

Everything goes through the Cluster interface, and every S3 request is a curl signed with
`--aws-sigv4` in the client pod (the backup image's curl, Debian 12's 7.88), as the backups make
them: the lab's tests see the store as the backups do, through the Service's DNS name. The
credentials are fixed and lab-only; they reach curl through its config on stdin (`-K -`), read
from the pod's environment (a Secret), never through an argv.

SeaweedFS keeps its data in an emptyDir: a new pod starts with an empty store (and `deploy`
creates the bucket again).
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.parse
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional, Sequence

from cluster import Cluster
from labcluster.layout import BACKUP_IMAGE, CLUSTER_DOMAIN, SEAWEEDFS_IMAGE

NAMESPACE = "lab-objectstore"
NAME = "seaweedfs"
LABELS = {"app": NAME}
SERVICE = "s3"
PORT = 8333
REGION = "us-east-1"
BUCKET = "kubernaut-backups"
ENDPOINT = f"http://{SERVICE}.{NAMESPACE}.svc.{CLUSTER_DOMAIN}:{PORT}"
# The Secret of SeaweedFS's S3 identities (its -s3.config file).
CONFIG_SECRET = "seaweedfs-s3-config"
CONFIG_DIR = "/etc/seaweedfs"
CONFIG_FILE = "s3.json"
DATA_DIR = "/data"
# The Secret the backups read their credentials from, in their namespace (and here, for the client).
CREDENTIALS_SECRET = "redis-gateway-backup-s3"
CREDENTIALS_NAMESPACE = "kubernaut-system"
ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID"
SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY"
# Lab-only credentials: the store holds nothing but the lab's test backups.
ACCESS_KEY = "KUBERNAUTLABBACKUP01"
SECRET_KEY = "kubernaut-lab-objectstore-secret-key-0001"
IDENTITY = "kubernaut-backups"
ACTIONS = ("Admin", "Read", "Write", "List", "Tagging")
# The client pod: the backup image (curl 7.88, redis-cli), idle, for the signed requests.
CLIENT = "s3-client"
CLIENT_CONTAINER = "client"
# The digest of the client pod's spec (a pod's spec cannot change in place: a changed one is
# replaced) and of SeaweedFS's identities (read at start: new ones roll its pod).
SPEC_ANNOTATION = "kubernaut-redis/spec-sha256"
# Nobody: `weed` needs no user of its own, only its emptyDirs. The client runs as the images' 999.
RUN_AS = 65534
CLIENT_RUN_AS = 999
# Small volumes (SeaweedFS's default is 30 GB each); the S3 gateway grows a bucket's collection
# several volumes at a time, hence room for a few dozen.
VOLUME_SIZE_LIMIT_MB = 64
MAX_VOLUMES = 32
READY_TIMEOUT_SECONDS = 180.0
CURL_TIMEOUT_SECONDS = 60

# `curl "$@"` signed for S3, the credentials from the environment through curl's config on stdin.
# The HTTP status follows the body on a line of its own (--write-out). curl 7.88 sends no
# x-amz-content-sha256 and signs the hash of --data's bytes, or of nothing for -T. SeaweedFS takes
# a missing header for the empty body's hash (S3 itself requires the header), so a --data PUT
# fails its signature and a -T one passes unverified. The header given, curl signs it and both
# sides take its value as the payload hash: UNSIGNED-PAYLOAD for every request (a file's hex
# SHA-256 would have the server verify the upload).
SIGNED_CURL = ('printf \'user = "%s:%s"\\n\' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" | '
               'curl -K - --silent --show-error --max-time "$S3_CURL_TIMEOUT" '
               '--aws-sigv4 "aws:amz:$S3_REGION:s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" '
               '--write-out "\\n%{http_code}" "$@"')


class ObjectStoreError(RuntimeError):
    pass


@dataclass(frozen=True)
class S3Reply:
    status: int  # 0 when curl got no HTTP answer
    body: str
    error: str  # curl's stderr

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class ObjectStore:
    endpoint: str
    bucket: str
    region: str
    credentials_secret: str  # in credentials_namespace: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
    access_key: str
    secret_key: str = field(repr=False)
    credentials_namespace: Optional[str] = CREDENTIALS_NAMESPACE  # None: no such Secret was made

    def url(self, key: str = "", query: Optional[dict[str, str]] = None) -> str:
        """Path-style: <endpoint>/<bucket>[/<key>][?<query>], the key and the query encoded as
        SigV4's canonical request has them (curl 7.88 signs the URL as it is given)."""
        path = f"{self.endpoint}/{self.bucket}"
        if key:
            path += "/" + urllib.parse.quote(key, safe="/-_.~")
        return path + (f"?{canonical_query(query)}" if query else "")

    def curl(self, cluster: Cluster, *args: str, timeout: float = CURL_TIMEOUT_SECONDS) -> S3Reply:
        """A signed curl in the client pod: `curl --aws-sigv4 ... <args>`."""
        return signed_curl(cluster, list(args), timeout)

    def list_keys(self, cluster: Cluster, prefix: str = "", page_size: Optional[int] = None) -> list[str]:
        """Every key under `prefix` (ListObjectsV2, every page of `page_size` keys, the server's
        1000 by default), in the server's order."""
        keys: list[str] = []
        token: Optional[str] = None
        while True:
            query = {"list-type": "2", "prefix": prefix}
            if page_size:
                query["max-keys"] = str(page_size)
            if token:
                query["continuation-token"] = token
            reply = self.curl(cluster, self.url(query=query))
            if not reply.ok:
                raise ObjectStoreError(f"listing {self.bucket}/{prefix}: HTTP {reply.status} {reply.body[:300]}"
                                       f"{reply.error.strip()[:300]}")
            page, token = parse_list(reply.body)
            keys.extend(page)
            if not token:
                return keys

    def delete_keys(self, cluster: Cluster, keys: Iterable[str]) -> None:
        """DELETE each key (S3 answers 204 whether it was there or not)."""
        for key in keys:
            reply = self.curl(cluster, "-X", "DELETE", self.url(key))
            if not reply.ok:
                raise ObjectStoreError(f"deleting {self.bucket}/{key}: HTTP {reply.status} {reply.body[:300]}"
                                       f"{reply.error.strip()[:300]}")

    def delete_prefix(self, cluster: Cluster, prefix: str) -> list[str]:
        """Delete every key under `prefix`; the keys deleted."""
        keys = self.list_keys(cluster, prefix)
        self.delete_keys(cluster, keys)
        return keys


def canonical_query(query: dict[str, str]) -> str:
    """Sorted by name, names and values percent-encoded but A-Z a-z 0-9 - _ . ~ (SigV4's form)."""
    def quote(text: str) -> str:
        return urllib.parse.quote(text, safe="-_.~")

    return "&".join(f"{quote(name)}={quote(value)}" for name, value in sorted(query.items()))


def parse_list(body: str) -> tuple[list[str], Optional[str]]:
    """The keys of one ListObjectsV2 page, and the continuation token when it is truncated."""
    root = ElementTree.fromstring(body)
    keys = [element.text or "" for element in root.findall("{*}Contents/{*}Key")]
    truncated = (root.findtext("{*}IsTruncated") or "false").strip() == "true"
    token = root.findtext("{*}NextContinuationToken") if truncated else None
    if truncated and not token:
        raise ObjectStoreError("a truncated listing without a continuation token")
    return keys, token


def store(namespace_for_credentials: Optional[str] = CREDENTIALS_NAMESPACE) -> ObjectStore:
    return ObjectStore(endpoint=ENDPOINT, bucket=BUCKET, region=REGION, credentials_secret=CREDENTIALS_SECRET,
                       access_key=ACCESS_KEY, secret_key=SECRET_KEY, credentials_namespace=namespace_for_credentials)


def s3_config(access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> dict[str, Any]:
    """SeaweedFS's S3 identities (-s3.config): one, with every action on every bucket."""
    return {"identities": [{"name": IDENTITY, "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                            "actions": list(ACTIONS)}]}


def credentials_secret(namespace: str, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> dict[str, Any]:
    """The Secret an operator gives gateway.backup.s3.credentialsSecret: its keys and nothing
    else (no labels), so that a stack that creates the same Secret from the same values shares
    its fields instead of conflicting over them."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": CREDENTIALS_SECRET, "namespace": namespace},
            "stringData": {ACCESS_KEY_ID: access_key, SECRET_ACCESS_KEY: secret_key}}


def server_args() -> list[str]:
    """`weed server`: master, volume server, filer and S3 gateway in one process. Telemetry off
    (nothing leaves the lab), the Iceberg and Lance listeners of the S3 gateway off."""
    return ["server", f"-dir={DATA_DIR}", f"-master.volumeSizeLimitMB={VOLUME_SIZE_LIMIT_MB}",
            f"-volume.max={MAX_VOLUMES}", "-master.telemetry=false",
            "-s3", f"-s3.port={PORT}", f"-s3.config={CONFIG_DIR}/{CONFIG_FILE}",
            "-s3.port.iceberg=0", "-s3.port.lance=0"]


_RESTRICTED = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}


def server_objects(access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> list[dict[str, Any]]:
    """The namespace (Pod Security "restricted"), the S3 identities, SeaweedFS and its Service."""
    meta = {"name": NAME, "namespace": NAMESPACE, "labels": LABELS}
    config = json.dumps(s3_config(access_key, secret_key), indent=2)
    # SeaweedFS reads its identities at start: new ones roll the pod.
    config_digest = hashlib.sha256(config.encode()).hexdigest()
    return [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": NAMESPACE, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}},
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": {"name": CONFIG_SECRET, "namespace": NAMESPACE, "labels": LABELS},
         "stringData": {CONFIG_FILE: config}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": {
            "replicas": 1, "strategy": {"type": "Recreate"}, "selector": {"matchLabels": LABELS},
            "template": {"metadata": {"labels": LABELS, "annotations": {SPEC_ANNOTATION: config_digest}}, "spec": {
                "automountServiceAccountToken": False,
                "securityContext": {"runAsNonRoot": True, "runAsUser": RUN_AS, "runAsGroup": RUN_AS,
                                    "fsGroup": RUN_AS, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": NAME, "image": SEAWEEDFS_IMAGE, "imagePullPolicy": "Never",
                    "args": server_args(), "workingDir": DATA_DIR,
                    "ports": [{"name": "s3", "containerPort": PORT}],
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": PORT}, "periodSeconds": 2},
                    "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "1Gi"}},
                    "securityContext": _RESTRICTED,
                    "volumeMounts": [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                                     {"name": "data", "mountPath": DATA_DIR},
                                     {"name": "tmp", "mountPath": "/tmp"}],
                }],
                "volumes": [{"name": "config", "secret": {"secretName": CONFIG_SECRET}},
                            {"name": "data", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
            }}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": SERVICE, "namespace": NAMESPACE, "labels": LABELS},
         "spec": {"selector": LABELS, "ports": [{"name": "s3", "port": PORT, "targetPort": PORT}]}},
    ]


def client_objects(access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> list[dict[str, Any]]:
    """The credentials here too, and the idle client pod with the backup image."""
    env = [{"name": "S3_ENDPOINT", "value": ENDPOINT}, {"name": "S3_BUCKET", "value": BUCKET},
           {"name": "S3_REGION", "value": REGION}, {"name": "S3_CURL_TIMEOUT", "value": str(CURL_TIMEOUT_SECONDS)}]
    env += [{"name": key, "valueFrom": {"secretKeyRef": {"name": CREDENTIALS_SECRET, "key": key}}}
            for key in (ACCESS_KEY_ID, SECRET_ACCESS_KEY)]
    spec = {
             "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 1,
             "securityContext": {"runAsNonRoot": True, "runAsUser": CLIENT_RUN_AS, "runAsGroup": CLIENT_RUN_AS,
                                 "seccompProfile": {"type": "RuntimeDefault"}},
             "containers": [{
                 "name": CLIENT_CONTAINER, "image": BACKUP_IMAGE, "imagePullPolicy": "IfNotPresent",
                 "command": ["sleep", "infinity"], "workingDir": "/tmp", "env": env,
                 "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "128Mi"}},
                 "securityContext": _RESTRICTED,
                 "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
             }],
             "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
    return [
        credentials_secret(NAMESPACE, access_key, secret_key),
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": CLIENT, "namespace": NAMESPACE, "labels": {"app": CLIENT},
                      "annotations": {SPEC_ANNOTATION: digest}},
         "spec": spec},
    ]


def signed_curl(cluster: Cluster, args: Sequence[str], timeout: float = CURL_TIMEOUT_SECONDS) -> S3Reply:
    done = cluster.exec(NAMESPACE, CLIENT, CLIENT_CONTAINER, ["sh", "-c", SIGNED_CURL, "curl", *args],
                        timeout=timeout + 15)
    body, _, status = done.stdout.rpartition("\n")
    return S3Reply(int(status) if status.strip().isdigit() else 0, body, done.stderr)


def _ready(cluster: Cluster, selector: str) -> bool:
    pods = [pod for pod in cluster.pods(NAMESPACE, selector) if not pod.terminating]
    return len(pods) == 1 and pods[0].ready


def _until(what: str, check: Callable[[], Any], deadline: float, interval: float = 1.0,
           last: Optional[list[S3Reply]] = None) -> Any:
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            detail = f"; last answer: HTTP {last[-1].status} {(last[-1].body or last[-1].error).strip()[:300]}" \
                if last else ""
            raise ObjectStoreError(f"{what}: not in time (kubectl -n {NAMESPACE} get pods; "
                                   f"kubectl -n {NAMESPACE} logs deploy/{NAME}){detail}")
        time.sleep(interval)


def _apply_client(cluster: Cluster) -> None:
    objects = client_objects()
    wanted = objects[-1]["metadata"]["annotations"][SPEC_ANNOTATION]
    current = cluster.object(NAMESPACE, "pod", CLIENT)
    if current is not None and (current["metadata"].get("annotations") or {}).get(SPEC_ANNOTATION) != wanted:
        cluster.delete_object(NAMESPACE, "pod", CLIENT)
    cluster.apply(objects)


def deploy(cluster: Cluster, namespace_for_credentials: Optional[str] = CREDENTIALS_NAMESPACE,
           say: Callable[[str], None] = lambda _: None, timeout: float = READY_TIMEOUT_SECONDS) -> ObjectStore:
    """Apply the store and its client, create the bucket (kept when it is there), wait until a
    signed write through the Service's name reads back, and put the backups' credentials Secret
    in `namespace_for_credentials` (the namespace created if missing); None makes no Secret (a
    stack that creates its own from the credentials, ACCESS_KEY and SECRET_KEY)."""
    result = store(namespace_for_credentials)
    deadline = time.monotonic() + timeout
    cluster.apply(server_objects())
    _apply_client(cluster)
    _until("SeaweedFS Ready", lambda: _ready(cluster, f"app={NAME}"), deadline)
    _until("the client pod Ready", lambda: _ready(cluster, f"app={CLIENT}"), deadline)
    say(f"objectstore: SeaweedFS and the client pod Ready in {NAMESPACE}")

    last: list[S3Reply] = []

    def bucket() -> bool:
        last.append(result.curl(cluster, "-X", "PUT", result.url()))
        # 409 BucketAlreadyOwnedByYou: a second deploy.
        return last[-1].ok or (last[-1].status == 409 and "BucketAlreadyOwnedByYou" in last[-1].body)

    _until(f"the bucket {BUCKET} created", bucket, deadline, interval=2.0, last=last)
    # A bucket's first object makes the volume server grow its collection: wait for it here.
    probe = ".lab-objectstore-probe"

    def writable() -> bool:
        last.append(result.curl(cluster, "-X", "PUT", "--data-binary", probe, result.url(probe)))
        if not last[-1].ok:
            return False
        last.append(result.curl(cluster, result.url(probe)))
        return last[-1].ok and last[-1].body == probe

    _until(f"a write to {BUCKET} read back", writable, deadline, interval=2.0, last=last)
    result.delete_keys(cluster, [probe])
    if namespace_for_credentials is None:
        say(f"objectstore: {result.endpoint}/{BUCKET} ready")
        return result
    if cluster.object(namespace_for_credentials, "namespace", namespace_for_credentials) is None:
        cluster.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace_for_credentials}}])
    cluster.apply([credentials_secret(namespace_for_credentials)])
    say(f"objectstore: {result.endpoint}/{BUCKET} ready; credentials in Secret "
        f"{namespace_for_credentials}/{CREDENTIALS_SECRET}")
    return result


def remove(cluster: Cluster, namespace_for_credentials: Optional[str] = CREDENTIALS_NAMESPACE) -> None:
    """The namespace with everything in it (the data too), and the backups' credentials Secret
    (none with None)."""
    if namespace_for_credentials is not None:
        cluster.delete_object(namespace_for_credentials, "secret", CREDENTIALS_SECRET)
    cluster.delete_namespace(NAMESPACE)
