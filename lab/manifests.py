"""Read a directory of rendered manifests into the objects the lab runs.

Every `*.yaml`/`*.yml` document below the directory counts, whatever produced it and whatever the
files are called. Each object is checked against lab.schema, and references between objects
(ConfigMaps and Secrets a pod needs, the Service a StatefulSet names) are resolved here, so a
manifest the lab cannot play fails before a single container starts.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import yaml

from . import schema
from .errors import LabError, UnsupportedField

DEFAULT_NAMESPACE = "default"
DEFAULT_CLUSTER_DOMAIN = "cluster.local"
WORKLOAD_KINDS = ("StatefulSet", "Deployment")
_DOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"


@dataclass(frozen=True)
class Obj:
    """One manifest object and where it came from."""

    body: dict[str, Any]
    source: str

    @property
    def kind(self) -> str:
        return self.body["kind"]

    @property
    def name(self) -> str:
        return self.body["metadata"]["name"]

    @property
    def namespace(self) -> str:
        return self.body["metadata"].get("namespace") or DEFAULT_NAMESPACE

    @property
    def spec(self) -> dict[str, Any]:
        return self.body.get("spec") or {}

    @property
    def labels(self) -> dict[str, str]:
        return self.body["metadata"].get("labels") or {}

    @property
    def label(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name} ({self.source})"


@dataclass
class Manifests:
    """The objects of one lab, grouped by what the lab does with them."""

    root: Path
    objects: list[Obj]
    cluster_domain: str
    approximations: list[tuple[str, str, str]] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Obj]:
        return [o for o in self.objects if o.kind == kind]

    @property
    def workloads(self) -> list[Obj]:
        return [o for o in self.objects if o.kind in WORKLOAD_KINDS]

    @property
    def namespaces(self) -> list[str]:
        return sorted({o.namespace for o in self.objects if o.kind != "Namespace"})

    def find(self, kind: str, namespace: str, name: str) -> Optional[Obj]:
        for o in self.objects:
            if o.kind == kind and o.namespace == namespace and o.name == name:
                return o
        return None

    def config_map_data(self, namespace: str, name: str) -> Optional[dict[str, bytes]]:
        obj = self.find("ConfigMap", namespace, name)
        if obj is None:
            return None
        data = {k: str(v).encode() for k, v in (obj.body.get("data") or {}).items()}
        data.update({k: base64.b64decode(v) for k, v in (obj.body.get("binaryData") or {}).items()})
        return data

    def secret_data(self, namespace: str, name: str) -> Optional[dict[str, bytes]]:
        """`data` (base64) overlaid with `stringData`, as the API server merges them."""
        obj = self.find("Secret", namespace, name)
        if obj is None:
            return None
        data = {k: base64.b64decode(v) for k, v in (obj.body.get("data") or {}).items()}
        data.update({k: str(v).encode() for k, v in (obj.body.get("stringData") or {}).items()})
        return data

    def services_selecting(self, namespace: str, labels: dict[str, str]) -> list[Obj]:
        return [s for s in self.of_kind("Service")
                if s.namespace == namespace and selects(s.spec.get("selector"), labels)]


def selects(selector: Optional[dict[str, str]], labels: dict[str, str]) -> bool:
    """matchLabels semantics; an empty or missing selector selects nothing (as for Services)."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def is_headless(service: Obj) -> bool:
    return service.spec.get("clusterIP") == "None"


def load(root: Path, cluster_domain: Optional[str] = None) -> Manifests:
    """Read, check and cross-check every manifest below `root`."""
    root = Path(root)
    if not root.is_dir():
        raise LabError(f"{root}: not a directory of rendered manifests")
    objects = list(_documents(root))
    if not objects:
        raise LabError(f"{root}: no YAML documents found (expected rendered manifests below it)")
    approximations: list[tuple[str, str, str]] = []
    for obj in objects:
        for path, note in schema.validate(obj.body, obj.label):
            approximations.append((obj.label, path, note))
    manifests = Manifests(root, objects, cluster_domain or _cluster_domain(objects), approximations)
    _check_unique(manifests)
    for service in manifests.of_kind("Service"):
        _check_headless_publishing(service)
    for workload in manifests.workloads:
        _check_workload(manifests, workload)
    return manifests


def _documents(root: Path) -> Iterator[Obj]:
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    for path in files:
        source = str(path.relative_to(root))
        try:
            docs = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError as err:
            raise LabError(f"{source}: not valid YAML: {err}") from None
        for index, doc in enumerate(docs):
            if doc is None:
                continue
            where = source if len(docs) == 1 else f"{source}#{index}"
            if not isinstance(doc, dict) or not isinstance(doc.get("metadata"), dict) \
                    or not doc["metadata"].get("name"):
                raise LabError(f"{where}: not a Kubernetes object (kind, metadata.name)")
            yield Obj(doc, where)


def _cluster_domain(objects: list[Obj]) -> str:
    """The domain that the manifests' own FQDNs use: `<service>.<namespace>.svc.<domain>`."""
    pattern = _fqdn_pattern(objects)
    if pattern is None:
        return DEFAULT_CLUSTER_DOMAIN
    found = {m.group(1) for text in _strings(o.body for o in objects) for m in pattern.finditer(text)}
    if len(found) > 1:
        raise LabError(f"the manifests use several cluster domains ({', '.join(sorted(found))}); "
                       "pass --cluster-domain")
    return found.pop() if found else DEFAULT_CLUSTER_DOMAIN


def _fqdn_pattern(objects: list[Obj]) -> Optional[re.Pattern[str]]:
    services = [o for o in objects if o.kind == "Service"]
    if not services:
        return None
    names = "|".join(sorted({re.escape(f"{s.name}.{s.namespace}") for s in services}))
    return re.compile(rf"\b(?:{names})\.svc\.({_DOMAIN})")


