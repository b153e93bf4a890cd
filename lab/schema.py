"""Which manifest fields the lab honours, which it approximates, and a check that refuses the rest.

The lab plays manifests "as Kubernetes would" only for the fields listed here. A field that is not
listed, or a value the lab cannot reproduce, raises UnsupportedField naming the object and the
field path: silently ignoring it would make a lab run prove something the cluster never does.
Fields marked `Approx` are accepted and approximated; `APPROXIMATIONS` lists why (docs/lab.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from .errors import UnsupportedField


class _Any:
    """Any value, honoured as Kubernetes would."""


ANY = _Any()


@dataclass(frozen=True)
class Approx:
    """Accepted, but the lab only approximates it (the note says how)."""

    note: str


@dataclass(frozen=True)
class MapOf:
    """A string-keyed map whose values follow `values` (labels, annotations, ConfigMap data)."""

    values: Any = ANY


@dataclass(frozen=True)
class Check:
    """A value check: `test(value)` returns None when the lab can honour the value, else why not."""

    test: Callable[[Any], Optional[str]]


def one_of(*allowed: Any) -> Check:
    def test(value: Any) -> Optional[str]:
        if value in allowed:
            return None
        return f"value {value!r}: the lab honours only {', '.join(repr(a) for a in allowed)}"
    return Check(test)


def only_false(value: Any) -> Optional[str]:
    return None if value is False else f"value {value!r}: the lab honours only false"


ONLY_FALSE = Check(only_false)

METADATA = {"name": ANY, "namespace": ANY, "labels": MapOf(), "annotations": MapOf()}
TEMPLATE_METADATA = {"labels": MapOf(), "annotations": MapOf(), "name": ANY, "namespace": ANY}
LABEL_SELECTOR = {"matchLabels": MapOf()}

ENV_VAR = {
    "name": ANY,
    "value": ANY,
    "valueFrom": {
        "fieldRef": {"apiVersion": one_of("v1"), "fieldPath": one_of("metadata.name", "metadata.namespace")},
        "secretKeyRef": {"name": ANY, "key": ANY, "optional": ANY},
        "configMapKeyRef": {"name": ANY, "key": ANY, "optional": ANY},
    },
}

EXEC_ACTION = {"command": [ANY]}

PROBE = {
    "exec": EXEC_ACTION,
    "tcpSocket": {"port": ANY},
    "initialDelaySeconds": ANY,
    "periodSeconds": ANY,
    "timeoutSeconds": ANY,
    "failureThreshold": ANY,
    "successThreshold": ANY,
    "terminationGracePeriodSeconds": ANY,
}

CPU_MEMORY = {"cpu": ANY, "memory": ANY}

CONTAINER_SECURITY_CONTEXT = {
    "runAsUser": ANY,
    "runAsGroup": ANY,
    "runAsNonRoot": ANY,
    "readOnlyRootFilesystem": ANY,
    "allowPrivilegeEscalation": ANY,
    "privileged": ONLY_FALSE,
    "capabilities": {"drop": [ANY], "add": [ANY]},
    "seccompProfile": {"type": one_of("RuntimeDefault", "Unconfined")},
}

CONTAINER = {
    "name": ANY,
    "image": ANY,
    "imagePullPolicy": Approx("the image must already exist in local podman storage; nothing is pulled"),
    "command": [ANY],
    "args": [ANY],
    "workingDir": ANY,
    "env": [ENV_VAR],
    "ports": [{"name": ANY, "containerPort": ANY, "protocol": one_of("TCP")}],
    "resources": {
        "requests": {"cpu": Approx("mapped to podman --cpu-shares"),
                     "memory": Approx("not reserved: one host, no scheduler")},
        "limits": CPU_MEMORY,
    },
    "volumeMounts": [{"name": ANY, "mountPath": ANY, "readOnly": ANY, "subPath": ANY}],
    "securityContext": CONTAINER_SECURITY_CONTEXT,
    "startupProbe": PROBE,
    "readinessProbe": PROBE,
    "livenessProbe": PROBE,
    "lifecycle": {"preStop": {"exec": EXEC_ACTION}},
    "terminationMessagePath": Approx("no termination messages: the lab keeps the container log instead"),
    "terminationMessagePolicy": Approx("no termination messages: the lab keeps the container log instead"),
    "stdin": ONLY_FALSE,
    "tty": ONLY_FALSE,
}

VOLUME_ITEMS = [{"key": ANY, "path": ANY, "mode": ANY}]

VOLUME = {
    "name": ANY,
    "configMap": {"name": ANY, "defaultMode": ANY, "items": VOLUME_ITEMS, "optional": ANY},
    "secret": {"secretName": ANY, "defaultMode": ANY, "items": VOLUME_ITEMS, "optional": ANY},
    "emptyDir": {
        "medium": one_of(""),
        "sizeLimit": Approx("emptyDir is a host directory; its size is not limited"),
    },
}

POD_SECURITY_CONTEXT = {
    "runAsUser": ANY,
    "runAsGroup": ANY,
    "runAsNonRoot": ANY,
    "fsGroup": ANY,
    "fsGroupChangePolicy": one_of("Always", "OnRootMismatch"),
    "supplementalGroups": [ANY],
    "seccompProfile": {"type": one_of("RuntimeDefault", "Unconfined")},
}

POD_SPEC = {
    "containers": [CONTAINER],
    "volumes": [VOLUME],
    "securityContext": POD_SECURITY_CONTEXT,
    "terminationGracePeriodSeconds": ANY,
    "dnsPolicy": one_of("ClusterFirst"),
    "dnsConfig": {"options": [{"name": ANY, "value": ANY}], "searches": [ANY]},
    "hostname": ANY,
    "subdomain": ANY,
    "restartPolicy": one_of("Always"),
    "automountServiceAccountToken": Approx("there is no API server in the lab: no token is mounted"),
    "serviceAccountName": Approx("there is no API server in the lab: no token is mounted"),
    "enableServiceLinks": Approx("Service environment variables are never injected (as with false)"),
    "affinity": Approx("one host: (anti-)affinity cannot spread pods; every pod runs on it"),
    "topologySpreadConstraints": Approx("one host: pods cannot be spread"),
    "nodeSelector": Approx("one host: every pod runs on it"),
    "tolerations": Approx("one host: every pod runs on it"),
    "priorityClassName": Approx("no scheduler and no preemption"),
    "schedulerName": Approx("no scheduler"),
    "hostNetwork": ONLY_FALSE,
    "hostPID": ONLY_FALSE,
    "hostIPC": ONLY_FALSE,
    "shareProcessNamespace": ONLY_FALSE,
}

POD_TEMPLATE = {"metadata": TEMPLATE_METADATA, "spec": POD_SPEC}

CLAIM_TEMPLATE = {
    "metadata": {"name": ANY, "labels": MapOf(), "annotations": MapOf()},
    "spec": {
        "accessModes": Approx("a claim is a host directory per pod; access modes are not enforced"),
        "storageClassName": Approx("a claim is a host directory per pod; no StorageClass"),
        "volumeMode": one_of("Filesystem"),
        "resources": {"requests": {"storage": Approx("a claim is a host directory; its size is not limited")}},
    },
}

IGNORED_STATUS = Approx("status is written by controllers; rendered status is ignored")
REVISIONS = Approx("the lab keeps no revision history")

KINDS: dict[str, dict[str, Any]] = {
    "Namespace": {"apiVersion": one_of("v1"), "kind": ANY, "metadata": METADATA, "spec": Approx("no finalizers"),
                  "status": IGNORED_STATUS},
    "ConfigMap": {"apiVersion": one_of("v1"), "kind": ANY, "metadata": METADATA, "data": MapOf(),
                  "binaryData": MapOf(), "immutable": ANY},
    "Secret": {"apiVersion": one_of("v1"), "kind": ANY, "metadata": METADATA, "type": one_of("Opaque"),
               "data": MapOf(), "stringData": MapOf(), "immutable": ANY},
    "Service": {
        "apiVersion": one_of("v1"), "kind": ANY, "metadata": METADATA, "status": IGNORED_STATUS,
        "spec": {
            "type": one_of("ClusterIP"),
            "clusterIP": one_of("None"),  # a fixed ClusterIP cannot be given to the proxy
            "selector": MapOf(),
            "publishNotReadyAddresses": ANY,
            "ports": [{"name": ANY, "port": ANY, "targetPort": ANY, "protocol": one_of("TCP"),
                       "appProtocol": Approx("TCP proxying only")}],
            "sessionAffinity": one_of("None"),
            "internalTrafficPolicy": Approx("one host: Cluster and Local are the same"),
            "ipFamilies": Approx("IPv4 only"),
            "ipFamilyPolicy": Approx("IPv4 only"),
        },
    },
    "StatefulSet": {
        "apiVersion": one_of("apps/v1"), "kind": ANY, "metadata": METADATA, "status": IGNORED_STATUS,
        "spec": {
            "replicas": ANY,
            "serviceName": ANY,
            "selector": LABEL_SELECTOR,
            "template": POD_TEMPLATE,
            "volumeClaimTemplates": [CLAIM_TEMPLATE],
            "podManagementPolicy": one_of("Parallel", "OrderedReady"),
            "updateStrategy": {"type": one_of("RollingUpdate"), "rollingUpdate": {"partition": one_of(0)}},
            "revisionHistoryLimit": REVISIONS,
            "minReadySeconds": one_of(0),
            "persistentVolumeClaimRetentionPolicy": Approx("claims are kept until `lab down`"),
        },
    },
    "Deployment": {
        "apiVersion": one_of("apps/v1"), "kind": ANY, "metadata": METADATA, "status": IGNORED_STATUS,
        "spec": {
            "replicas": ANY,
            "selector": LABEL_SELECTOR,
            "template": POD_TEMPLATE,
            "strategy": {"type": one_of("RollingUpdate", "Recreate"),
                         "rollingUpdate": {"maxSurge": ANY, "maxUnavailable": ANY}},
            "revisionHistoryLimit": REVISIONS,
            "minReadySeconds": one_of(0),
            "progressDeadlineSeconds": Approx("a rollout waits for readiness with the lab's own timeout"),
            "paused": ONLY_FALSE,
        },
    },
    "PodDisruptionBudget": {
        "apiVersion": one_of("policy/v1"), "kind": ANY, "metadata": METADATA, "status": IGNORED_STATUS,
        "spec": {
            "maxUnavailable": ANY,
            "minAvailable": ANY,
            "selector": LABEL_SELECTOR,
            "unhealthyPodEvictionPolicy": Approx("unhealthy pods count as unavailable"),
        },
    },
}


def validate(obj: dict[str, Any], label: str) -> list[tuple[str, str]]:
    """Check one object against its kind's schema; returns the (field, note) approximations used.

    Raises UnsupportedField for an unknown kind, an unlisted field or a value the lab cannot honour.
    """
    kind = obj.get("kind")
    if kind not in KINDS:
        raise UnsupportedField(label, "kind", f"the lab cannot run kind {kind!r} (it runs {', '.join(KINDS)})")
    used: list[tuple[str, str]] = []
    _walk(obj, KINDS[kind], "", label, used)
    return used


def _walk(value: Any, schema: Any, path: str, label: str, used: list[tuple[str, str]]) -> None:
    if isinstance(schema, _Any) or value is None:
        return
    if isinstance(schema, Approx):
        used.append((path, schema.note))
        return
    if isinstance(schema, Check):
        problem = schema.test(value)
        if problem:
            raise UnsupportedField(label, path, problem)
        return
    if isinstance(schema, MapOf):
        _expect(isinstance(value, dict), label, path, "expected a map")
        for key, item in value.items():
            _walk(item, schema.values, f"{path}.{key}", label, used)
        return
    if isinstance(schema, list):
        _expect(isinstance(value, list), label, path, "expected a list")
        for index, item in enumerate(value):
            _walk(item, schema[0], f"{path}[{index}]", label, used)
        return
    _expect(isinstance(value, dict), label, path, "expected an object")
    for key, item in value.items():
        child = f"{path}.{key}" if path else key
        if item is None:
            continue  # an explicit null is an absent field
        if key not in schema:
            raise UnsupportedField(label, child, "the lab cannot honour this field")
        _walk(item, schema[key], child, label, used)


def _expect(ok: bool, label: str, path: str, what: str) -> None:
    if not ok:
        raise UnsupportedField(label, path or "(object)", what)


def approximations() -> list[tuple[str, str]]:
    """Every approximated field of every kind (for docs/lab.md and `python -m lab approximations`)."""
    found: list[tuple[str, str]] = []

    def collect(schema: Any, path: str) -> None:
        if isinstance(schema, Approx):
            found.append((path, schema.note))
        elif isinstance(schema, list):
            collect(schema[0], f"{path}[]")
        elif isinstance(schema, dict):
            for key, child in schema.items():
                collect(child, f"{path}.{key}" if path else key)

    for kind, schema in KINDS.items():
        collect(schema, kind)
    return found
