"""Pod-spec pieces shared by the gateway, the proxy and the cache.

Pod Security "restricted": non-root, no privilege escalation, every capability dropped,
RuntimeDefault seccomp, read-only root filesystem; no service account token (nothing in these
pods talks to the Kubernetes API). The one exception, switched on by
`gateway.persistence.volumePermissions`, is the init container that gives a volume to the pod's
user where the kubelet does not apply `fsGroup` (Pod Security "baseline").
"""

from __future__ import annotations

from typing import Literal, Mapping, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from stack_config import ContainerResources, EngineBinaries, names

from .checksum import password_checksum

# Sentinel resolves names synchronously: a lookup that hangs for the resolver's default 5 s x 2
# sends it into TILT. Fail a lookup fast and retry instead.
DNS_TIMEOUT_SECONDS = "1"
DNS_ATTEMPTS = "5"
HOSTNAME_TOPOLOGY_KEY = "kubernetes.io/hostname"
TMP_VOLUME = "tmp"
TMP_SIZE_LIMIT = "64Mi"
# Modes of mounted ConfigMap files: configs are read-only, the shipped scripts executable.
READ_ONLY_MODE = 0o444
EXECUTABLE_MODE = 0o555
# pulumi-kubernetes' switch that forces its server-side apply over other field managers. A
# `kubectl scale` (an operator's during an incident, the alert drill's) makes kubectl the owner of
# spec.replicas; the next `pulumi up` that sets another count would fail on a field conflict and
# leave the stack half applied. The stack config is the count of record: the gateway's topology
# ConfigMap (quorum, peer list) is rendered from it, so the apply takes the field back.
FORCE_APPLY_ANNOTATION = "pulumi.com/patchForce"


def workload_annotations(extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """The annotations of a workload object (StatefulSet, Deployment), not of its pods: changing
    them rolls no pod."""
    return {FORCE_APPLY_ANNOTATION: "true", **(extra or {})}


def pod_security_context(uid: int) -> k8s.core.v1.PodSecurityContextArgs:
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True,
        run_as_user=uid,
        run_as_group=uid,
        fs_group=uid,
        # Only chown the volume when its root is not ours yet: a full walk of a large volume
        # delays every restart.
        fs_group_change_policy="OnRootMismatch",
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
    )


def container_security_context() -> k8s.core.v1.SecurityContextArgs:
    return k8s.core.v1.SecurityContextArgs(
        run_as_non_root=True,
        allow_privilege_escalation=False,
        read_only_root_filesystem=True,
        privileged=False,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
    )


VOLUME_PERMISSIONS_CONTAINER = "volume-permissions"
# What `chown -R` and `chmod` need as root, nothing more: CHOWN to change owners, FOWNER to chmod
# a directory root no longer owns, DAC_OVERRIDE to walk into directories only their owner may
# enter (a volume that was given away before). All are in Pod Security "baseline"'s allowed set.
VOLUME_PERMISSIONS_CAPABILITIES = ("CHOWN", "FOWNER", "DAC_OVERRIDE")
VOLUME_PERMISSIONS_MODE = "0770"
VOLUME_PERMISSIONS_RESOURCES = k8s.core.v1.ResourceRequirementsArgs(
    requests={"cpu": "10m", "memory": "16Mi"}, limits={"cpu": "100m", "memory": "32Mi"})


def volume_permissions_command(mount_path: str, uid: int) -> list[str]:
    """`-h` changes a symbolic link itself, never what it points to: the volume's contents were
    written by the unprivileged containers and must not steer a root chown elsewhere."""
    return ["sh", "-c", f"chown -R -h {uid}:{uid} {mount_path} && chmod {VOLUME_PERMISSIONS_MODE} {mount_path}"]


def volume_permissions_container(image: str, pull_policy: str, volume: str, mount_path: str,
                                 uid: int) -> k8s.core.v1.ContainerArgs:
    """An init container that gives `volume` to uid:uid (the pod's runAsUser and fsGroup), for
    volume plugins that ignore fsGroup (hostPath, local): root, only the capabilities of
    VOLUME_PERMISSIONS_CAPABILITIES, no privilege escalation, read-only root filesystem."""
    return k8s.core.v1.ContainerArgs(
        name=VOLUME_PERMISSIONS_CONTAINER,
        image=image,
        image_pull_policy=pull_policy,
        command=volume_permissions_command(mount_path, uid),
        resources=VOLUME_PERMISSIONS_RESOURCES,
        volume_mounts=[k8s.core.v1.VolumeMountArgs(name=volume, mount_path=mount_path)],
        security_context=k8s.core.v1.SecurityContextArgs(
            run_as_user=0,
            run_as_group=0,
            run_as_non_root=False,
            allow_privilege_escalation=False,
            read_only_root_filesystem=True,
            privileged=False,
            capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"], add=list(VOLUME_PERMISSIONS_CAPABILITIES)),
        ),
    )


