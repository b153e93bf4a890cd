"""The namespace: shared with other platform services, so by default used, not owned.

`platform.createNamespace` (dev and lab clusters) creates it; deleting a namespace deletes every
PVC in it, so a created namespace is protected whenever `platform.protectData` is on.

A namespace we own enforces the Pod Security level our pods meet: "restricted", or "baseline"
while `gateway.persistence.volumePermissions` runs its root init container; it then still warns
about and audits every pod that is not "restricted", so nothing else slips in unnoticed.
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from stack_config import POD_SECURITY_RESTRICTED, StackConfig, names, namespace_delete_seconds, pod_security_level

POD_SECURITY_LABEL_PREFIX = "pod-security.kubernetes.io/"


def pod_security_labels(level: str) -> dict[str, str]:
    """Enforce `level`; below "restricted", warn about and audit what "restricted" would refuse."""
    modes = {"enforce": level}
    if level != POD_SECURITY_RESTRICTED:
        modes.update(warn=POD_SECURITY_RESTRICTED, audit=POD_SECURITY_RESTRICTED)
    labels = {}
    for mode, mode_level in modes.items():
        labels[f"{POD_SECURITY_LABEL_PREFIX}{mode}"] = mode_level
        labels[f"{POD_SECURITY_LABEL_PREFIX}{mode}-version"] = "latest"
    return labels


def ensure_namespace(cfg: StackConfig, opts: Optional[pulumi.ResourceOptions] = None
                     ) -> Optional[k8s.core.v1.Namespace]:
    """The Namespace resource when the stack owns it, else None (it must exist already)."""
    if not cfg.platform.create_namespace:
        return None
    return k8s.core.v1.Namespace(
        "namespace",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=cfg.platform.namespace,
            labels={names.LABEL_PART_OF: "kubernaut", names.LABEL_MANAGED_BY: "pulumi",
                    **pod_security_labels(pod_security_level(cfg))},
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            protect=cfg.platform.protect_data,
            # The provider awaits only a namespace's deletion (everything in it goes first).
            custom_timeouts=pulumi.CustomTimeouts(delete=f"{namespace_delete_seconds(cfg)}s"))),
    )
