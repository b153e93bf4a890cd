"""Turn a pod template into podman commands: one `podman pod create` and one `podman run` per container.

This is the lab's kubelet translation table (docs/lab.md lists it):
  hostname/subdomain + headless Service -> --hostname, and the pod's FQDN in the lab's DNS (lab.dns)
  dnsConfig + ClusterFirst              -> --dns (the lab network's resolver only), --dns-search, --dns-option
  env value / fieldRef / secretKeyRef   -> --env (Secret values by name only, never on the command line)
  configMap, secret, emptyDir, claims   -> host directories (lab.volumes) bind-mounted
  securityContext                       -> --user, --group-add, --read-only, --cap-drop/--cap-add,
                                           --security-opt no-new-privileges
  resources                             -> --cpus, --memory (limits), --cpu-shares (requests)
  command/args                          -> --entrypoint + arguments
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from . import quantities
from .errors import UnsupportedField
from .manifests import Manifests, Obj
from .podman import CONTAINER_LABEL, LAB_LABEL, POD_LABEL, ROLE_LABEL

DEFAULT_GRACE_SECONDS = 30
# ClusterFirst: Kubernetes writes ndots:5 and the namespace search path into every pod.
KUBERNETES_NDOTS = "5"
_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


@dataclass(frozen=True)
class ProbeSpec:
    kind: str  # startup | readiness | liveness
    command: Optional[tuple[str, ...]]
    port: Optional[int]
    initial_delay: float
    period: float
    timeout: float
    failure_threshold: int
    success_threshold: int
    termination_grace: Optional[float] = None  # the probe's own terminationGracePeriodSeconds


@dataclass(frozen=True)
class VolumePlan:
    """A host directory to prepare before the containers start (lab.volumes)."""

    name: str
    kind: str  # configMap | secret | emptyDir | claim
    host_path: Path
    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerPlan:
    name: str
    podman_name: str
    run_args: tuple[str, ...]
    secret_env: dict[str, str]
    probes: dict[str, ProbeSpec]
    pre_stop: Optional[tuple[str, ...]]
    ports: dict[str, int]


@dataclass(frozen=True)
class PodPlan:
    name: str
    namespace: str
    labels: dict[str, str]
    podman_name: str
    infra_name: str
    create_args: tuple[str, ...]
    containers: tuple[ContainerPlan, ...]
    volumes: tuple[VolumePlan, ...]
    grace_seconds: float
    fs_group: Optional[int]
    fs_group_policy: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class LabNet:
    """What a pod needs to know about the lab it runs in."""

    lab: str
    network: str
    resolver_ip: str
    cluster_domain: str

    def podman_pod(self, pod: str) -> str:
        return f"{self.lab}-{pod}"


def plan_pod(net: LabNet, manifests: Manifests, workload: Obj, pod_name: str, pod_dir: Path,
             claim_dirs: dict[str, Path], hostname: Optional[str] = None) -> PodPlan:
    template = workload.spec["template"]
    spec = template.get("spec") or {}
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    namespace = workload.namespace
    hostname = spec.get("hostname") or hostname or pod_name
    subdomain = spec.get("subdomain") or (workload.spec.get("serviceName") if workload.kind == "StatefulSet" else None)
    aliases = _aliases(net, manifests, namespace, labels, hostname, subdomain)
    pod_sc = spec.get("securityContext") or {}
    podman_name = net.podman_pod(pod_name)
    volumes = _volume_plans(manifests, workload, spec, pod_dir, claim_dirs)
    volume_paths = {v.name: v.host_path for v in volumes}
    ctx = _ContainerContext(net.lab, workload, manifests, pod_name, podman_name, pod_sc, volume_paths)
    containers = tuple(_plan_container(ctx, index, c) for index, c in enumerate(spec["containers"]))
    create_args = _pod_create_args(net, spec, namespace, pod_name, podman_name, hostname)
    grace = spec.get("terminationGracePeriodSeconds")
    return PodPlan(
        name=pod_name, namespace=namespace, labels=labels, podman_name=podman_name,
        infra_name=f"{podman_name}-infra", create_args=create_args, containers=containers,
        volumes=tuple(volumes), grace_seconds=float(DEFAULT_GRACE_SECONDS if grace is None else grace),
        fs_group=pod_sc.get("fsGroup"), fs_group_policy=pod_sc.get("fsGroupChangePolicy") or "Always",
        aliases=tuple(aliases),
    )


# ---------------------------------------------------------------------------- pod level

def _aliases(net: LabNet, manifests: Manifests, namespace: str, labels: dict[str, str],
             hostname: str, subdomain: Optional[str]) -> list[str]:
    """DNS names Kubernetes gives a pod: its own FQDN under its headless Service, and the headless
    Services' names (ClusterIP Services are served by lab.services proxies instead)."""
    aliases = []
    for service in manifests.services_selecting(namespace, labels):
        if service.spec.get("clusterIP") != "None":
            continue
        service_fqdn = f"{service.name}.{namespace}.svc.{net.cluster_domain}"
        aliases.append(service_fqdn)
        if subdomain == service.name:
            aliases.append(f"{hostname}.{service_fqdn}")
    return aliases