def short_dns_timeouts() -> k8s.core.v1.PodDNSConfigArgs:
    return k8s.core.v1.PodDNSConfigArgs(options=[
        k8s.core.v1.PodDNSConfigOptionArgs(name="timeout", value=DNS_TIMEOUT_SECONDS),
        k8s.core.v1.PodDNSConfigOptionArgs(name="attempts", value=DNS_ATTEMPTS),
    ])


def hostname_anti_affinity(mode: Literal["soft", "hard"],
                           selector: Mapping[str, str]) -> k8s.core.v1.AffinityArgs:
    """One pod per node: required ("hard") where nodes allow it, otherwise preferred ("soft")."""
    term = k8s.core.v1.PodAffinityTermArgs(
        topology_key=HOSTNAME_TOPOLOGY_KEY,
        label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(selector)),
    )
    if mode == "hard":
        anti = k8s.core.v1.PodAntiAffinityArgs(required_during_scheduling_ignored_during_execution=[term])
    else:
        anti = k8s.core.v1.PodAntiAffinityArgs(preferred_during_scheduling_ignored_during_execution=[
            k8s.core.v1.WeightedPodAffinityTermArgs(weight=100, pod_affinity_term=term)])
    return k8s.core.v1.AffinityArgs(pod_anti_affinity=anti)


def resource_requirements(resources: ContainerResources) -> k8s.core.v1.ResourceRequirementsArgs:
    return k8s.core.v1.ResourceRequirementsArgs(
        requests={"cpu": resources.requests.cpu, "memory": resources.requests.memory},
        limits={"cpu": resources.limits.cpu, "memory": resources.limits.memory},
    )


def literal_env(values: Mapping[str, object]) -> list[k8s.core.v1.EnvVarArgs]:
    return [k8s.core.v1.EnvVarArgs(name=key, value=str(value)) for key, value in values.items()]


def pod_name_env() -> k8s.core.v1.EnvVarArgs:
    """POD_NAME from the pod's own metadata: the scripts' ordinal and log prefix."""
    return k8s.core.v1.EnvVarArgs(
        name="POD_NAME",
        value_from=k8s.core.v1.EnvVarSourceArgs(
            field_ref=k8s.core.v1.ObjectFieldSelectorArgs(field_path="metadata.name")))


def gateway_identity_env(namespace: str, cluster_domain: str, engine: EngineBinaries) -> list[k8s.core.v1.EnvVarArgs]:
    """What pod_scripts/common.sh's load_cluster_identity checks, for the gateway's pods and the
    topology Job alike: the pod's own name (from its metadata), where the gateway's pods are, and
    the binaries of the engine. The namespace is a literal, not a fieldRef: the program knows it,
    and rendered manifests then show the value the scripts will use."""
    return [pod_name_env(), *literal_env({
        "POD_NAMESPACE": namespace,
        "STATEFULSET_NAME": names.GATEWAY,
        "HEADLESS_SERVICE": names.GATEWAY_HEADLESS_SERVICE,
        "CLUSTER_DOMAIN": cluster_domain,
        "MASTER_SET": names.MASTER_SET,
        "REDIS_PORT": names.REDIS_PORT,
        "SENTINEL_PORT": names.SENTINEL_PORT,
        **engine.env(),
    })]


def topology_start_env() -> list[k8s.core.v1.EnvVarArgs]:
    """The topology ConfigMap's keys as variables (names.topology_env), for the start scripts: the
    kubelet resolves them at each container start, while it refreshes a mounted ConfigMap only at
    the pod's next sync (pod_scripts/common.sh, topology_as_at_container_start). References, not
    values: the pod template is the same for every pod count, so a scale rolls no pod."""
    return [k8s.core.v1.EnvVarArgs(
        name=names.topology_env(key),
        value_from=k8s.core.v1.EnvVarSourceArgs(
            config_map_key_ref=k8s.core.v1.ConfigMapKeySelectorArgs(name=names.GATEWAY_TOPOLOGY_CONFIG_MAP, key=key)))
        for key in names.TOPOLOGY_KEYS]


def secret_env(variable: str, secret_name: str, key: str) -> k8s.core.v1.EnvVarArgs:
    """An env var read from a Secret, so the value never appears in the pod spec."""
    return k8s.core.v1.EnvVarArgs(
        name=variable,
        value_from=k8s.core.v1.EnvVarSourceArgs(
            secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=secret_name, key=key)),
    )


def with_accepted(current: Mapping[str, pulumi.Input[str]],
                  accepted: Mapping[str, Optional[pulumi.Input[str]]]) -> dict[str, pulumi.Input[str]]:
    """A Secret's data: `current` (Secret key -> password) and, under each key's twin
    (names.accepted_secret_key), its rotation's second password from `accepted`, where a window
    is open (None: none)."""
    return {**current, **{names.accepted_secret_key(key): value for key, value in accepted.items()
                          if value is not None}}


