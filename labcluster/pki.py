"""Certificates and kubeconfigs of one lab cluster, made with openssl.

One CA signs every certificate; the service-account key pair signs tokens. Every kubeconfig is
self-contained (certificates embedded as *-data), as the program's `kubeconfig` secret requires.
"""

from __future__ import annotations

import base64
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import ClusterError
from .layout import (APISERVER_PORT, CLUSTER_DOMAIN, KUBE_ROUTER_USER, KUBERNETES_SERVICE_IP, NODE_IP, NODE_NAME, Layout)

CA_DAYS = 3650
CERT_DAYS = 365


@dataclass(frozen=True)
class Cert:
    name: str
    common_name: str
    organization: str = ""
    dns: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    server: bool = False
    client: bool = True


def cluster_certs() -> tuple[Cert, ...]:
    node = f"system:node:{NODE_NAME}"
    return (
        Cert("kube-apiserver", "kube-apiserver", server=True, client=False,
             dns=("kubernetes", "kubernetes.default", "kubernetes.default.svc",
                  f"kubernetes.default.svc.{CLUSTER_DOMAIN}", "localhost", NODE_NAME),
             ips=("127.0.0.1", NODE_IP, KUBERNETES_SERVICE_IP)),
        Cert("apiserver-kubelet-client", "kube-apiserver-kubelet-client", "system:masters"),
        Cert("admin", "kubernetes-admin", "system:masters"),
        Cert("kube-controller-manager", "system:kube-controller-manager"),
        Cert("kube-scheduler", "system:kube-scheduler"),
        Cert("kube-proxy", "system:kube-proxy"),
        Cert("kube-router", KUBE_ROUTER_USER),
        Cert("kubelet", node, "system:nodes"),
        Cert("kubelet-serving", node, "system:nodes", dns=(NODE_NAME,), ips=(NODE_IP,), server=True, client=False),
    )


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise ClusterError("pki", f"openssl {args[0]} failed: {done.stderr.strip()[-500:]}",
                           check="is openssl installed (scripts/setup-host)?")


def _key(path: Path) -> None:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path), cwd=path.parent)
    path.chmod(0o600)


def make_pki(layout: Layout) -> None:
    """Create the CA, the service-account keys and every certificate, unless already there."""
    pki = layout.pki
    pki.mkdir(parents=True, exist_ok=True)
    pki.chmod(0o700)
    if not (pki / "ca.crt").exists():
        _key(pki / "ca.key")
        _openssl("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=kubernaut-lab-ca", "-days", str(CA_DAYS),
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                 "-out", "ca.crt", cwd=pki)
    if not (pki / "sa.key").exists():
        _key(pki / "sa.key")
        _openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)
    for cert in cluster_certs():
        if not (pki / f"{cert.name}.crt").exists():
            _sign(pki, cert)


def _sign(pki: Path, cert: Cert) -> None:
    _key(pki / f"{cert.name}.key")
    subject = f"/CN={cert.common_name}" + (f"/O={cert.organization}" if cert.organization else "")
    usages = [u for u, on in (("serverAuth", cert.server), ("clientAuth", cert.client)) if on]
    ext = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
           f"extendedKeyUsage={','.join(usages)}"]
    sans = [f"DNS:{d}" for d in cert.dns] + [f"IP:{i}" for i in cert.ips]
    if sans:
        ext.append(f"subjectAltName={','.join(sans)}")
    (pki / f"{cert.name}.ext").write_text("\n".join(ext) + "\n")
    _openssl("req", "-new", "-key", f"{cert.name}.key", "-subj", subject, "-out", f"{cert.name}.csr", cwd=pki)
    _openssl("x509", "-req", "-in", f"{cert.name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", str(CERT_DAYS), "-extfile", f"{cert.name}.ext", "-out", f"{cert.name}.crt", cwd=pki)


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def kubeconfig_text(layout: Layout, user: str, server: str = f"https://{NODE_IP}:{APISERVER_PORT}") -> str:
    """A flattened kubeconfig for `user` (a certificate name of cluster_certs)."""
    pki = layout.pki
    config = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "kubernaut-lab", "cluster": {
            "server": server, "certificate-authority-data": _b64(pki / "ca.crt")}}],
        "users": [{"name": user, "user": {
            "client-certificate-data": _b64(pki / f"{user}.crt"), "client-key-data": _b64(pki / f"{user}.key")}}],
        "contexts": [{"name": "kubernaut-lab", "context": {"cluster": "kubernaut-lab", "user": user}}],
        "current-context": "kubernaut-lab",
    }
    return json.dumps(config, indent=2) + "\n"


def write_kubeconfigs(layout: Layout) -> None:
    layout.etc.mkdir(parents=True, exist_ok=True)
    for user in ("kube-controller-manager", "kube-scheduler", "kube-proxy", "kube-router", "kubelet", "admin"):
        path = layout.kubeconfig(user)
        path.write_text(kubeconfig_text(layout, user))
        path.chmod(0o600)
    layout.admin_kubeconfig.write_text(kubeconfig_text(layout, "admin"))
    layout.admin_kubeconfig.chmod(0o600)