def _strings(values: Any) -> Iterator[str]:
    for value in values:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            yield from _strings(value.values())
        elif isinstance(value, list):
            yield from _strings(value)


def _check_unique(manifests: Manifests) -> None:
    seen: dict[tuple[str, str, str], str] = {}
    for o in manifests.objects:
        key = (o.kind, o.namespace, o.name)
        if key in seen:
            raise LabError(f"{o.label}: the same object is also in {seen[key]}")
        seen[key] = o.source


# ---------------------------------------------------------------------------- cross-references

def _check_headless_publishing(service: Obj) -> None:
    """The lab publishes a pod's headless records while the pod exists (lab.dns), Ready or not:
    it cannot take a pod out of them while it is not Ready."""
    if is_headless(service) and not service.spec.get("publishNotReadyAddresses"):
        raise UnsupportedField(service.label, "spec.publishNotReadyAddresses",
                               "the lab plays headless Services only with publishNotReadyAddresses: true "
                               "(it publishes a pod's records while the pod exists)")


def _check_workload(manifests: Manifests, workload: Obj) -> None:
    spec = workload.spec
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    selector = (spec.get("selector") or {}).get("matchLabels")
    if not selects(selector, labels):
        raise UnsupportedField(workload.label, "spec.selector.matchLabels",
                               "does not select the pod template's labels")
    pod_spec = template.get("spec") or {}
    claims = [c["metadata"]["name"] for c in spec.get("volumeClaimTemplates") or []]
    volumes = {v["name"]: v for v in pod_spec.get("volumes") or []}
    for v in volumes.values():
        _check_volume(manifests, workload, v)
    for index, container in enumerate(pod_spec.get("containers") or []):
        where = f"spec.template.spec.containers[{index}]"
        _check_container(manifests, workload, container, where, volumes, claims)
    if workload.kind == "StatefulSet":
        _check_service_name(manifests, workload, labels)


def _check_volume(manifests: Manifests, workload: Obj, volume: dict[str, Any]) -> None:
    where = f"spec.template.spec.volumes[{volume['name']}]"
    sources = [k for k in ("configMap", "secret", "emptyDir") if k in volume]
    if len(sources) != 1:
        raise UnsupportedField(workload.label, where,
                               "needs exactly one source the lab can honour (configMap, secret, emptyDir)")
    source = volume[sources[0]] or {}
    if sources[0] == "configMap" and not source.get("optional"):
        if manifests.config_map_data(workload.namespace, source["name"]) is None:
            raise LabError(f"{workload.label}: {where}: ConfigMap {source['name']!r} is not in the manifests")
    if sources[0] == "secret" and not source.get("optional"):
        if manifests.secret_data(workload.namespace, source["secretName"]) is None:
            raise LabError(f"{workload.label}: {where}: Secret {source['secretName']!r} is not in the manifests")


def _check_container(manifests: Manifests, workload: Obj, container: dict[str, Any], where: str,
                     volumes: dict[str, Any], claims: list[str]) -> None:
    for mount in container.get("volumeMounts") or []:
        if mount["name"] not in volumes and mount["name"] not in claims:
            raise UnsupportedField(workload.label, f"{where}.volumeMounts[{mount['name']}]",
                                   "names neither a volume nor a volumeClaimTemplate")
    for env in container.get("env") or []:
        _check_env_ref(manifests, workload, env, f"{where}.env[{env['name']}]")
    port_names = {p.get("name") for p in container.get("ports") or []}
    for probe_name in ("startupProbe", "readinessProbe", "livenessProbe"):
        probe = container.get(probe_name)
        if not probe:
            continue
        handlers = [h for h in ("exec", "tcpSocket") if h in probe]
        if len(handlers) != 1:
            raise UnsupportedField(workload.label, f"{where}.{probe_name}",
                                   "needs exactly one handler the lab can run (exec, tcpSocket)")
        port = (probe.get("tcpSocket") or {}).get("port")
        if isinstance(port, str) and port not in port_names:
            raise UnsupportedField(workload.label, f"{where}.{probe_name}.tcpSocket.port",
                                   f"names port {port!r}, which the container does not declare")


def _check_env_ref(manifests: Manifests, workload: Obj, env: dict[str, Any], where: str) -> None:
    source = env.get("valueFrom") or {}
    if len([k for k in source if source[k] is not None]) > 1:
        raise UnsupportedField(workload.label, f"{where}.valueFrom", "needs exactly one source")
    for key, lookup, what in (("secretKeyRef", manifests.secret_data, "Secret"),
                              ("configMapKeyRef", manifests.config_map_data, "ConfigMap")):
        ref = source.get(key)
        if not ref or ref.get("optional"):
            continue
        data = lookup(workload.namespace, ref["name"])
        if data is None or ref["key"] not in data:
            raise LabError(f"{workload.label}: {where}: {what} {ref['name']!r} key {ref['key']!r} "
                           "is not in the manifests")


def _check_service_name(manifests: Manifests, workload: Obj, labels: dict[str, str]) -> None:
    name = workload.spec.get("serviceName")
    if not name:
        return
    service = manifests.find("Service", workload.namespace, name)
    if service is None or not is_headless(service):
        raise UnsupportedField(workload.label, "spec.serviceName",
                               f"names {name!r}, which is not a headless Service in the manifests "
                               "(the pods' DNS names come from it)")
    if not selects(service.spec.get("selector"), labels):
        raise UnsupportedField(workload.label, "spec.serviceName",
                               f"Service {name!r} does not select the pods, so their names would not resolve")