def _pod_create_args(net: LabNet, spec: dict[str, Any], namespace: str, pod_name: str, podman_name: str,
                     hostname: str) -> tuple[str, ...]:
    args = ["pod", "create", "--name", podman_name, "--infra-name", f"{podman_name}-infra",
            "--hostname", hostname, "--network", net.network,
            "--label", f"{LAB_LABEL}={net.lab}", "--label", f"{POD_LABEL}={pod_name}",
            "--dns", net.resolver_ip]
    domain = net.cluster_domain
    dns_config = spec.get("dnsConfig") or {}
    for search in [f"{namespace}.svc.{domain}", f"svc.{domain}", domain, *(dns_config.get("searches") or [])]:
        args += ["--dns-search", search]
    options = {"ndots": KUBERNETES_NDOTS}
    for option in dns_config.get("options") or []:
        options[option["name"]] = option.get("value")
    for name, value in options.items():
        args += ["--dns-option", name if value is None else f"{name}:{value}"]
    return tuple(args)


# ---------------------------------------------------------------------------- volumes

def _volume_plans(manifests: Manifests, workload: Obj, spec: dict[str, Any], pod_dir: Path,
                  claim_dirs: dict[str, Path]) -> list[VolumePlan]:
    plans = []
    for volume in spec.get("volumes") or []:
        name = volume["name"]
        host_path = pod_dir / "volumes" / name
        if "configMap" in volume:
            source = volume["configMap"]
            data = manifests.config_map_data(workload.namespace, source["name"]) or {}
            plans.append(VolumePlan(name, "configMap", host_path, _files(source, data, 0o644)))
        elif "secret" in volume:
            source = volume["secret"]
            data = manifests.secret_data(workload.namespace, source["secretName"]) or {}
            plans.append(VolumePlan(name, "secret", host_path, _files(source, data, 0o644)))
        else:
            plans.append(VolumePlan(name, "emptyDir", host_path))
    for claim, path in claim_dirs.items():
        plans.append(VolumePlan(claim, "claim", path))
    return plans


def _files(source: dict[str, Any], data: dict[str, bytes], default_mode: int) -> dict[str, tuple[bytes, int]]:
    mode = source.get("defaultMode")
    mode = default_mode if mode is None else int(mode)
    items = source.get("items")
    if not items:
        return {key: (value, mode) for key, value in data.items()}
    return {item["path"]: (data[item["key"]], int(item["mode"]) if item.get("mode") is not None else mode)
            for item in items if item["key"] in data}


# ---------------------------------------------------------------------------- containers

