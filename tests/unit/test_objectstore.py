"""The lab's object store (lab/objectstore.py) without a cluster: the objects it applies, the S3
identities, the names the backups rely on, the signed requests' URLs and the listing's parsing,
and deploy/remove against a scripted cluster. The store itself runs on the lab cluster
(`python -m lab objectstore up`)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field

import pytest

from cluster import Pod
from lab import objectstore
from labcluster.layout import BACKUP_IMAGE, PROJECT_IMAGES, SEAWEEDFS_IMAGE

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def _by_kind(objects):
    found = {}
    for item in objects:
        found.setdefault(item["kind"], []).append(item)
    return found


def test_the_names_the_backups_rely_on():
    store = objectstore.store()
    assert store.endpoint == "http://s3.lab-objectstore.svc.cluster.local:8333"
    assert (store.bucket, store.region) == ("kubernaut-backups", "us-east-1")
    assert (store.credentials_namespace, store.credentials_secret) == ("kubernaut-system", "redis-gateway-backup-s3")
    assert objectstore.store("other").credentials_namespace == "other"


def test_the_secret_key_stays_out_of_the_repr():
    assert objectstore.SECRET_KEY not in repr(objectstore.store())


def test_server_objects_live_in_the_namespace_with_a_service_named_s3():
    kinds = _by_kind(objectstore.server_objects())
    (namespace,) = kinds["Namespace"]
    assert namespace["metadata"]["name"] == "lab-objectstore"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for kind in ("Secret", "Deployment", "Service"):
        assert all(item["metadata"]["namespace"] == "lab-objectstore" for item in kinds[kind]), kind
    (service,) = kinds["Service"]
    assert service["metadata"]["name"] == "s3"
    assert service["spec"]["ports"] == [{"name": "s3", "port": 8333, "targetPort": 8333}]
    (deployment,) = kinds["Deployment"]
    assert service["spec"]["selector"] == deployment["spec"]["template"]["metadata"]["labels"]


def test_the_deployment_runs_weed_server_with_s3_from_the_lab_image_as_nobody():
    (deployment,) = _by_kind(objectstore.server_objects())["Deployment"]
    assert deployment["spec"]["replicas"] == 1
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == SEAWEEDFS_IMAGE
    assert container["imagePullPolicy"] in ("Never", "IfNotPresent")
    args = container["args"]
    assert args[0] == "server"
    assert {"-dir=/data", "-s3", "-s3.port=8333", "-s3.config=/etc/seaweedfs/s3.json",
            "-master.telemetry=false"} <= set(args)
    limit = next(int(a.split("=", 1)[1]) for a in args if a.startswith("-master.volumeSizeLimitMB="))
    assert limit <= 1024
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["resources"]["requests"] == {"cpu": "50m", "memory": "128Mi"}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/data"]] == {"name": "data", "emptyDir": {}}
    assert volumes[mounts["/etc/seaweedfs"]]["secret"]["secretName"] == objectstore.CONFIG_SECRET
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": 8333}


def test_one_identity_with_every_action_the_backups_need():
    (secret,) = [s for s in _by_kind(objectstore.server_objects())["Secret"]
                 if s["metadata"]["name"] == objectstore.CONFIG_SECRET]
    config = json.loads(secret["stringData"]["s3.json"])
    (identity,) = config["identities"]
    assert identity["credentials"] == [{"accessKey": objectstore.ACCESS_KEY, "secretKey": objectstore.SECRET_KEY}]
    assert identity["actions"] == ["Admin", "Read", "Write", "List", "Tagging"]


def test_new_identities_roll_the_pod():
    def digest(objects):
        (deployment,) = _by_kind(objects)["Deployment"]
        return deployment["spec"]["template"]["metadata"]["annotations"][objectstore.SPEC_ANNOTATION]

    assert digest(objectstore.server_objects()) == digest(objectstore.server_objects())
    assert digest(objectstore.server_objects(secret_key="another")) != digest(objectstore.server_objects())


def test_the_credentials_secret_has_the_aws_variable_names():
    secret = objectstore.credentials_secret("kubernaut-system")
    assert secret["metadata"] == {"name": "redis-gateway-backup-s3", "namespace": "kubernaut-system"}
    assert secret["stringData"] == {"AWS_ACCESS_KEY_ID": objectstore.ACCESS_KEY,
                                    "AWS_SECRET_ACCESS_KEY": objectstore.SECRET_KEY}


def test_the_client_pod_uses_the_backup_image_and_reads_the_credentials_from_the_secret():
    kinds = _by_kind(objectstore.client_objects())
    (pod,) = kinds["Pod"]
    (container,) = pod["spec"]["containers"]
    assert container["image"] == BACKUP_IMAGE
    env = {e["name"]: e for e in container["env"]}
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert env[key]["valueFrom"]["secretKeyRef"] == {"name": "redis-gateway-backup-s3", "key": key}
    assert env["S3_REGION"]["value"] == "us-east-1"
    assert objectstore.SECRET_KEY not in json.dumps(pod)
    (secret,) = kinds["Secret"]
    assert secret["metadata"]["namespace"] == "lab-objectstore"


def test_the_lab_imports_both_images():
    assert BACKUP_IMAGE == "localhost/kubernaut-redis-backup:7.0.15"
    assert BACKUP_IMAGE in PROJECT_IMAGES
    assert SEAWEEDFS_IMAGE.startswith("localhost/kubernaut-seaweedfs:")


def test_the_signed_curl_keeps_the_credentials_out_of_argv():
    assert "-K -" in objectstore.SIGNED_CURL
    assert '--aws-sigv4 "aws:amz:$S3_REGION:s3"' in objectstore.SIGNED_CURL
    assert "--user" not in objectstore.SIGNED_CURL


def test_the_signed_curl_names_its_payload_hash():
    """curl 7.88 sends none: without it a PUT with --data fails its signature (measured on the lab)."""
    assert '-H "x-amz-content-sha256: UNSIGNED-PAYLOAD"' in objectstore.SIGNED_CURL


@pytest.mark.parametrize("key, query, url", [
    ("", None, "http://s3.lab-objectstore.svc.cluster.local:8333/kubernaut-backups"),
    ("x/y.rdb", None, "http://s3.lab-objectstore.svc.cluster.local:8333/kubernaut-backups/x/y.rdb"),
    ("a b+c", None, "http://s3.lab-objectstore.svc.cluster.local:8333/kubernaut-backups/a%20b%2Bc"),
    ("", {"prefix": "x/", "list-type": "2"},
     "http://s3.lab-objectstore.svc.cluster.local:8333/kubernaut-backups?list-type=2&prefix=x%2F"),
    ("", {"prefix": "", "list-type": "2", "continuation-token": "a+b/c="},
     "http://s3.lab-objectstore.svc.cluster.local:8333/kubernaut-backups"
     "?continuation-token=a%2Bb%2Fc%3D&list-type=2&prefix="),
])
def test_urls_are_in_sigv4s_canonical_form(key, query, url):
    assert objectstore.store().url(key, query) == url


def _listing(keys, token=None):
    contents = "".join(f"<Contents><Key>{k}</Key><Size>1</Size></Contents>" for k in keys)
    more = f"<IsTruncated>true</IsTruncated><NextContinuationToken>{token}</NextContinuationToken>" if token \
        else "<IsTruncated>false</IsTruncated>"
    return f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="{S3_NS}">' \
           f"<Name>kubernaut-backups</Name>{more}{contents}</ListBucketResult>"


def test_parse_list():
    assert objectstore.parse_list(_listing(["x/a.rdb", "x/b.rdb"])) == (["x/a.rdb", "x/b.rdb"], None)
    assert objectstore.parse_list(_listing(["x/a.rdb"], token="t1")) == (["x/a.rdb"], "t1")
    assert objectstore.parse_list(_listing([])) == ([], None)
    with pytest.raises(objectstore.ObjectStoreError, match="continuation token"):
        objectstore.parse_list(_listing(["k"]).replace("false", "true"))


@dataclass
class ScriptedStore:
    """A cluster whose client pod answers the signed curls from a dict of objects."""

    objects: dict = field(default_factory=dict)
    bucket: bool = False
    calls: list = field(default_factory=list)
    existing: dict = field(default_factory=dict)

    def apply(self, items):
        for item in items:
            self.calls.append(("apply", item["kind"], item["metadata"].get("namespace"), item["metadata"]["name"]))
            self.existing[(item["kind"].lower(), item["metadata"]["name"])] = item

    def object(self, namespace, kind, name):
        return self.existing.get((kind, name))

    def pods(self, namespace, selector=""):
        name = selector.split("=", 1)[1]
        return [Pod(name, namespace, name, "10.244.0.9", "Running", True, False)]

    def delete_object(self, namespace, kind, name, orphan=False, timeout=120.0):
        self.calls.append(("delete", kind, namespace, name))
        return True

    def delete_namespace(self, namespace, timeout=180.0):
        self.calls.append(("delete-namespace", namespace))

    def exec(self, namespace, pod, container, command, timeout=60.0):
        assert (namespace, pod, container) == ("lab-objectstore", "s3-client", "client")
        assert command[:2] == ["sh", "-c"] and command[3] == "curl"
        args = command[4:]
        url = args[-1]
        path, _, query = url.partition("?")
        key = path.split("/kubernaut-backups", 1)[1].lstrip("/")
        method = args[args.index("-X") + 1] if "-X" in args else "GET"
        self.calls.append((method, key, query))
        if method == "PUT" and not key:
            status, self.bucket = (409 if self.bucket else 200), True
            body = "<Error><Code>BucketAlreadyOwnedByYou</Code></Error>" if status == 409 else ""
        elif method == "PUT":
            self.objects[key] = args[args.index("--data-binary") + 1] if "--data-binary" in args else "data"
            status, body = 200, ""
        elif method == "GET" and key:
            status, body = (200, self.objects[key]) if key in self.objects else (404, "<Error/>")
        elif method == "DELETE":
            self.objects.pop(key, None)
            status, body = 204, ""
        else:
            prefix = dict(p.split("=", 1) for p in query.split("&"))["prefix"].replace("%2F", "/")
            status, body = 200, _listing(sorted(k for k in self.objects if k.startswith(prefix)))
        return subprocess.CompletedProcess(command, 0, f"{body}\n{status}", "")


def test_deploy_creates_the_bucket_proves_a_write_and_puts_the_credentials_in_place():
    cluster = ScriptedStore()
    store = objectstore.deploy(cluster, "kubernaut-system", timeout=5)
    assert store == objectstore.store("kubernaut-system")
    methods = [c for c in cluster.calls if c[0] in ("PUT", "DELETE")]
    assert methods == [("PUT", "", ""), ("PUT", ".lab-objectstore-probe", ""), ("DELETE", ".lab-objectstore-probe", "")]
    assert ("GET", ".lab-objectstore-probe", "") in cluster.calls
    assert ("apply", "Secret", "kubernaut-system", "redis-gateway-backup-s3") in cluster.calls
    assert ("apply", "Namespace", None, "kubernaut-system") in cluster.calls  # it was missing
    # A second deploy keeps the bucket (409 BucketAlreadyOwnedByYou) and the namespace alone.
    cluster.calls.clear()
    objectstore.deploy(cluster, "kubernaut-system", timeout=5)
    assert ("apply", "Namespace", None, "kubernaut-system") not in cluster.calls


def test_list_and_delete_under_a_prefix():
    cluster = ScriptedStore(objects={"x/a.rdb": "", "x/b.rdb": "", "y/c.rdb": ""})
    store = objectstore.store()
    assert store.list_keys(cluster, "x/") == ["x/a.rdb", "x/b.rdb"]
    assert ("GET", "", "list-type=2&prefix=x%2F") in cluster.calls
    assert store.delete_prefix(cluster, "x/") == ["x/a.rdb", "x/b.rdb"]
    assert list(cluster.objects) == ["y/c.rdb"]


def test_remove_deletes_the_namespace_and_the_credentials():
    cluster = ScriptedStore()
    objectstore.remove(cluster, "kubernaut-system")
    assert cluster.calls == [("delete", "secret", "kubernaut-system", "redis-gateway-backup-s3"),
                             ("delete-namespace", "lab-objectstore")]


def test_without_a_namespace_for_credentials_no_secret_is_made():
    cluster = ScriptedStore()
    store = objectstore.deploy(cluster, namespace_for_credentials=None, timeout=5)
    assert store.credentials_namespace is None
    assert not [c for c in cluster.calls if c[0] == "apply" and c[2] != "lab-objectstore" and c[1] != "Namespace"]
    assert ("apply", "Secret", "lab-objectstore", "redis-gateway-backup-s3") in cluster.calls  # the client's
    cluster.calls.clear()
    objectstore.remove(cluster, None)
    assert cluster.calls == [("delete-namespace", "lab-objectstore")]