def accepted_secret_env(checked: Mapping[str, str], secret_name: str,
                        secret_keys: Sequence[str] | frozenset[str]) -> list[k8s.core.v1.EnvVarArgs]:
    """`<VARIABLE>_ACCEPTED` for each password a container checks (`checked`: variable -> Secret
    key) whose twin the Secret holds (`secret_keys`): the second password its server accepts."""
    return [secret_env(names.accepted_env(variable), secret_name, names.accepted_secret_key(key))
            for variable, key in checked.items() if names.accepted_secret_key(key) in secret_keys]


def exec_probe(command: Sequence[str], *, period: int, timeout: int, failures: int,
               initial_delay: Optional[int] = None) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(
        exec_=k8s.core.v1.ExecActionArgs(command=list(command)),
        period_seconds=period, timeout_seconds=timeout, failure_threshold=failures,
        initial_delay_seconds=initial_delay,
    )


def tcp_probe(port: int, *, period: int, timeout: int, failures: int,
              initial_delay: Optional[int] = None) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(
        tcp_socket=k8s.core.v1.TCPSocketActionArgs(port=port),
        period_seconds=period, timeout_seconds=timeout, failure_threshold=failures,
        initial_delay_seconds=initial_delay,
    )


def tmp_volume() -> k8s.core.v1.VolumeArgs:
    """Scratch space: the root filesystem is read-only."""
    return k8s.core.v1.VolumeArgs(
        name=TMP_VOLUME, empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=TMP_SIZE_LIMIT))


def tmp_mount() -> k8s.core.v1.VolumeMountArgs:
    return k8s.core.v1.VolumeMountArgs(name=TMP_VOLUME, mount_path=names.TMP_DIR)


def config_map_volume(volume: str, config_map: str, mode: int) -> k8s.core.v1.VolumeArgs:
    return k8s.core.v1.VolumeArgs(
        name=volume,
        config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=config_map, default_mode=mode),
    )


def pod_annotations(config_checksum: str, salt: str,
                    passwords: Mapping[str, pulumi.Input[str]]) -> dict[str, pulumi.Input[str]]:
    """The pod template's annotations: the checksum of its non-secret files and, when the pod
    holds passwords (`passwords`: name -> password, every one it sends or accepts), their digest
    (checksum.password_checksum, salted with `salt`). Either changes the template, so the pods
    roll. The digest is unsecreted: a secret value anywhere in the spec makes the engine keep
    the whole spec secret, and previews would show no diff of it; the digest, salted and slow
    over every password of the pod, is made to be shown."""
    annotations: dict[str, pulumi.Input[str]] = {names.CHECKSUM_ANNOTATION: config_checksum}
    if passwords:
        digest = pulumi.Output.all(**passwords).apply(lambda values: password_checksum(salt, values))
        annotations[names.PASSWORDS_ANNOTATION] = pulumi.Output.unsecret(digest)
    return annotations


# The gateway's scripts and topology ConfigMaps, as the gateway pods and the script Jobs mount them.
SCRIPTS_VOLUME = "scripts"
TOPOLOGY_VOLUME = "topology"


def gateway_script_job_pod(container: str, image: str, pull_policy: str, script: str,
                           env: Sequence[k8s.core.v1.EnvVarArgs], resources: k8s.core.v1.ResourceRequirementsArgs,
                           extra_volumes: Sequence[tuple[k8s.core.v1.VolumeArgs, str]] = ()) -> k8s.core.v1.PodSpecArgs:
    """The pod of a Job that runs one gateway script (the topology Job, the backups): the scripts
    and the topology ConfigMaps mounted as in the gateway pods, scratch /tmp, `extra_volumes`
    (volume, mount path) besides, the pods' user and no service account token."""
    return k8s.core.v1.PodSpecArgs(
        restart_policy="Never",
        automount_service_account_token=False,
        enable_service_links=False,
        security_context=pod_security_context(names.REDIS_UID),
        dns_config=short_dns_timeouts(),
        containers=[k8s.core.v1.ContainerArgs(
            name=container,
            image=image,
            image_pull_policy=pull_policy,
            command=["sh", f"{names.SCRIPTS_DIR}/{script}"],
            env=list(env),
            resources=resources,
            security_context=container_security_context(),
            volume_mounts=[
                k8s.core.v1.VolumeMountArgs(name=SCRIPTS_VOLUME, mount_path=names.SCRIPTS_DIR, read_only=True),
                k8s.core.v1.VolumeMountArgs(name=TOPOLOGY_VOLUME, mount_path=names.TOPOLOGY_DIR, read_only=True),
                *(k8s.core.v1.VolumeMountArgs(name=volume.name, mount_path=path) for volume, path in extra_volumes),
                tmp_mount(),
            ],
        )],
        volumes=[
            config_map_volume(SCRIPTS_VOLUME, names.GATEWAY_SCRIPTS_CONFIG_MAP, EXECUTABLE_MODE),
            config_map_volume(TOPOLOGY_VOLUME, names.GATEWAY_TOPOLOGY_CONFIG_MAP, READ_ONLY_MODE),
            *(volume for volume, _ in extra_volumes),
            tmp_volume(),
        ],
    )