@dataclass(frozen=True)
class _ContainerContext:
    lab: str
    workload: Obj
    manifests: Manifests
    pod_name: str
    podman_pod: str
    pod_sc: dict[str, Any]
    volume_paths: dict[str, Path]


def _plan_container(ctx: _ContainerContext, index: int, container: dict[str, Any]) -> ContainerPlan:
    where = f"spec.template.spec.containers[{index}]"
    name = container["name"]
    podman_name = f"{ctx.podman_pod}-{name}"
    env, secret_env, secret_names = _environment(ctx, container, where)
    ports = {p["name"]: int(p["containerPort"]) for p in container.get("ports") or [] if p.get("name")}
    args = ["--pod", ctx.podman_pod, "--name", podman_name, "--pull", "never",
            "--label", f"{LAB_LABEL}={ctx.lab}", "--label", f"{POD_LABEL}={ctx.pod_name}", "--label", f"{CONTAINER_LABEL}={name}",
            "--label", f"{ROLE_LABEL}=pod"]
    args += _security_args(ctx, container, where)
    args += _resource_args(ctx, container, where)
    for key, value in env:
        args += ["--env", f"{key}={value}"]
    for key in secret_env:
        args += ["--env", key]
    args += _mount_args(ctx, container)
    if container.get("workingDir"):
        args += ["--workdir", container["workingDir"]]
    command = [_expand(ctx, c, env, secret_names, f"{where}.command") for c in container.get("command") or []]
    arguments = [_expand(ctx, a, env, secret_names, f"{where}.args") for a in container.get("args") or []]
    if command:
        args += ["--entrypoint", json.dumps(command)]
    args += [container["image"], *arguments]
    probes = {kind: _probe(ctx, container, f"{kind}Probe", kind, ports, where)
              for kind in ("startup", "readiness", "liveness") if container.get(f"{kind}Probe")}
    pre_stop = ((container.get("lifecycle") or {}).get("preStop") or {}).get("exec")
    return ContainerPlan(
        name=name, podman_name=podman_name, run_args=tuple(args), secret_env=secret_env,
        probes=probes, pre_stop=tuple(pre_stop["command"]) if pre_stop else None, ports=ports)


def _environment(ctx: _ContainerContext, container: dict[str, Any], where: str
                 ) -> tuple[list[tuple[str, str]], dict[str, str], set[str]]:
    """(literal env, Secret-backed env, names of Secret-backed variables), in manifest order."""
    literal: list[tuple[str, str]] = []
    secret: dict[str, str] = {}
    for var in container.get("env") or []:
        name, source = var["name"], var.get("valueFrom") or {}
        if "value" in var and var["value"] is not None:
            value = _expand(ctx, str(var["value"]), literal, set(secret), f"{where}.env[{name}].value",
                            allow_secret=True)
            if any(f"$({s})" in str(var["value"]) for s in secret):
                secret[name] = value
            else:
                literal.append((name, value))
        elif source.get("fieldRef"):
            path = source["fieldRef"]["fieldPath"]
            literal.append((name, ctx.pod_name if path == "metadata.name" else ctx.workload.namespace))
        elif source.get("secretKeyRef"):
            ref = source["secretKeyRef"]
            data = ctx.manifests.secret_data(ctx.workload.namespace, ref["name"]) or {}
            if ref["key"] in data:
                secret[name] = data[ref["key"]].decode()
        elif source.get("configMapKeyRef"):
            ref = source["configMapKeyRef"]
            data = ctx.manifests.config_map_data(ctx.workload.namespace, ref["name"]) or {}
            if ref["key"] in data:
                literal.append((name, data[ref["key"]].decode()))
        else:
            literal.append((name, ""))
    return literal, secret, set(secret)


def _expand(ctx: _ContainerContext, text: str, env: list[tuple[str, str]], secret_names: set[str],
            where: str, allow_secret: bool = False) -> str:
    """Kubernetes' `$(VAR)` expansion in env values, command and args; `$$` is a literal `$`."""
    known = dict(env)

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        var = match.group(1)
        if var in secret_names and not allow_secret:
            raise UnsupportedField(ctx.workload.label, where,
                                   f"$({var}) would put a Secret value on a command line (visible to ps)")
        return known.get(var, match.group(0))

    return _VAR_REF.sub(replace, text)


