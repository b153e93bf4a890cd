"""The namespace: shared with other platform services, so by default used, not owned.

`platform.createNamespace` (dev and lab clusters) creates it; deleting a namespace deletes every
PVC in it, so a created namespace is protected whenever `platform.protectData` is on.
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from stack_config import StackConfig, names, namespace_delete_seconds

# A namespace we own enforces what our pods promise: Pod Security "restricted".
POD_SECURITY_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


def ensure_namespace(cfg: StackConfig, opts: Optional[pulumi.ResourceOptions] = None
                     ) -> Optional[k8s.core.v1.Namespace]:
    """The Namespace resource when the stack owns it, else None (it must exist already)."""
    if not cfg.platform.create_namespace:
        return None
    return k8s.core.v1.Namespace(
        "namespace",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=cfg.platform.namespace,
            labels={names.LABEL_PART_OF: "kubernaut", names.LABEL_MANAGED_BY: "pulumi", **POD_SECURITY_LABELS},
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            protect=cfg.platform.protect_data,
            # The provider awaits only a namespace's deletion (everything in it goes first).
            custom_timeouts=pulumi.CustomTimeouts(delete=f"{namespace_delete_seconds(cfg)}s"))),
    )
