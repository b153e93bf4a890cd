"""pod_scripts/s3.sh against a real S3 server: the lab's SeaweedFS binary (scripts/build-cluster)
on loopback, curl 7.88 of the host (the backup image's version). Listings across pages, the
upload's hash checked by the server, the recorded SHA-256, and a wrong key refused."""

from __future__ import annotations

import hashlib
import json
import random
import socket
import subprocess
import time
from pathlib import Path

import pytest

from labcluster import ClusterError
from labcluster.cluster import find_binaries

REPO = Path(__file__).resolve().parents[2]
ACCESS_KEY, SECRET_KEY = "KUBERNAUTS3TEST01", "kubernaut-s3-script-test-secret"
BUCKET, PREFIX, MASTER_SET = "kubernaut-backups", "redis-gateway/test", "gateway-master"


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port(taken: set[int]) -> int:
    """A free port whose +10000 is free too: each weed server listens for gRPC there."""
    for port in random.sample(range(20000, 45000), 2000):
        if not {port, port + 10000} & taken and _bindable(port) and _bindable(port + 10000):
            taken.update({port, port + 10000})
            return port
    raise RuntimeError("no free pair of ports for SeaweedFS")


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    try:
        weed = find_binaries() / "weed"
    except ClusterError as err:
        pytest.fail(f"{err}: weed is built with them", pytrace=False)
    work = tmp_path_factory.mktemp("seaweedfs")
    (work / "s3.json").write_text(json.dumps({"identities": [{
        "name": "test", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List"]}]}))
    taken: set[int] = set()
    ports = {name: _free_port(taken) for name in ("master", "volume", "filer", "s3")}
    server = subprocess.Popen(
        [str(weed), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={work}", "-master.volumeSizeLimitMB=64",
         f"-master.port={ports['master']}", f"-volume.port={ports['volume']}", f"-filer.port={ports['filer']}",
         "-s3", f"-s3.port={ports['s3']}", f"-s3.config={work / 's3.json'}", "-master.telemetry=false",
         "-s3.port.iceberg=0", "-s3.port.lance=0"],
        stdout=subprocess.DEVNULL, stderr=(work / "weed.log").open("w"))
    url = f"http://127.0.0.1:{ports['s3']}"
    try:
        deadline = time.monotonic() + 90
        while s3(url, "s3_curl -X PUT \"$S3_ENDPOINT/$S3_BUCKET\"").returncode != 0:
            assert time.monotonic() < deadline, (work / "weed.log").read_text()[-2000:]
            time.sleep(1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def s3(url: str, script: str, **env: str) -> subprocess.CompletedProcess:
    """<script> with common.sh and s3.sh sourced, as the pod scripts run it."""
    variables = {"PATH": "/usr/bin:/bin", "S3_ENDPOINT": url, "S3_BUCKET": BUCKET, "S3_PREFIX": PREFIX,
                 "S3_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                 "MASTER_SET": MASTER_SET, **env}
    return subprocess.run(["sh", "-c", f'. ./pod_scripts/common.sh; . ./pod_scripts/s3.sh; {script}'],
                          cwd=REPO, env=variables, capture_output=True, text=True, timeout=120)


def test_backups_are_listed_oldest_first_across_pages_and_the_upload_hash_is_checked(endpoint, tmp_path):
    rdb = tmp_path / "dump.rdb"
    rdb.write_bytes(b"REDIS0011" + bytes(range(256)) * 400)
    digest = hashlib.sha256(rdb.read_bytes()).hexdigest()
    keys = [f"{PREFIX}/{MASTER_SET}-2026120{day}T031700Z.rdb" for day in (3, 1, 5, 2, 4)]
    for key in keys:
        done = s3(endpoint, f's3_put "{rdb}" "{key}" "{digest}"')
        assert done.returncode == 0, done.stderr
    assert s3(endpoint, f's3_put "{rdb}" "{PREFIX}/note.txt" "{digest}"').returncode == 0
    # Five backups and one other object, listed two keys a page: every page followed.
    listed = s3(endpoint, "s3_backups", S3_LIST_PAGE_SIZE="2")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == sorted(keys)
    assert s3(endpoint, f's3_recorded_sha256 "{keys[0]}"').stdout.strip() == digest
    # A body that does not match its declared hash is refused (HTTP 400), so nothing is stored.
    wrong = s3(endpoint, f's3_put "{rdb}" "{PREFIX}/{MASTER_SET}-20261209T000000Z.rdb" "{"0" * 64}"')
    assert wrong.returncode != 0
    assert s3(endpoint, "s3_backups").stdout.split() == sorted(keys)
    fetched = tmp_path / "fetched.rdb"
    assert s3(endpoint, f's3_get "{keys[1]}" "{fetched}"').returncode == 0
    assert fetched.read_bytes() == rdb.read_bytes()
    assert s3(endpoint, f's3_delete "{keys[1]}"').returncode == 0
    assert keys[1] not in s3(endpoint, "s3_backups").stdout.split()


def test_a_wrong_secret_key_fails_the_listing_instead_of_listing_nothing(endpoint):
    done = s3(endpoint, "s3_backups", AWS_SECRET_ACCESS_KEY="not-the-key")
    assert done.returncode != 0 and "403" in done.stderr, (done.returncode, done.stderr)
