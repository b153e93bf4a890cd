"""The lab cluster is a Kubernetes that kubectl and the provider treat as any cluster: version,
node, RBAC and the node authorizer, service-account tokens, Pod Security admission, DNS and
Services from a pod, dynamic volumes, and no traffic leaving by the machine's interface."""

from __future__ import annotations

import ipaddress
import json
import socket
import subprocess
import time

import pytest

from cluster import ClientSpec, KubernetesCluster
from labcluster import host
from labcluster.layout import KUBERNETES_SERVICE_IP, KUBERNETES_VERSION, NODE_NAME, SERVICE_CIDR, STORAGE_CLASS

NAMESPACE = "kubernaut-cluster-test"


@pytest.fixture(scope="module")
def kubectl(lab_cluster):
    def run(*args: str, **kwargs):
        return lab_cluster.kubectl(*args, **kwargs)
    return run


@pytest.fixture(scope="module")
def test_namespace(kubectl):
    kubectl("create", "namespace", NAMESPACE, check=False)
    kubectl("label", "--overwrite", "namespace", NAMESPACE, "pod-security.kubernetes.io/enforce=restricted")
    yield NAMESPACE
    kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def test_client_and_server_are_the_pinned_version_and_the_node_is_ready(kubectl):
    version = json.loads(kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == KUBERNETES_VERSION
    assert version["clientVersion"]["gitVersion"] == KUBERNETES_VERSION
    node = json.loads(kubectl("get", "node", NODE_NAME, "-o", "json").stdout)
    assert node["status"]["nodeInfo"]["kubeletVersion"] == KUBERNETES_VERSION
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://")
    ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}
    assert ready["Ready"] == "True"


def test_rbac_and_the_node_authorizer_refuse_what_is_not_granted(kubectl):
    as_sa = ["--as=system:serviceaccount:default:default"]
    assert kubectl("auth", "can-i", "list", "secrets", "-n", "default", *as_sa, check=False).stdout.strip() == "no"
    as_node = [f"--as=system:node:{NODE_NAME}", "--as-group=system:nodes"]
    # The node authorizer lets a kubelet read only what its own pods reference.
    refused = kubectl("auth", "can-i", "get", "secrets/anything", "-n", "default", *as_node, check=False).stdout
    assert refused.startswith("no") and "no relationship found between node" in refused
    assert kubectl("auth", "can-i", "get", f"nodes/{NODE_NAME}", *as_node, check=False).stdout.strip() == "yes"


def test_service_account_tokens_authenticate(kubectl, lab_cluster, tmp_path):
    token = kubectl("-n", "default", "create", "token", "default", "--duration=10m").stdout.strip()
    assert token.count(".") == 2
    config = json.loads(lab_cluster.kubeconfig.read_text())
    config["users"] = [{"name": "token", "user": {"token": token}}]
    config["contexts"][0]["context"]["user"] = "token"
    token_kubeconfig = tmp_path / "token.kubeconfig"
    token_kubeconfig.write_text(json.dumps(config))
    whoami = subprocess.run([str(lab_cluster.bin / "kubectl"), "--kubeconfig", str(token_kubeconfig), "auth", "whoami",
                             "-o", "json"], capture_output=True, text=True, timeout=30)
    assert whoami.returncode == 0, whoami.stderr
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == "system:serviceaccount:default:default"


def test_pod_security_admission_is_enforced(kubectl, test_namespace):
    privileged = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "privileged", "namespace": test_namespace},
                  "spec": {"containers": [{"name": "c", "image": "localhost/kubernaut-redis-client:7.0.15",
                                           "securityContext": {"privileged": True}}]}}
    done = kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(privileged), check=False)
    assert done.returncode != 0
    assert "violates PodSecurity" in done.stderr


def test_dns_and_services_answer_inside_a_pod(lab_cluster, test_namespace):
    access = KubernetesCluster.lab()
    spec = ClientSpec(namespace=test_namespace, name="dns-check", packages=("smoke",))
    access.start_client(spec)
    try:
        script = ("import socket;"
                  "print(socket.gethostbyname('kubernetes.default.svc.cluster.local'));"
                  f"socket.create_connection(('{KUBERNETES_SERVICE_IP}', 443), timeout=5).close();"
                  "print('connected')")
        done = access.client_exec(spec, ["python3", "-c", script], timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == [KUBERNETES_SERVICE_IP, "connected"]
        missing = access.client_exec(spec, ["python3", "-c",
                                            "import socket,time;t=time.monotonic();\n"
                                            "try: socket.gethostbyname('nothing-here.example')\n"
                                            "except OSError: print(round(time.monotonic()-t,2))"], timeout=60)
        # Nothing is forwarded out of the lab: an outside name fails, and fast.
        assert missing.returncode == 0 and float(missing.stdout) < 3.0, missing.stdout + missing.stderr
    finally:
        access.stop_client(spec)


def test_a_claim_of_the_default_class_is_bound_to_a_root_owned_host_path(kubectl, test_namespace):
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": "probe", "namespace": test_namespace},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "16Mi"}}}}
    kubectl("apply", "-f", "-", input=json.dumps(claim))
    deadline = time.monotonic() + 60
    phase = None
    while time.monotonic() < deadline:
        body = json.loads(kubectl("-n", test_namespace, "get", "pvc", "probe", "-o", "json").stdout)
        phase = body["status"].get("phase")
        if phase == "Bound":
            break
        time.sleep(1)
    assert phase == "Bound"
    assert body["spec"]["storageClassName"] == STORAGE_CLASS
    volume = json.loads(kubectl("get", "pv", body["spec"]["volumeName"], "-o", "json").stdout)
    # The provisioner makes the directory root's: a non-root pod cannot write it unless its owner
    # is set (gateway.persistence.volumePermissions), as on kind, k3s and local-path clusters.
    assert "hostPath" in volume["spec"]
    kubectl("-n", test_namespace, "delete", "pvc", "probe", "--wait=false")


def test_a_packet_to_a_cluster_ip_no_service_holds_stays_on_the_machine(kubectl, test_namespace):
    taken = {s["spec"].get("clusterIP") for s in
             json.loads(kubectl("get", "services", "-A", "-o", "json").stdout)["items"]}
    free = next(str(ip) for ip in reversed(list(ipaddress.ip_network(SERVICE_CIDR).hosts())) if str(ip) not in taken)
    before = host.guard_drops()
    access = KubernetesCluster.lab()
    spec = ClientSpec(namespace=test_namespace, name="unheld-ip", packages=("smoke",))
    access.start_client(spec)
    try:
        script = ("import socket\n"
                  "try: socket.create_connection(('%s', 80), timeout=2)\n"
                  "except OSError as err: print(type(err).__name__)" % free)
        done = access.client_exec(spec, ["python3", "-c", script], timeout=60)
        assert done.returncode == 0 and done.stdout.strip(), done.stdout + done.stderr
    finally:
        access.stop_client(spec)
    with pytest.raises(OSError):
        socket.create_connection((free, 80), timeout=2)
    # Neither the pod's packets nor the machine's own reached the uplink (where the guard would
    # have counted and dropped them): service addresses are routed to the node's bridge.
    assert host.guard_drops() == before, "\n".join(host.guard_log())


def test_no_packet_of_the_cluster_left_by_the_machines_interface():
    assert host.uplink() is not None
    assert host.run("nft", "list", "table", "inet", "kubernaut_lab_guard", check=False).returncode == 0
    assert host.guard_drops() == 0, "\n".join(host.guard_log())