def _security_args(ctx: _ContainerContext, container: dict[str, Any], where: str) -> list[str]:
    pod_sc, sc = ctx.pod_sc, container.get("securityContext") or {}
    uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
    gid = sc.get("runAsGroup", pod_sc.get("runAsGroup"))
    non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
    if non_root and (uid is None or int(uid) == 0):
        raise UnsupportedField(ctx.workload.label, f"{where}.securityContext.runAsNonRoot",
                               "runAsNonRoot needs a non-zero runAsUser in the lab (image users are not inspected)")
    args = []
    if uid is not None:
        args += ["--user", f"{uid}:{gid}" if gid is not None else str(uid)]
    groups = [pod_sc.get("fsGroup"), *(pod_sc.get("supplementalGroups") or [])]
    for group in groups:
        if group is not None:
            args += ["--group-add", str(group)]
    if sc.get("readOnlyRootFilesystem"):
        # podman would mount tmpfs on /tmp, /run, /var/tmp; Kubernetes does not.
        args += ["--read-only", "--read-only-tmpfs=false"]
    caps = sc.get("capabilities") or {}
    for cap in caps.get("drop") or []:
        args += ["--cap-drop", str(cap).lower()]
    for cap in caps.get("add") or []:
        args += ["--cap-add", str(cap)]
    if sc.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
    if seccomp == "Unconfined":
        args += ["--security-opt", "seccomp=unconfined"]
    return args


def _resource_args(ctx: _ContainerContext, container: dict[str, Any], where: str) -> list[str]:
    resources = container.get("resources") or {}
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    args = []
    try:
        if limits.get("cpu") is not None:
            args += ["--cpus", f"{quantities.cpu_cores(limits['cpu']):.3f}"]
        if limits.get("memory") is not None:
            args += ["--memory", f"{quantities.memory_bytes(limits['memory'])}b"]
        if requests.get("cpu") is not None:
            args += ["--cpu-shares", str(max(2, int(quantities.cpu_cores(requests["cpu"]) * 1024)))]
    except ValueError as err:
        raise UnsupportedField(ctx.workload.label, f"{where}.resources", str(err)) from None
    return args


def _mount_args(ctx: _ContainerContext, container: dict[str, Any]) -> list[str]:
    args = []
    for mount in container.get("volumeMounts") or []:
        source = ctx.volume_paths[mount["name"]]
        if mount.get("subPath"):
            source = source / mount["subPath"]
        options = "ro" if mount.get("readOnly") else "rw"
        args += ["--volume", f"{source}:{mount['mountPath']}:{options}"]
    return args


def _probe(ctx: _ContainerContext, container: dict[str, Any], field_name: str, kind: str,
           ports: dict[str, int], where: str) -> ProbeSpec:
    probe = container[field_name]
    command, port = None, None
    if probe.get("exec"):
        command = tuple(probe["exec"]["command"])
    else:
        raw = probe["tcpSocket"]["port"]
        port = ports[raw] if isinstance(raw, str) else int(raw)
    # Kubernetes' defaults; a startup probe's success threshold is always 1.
    return ProbeSpec(
        kind=kind, command=command, port=port,
        initial_delay=float(probe.get("initialDelaySeconds") or 0),
        period=float(probe.get("periodSeconds") or 10),
        timeout=float(probe.get("timeoutSeconds") or 1),
        failure_threshold=int(probe.get("failureThreshold") or 3),
        success_threshold=1 if kind != "readiness" else int(probe.get("successThreshold") or 1),
        termination_grace=(float(probe["terminationGracePeriodSeconds"])
                           if probe.get("terminationGracePeriodSeconds") is not None else None),
    )
