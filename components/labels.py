"""Labels and selectors (docs/architecture.md, "Labels on every object").

Selectors use only name/instance/component: `spec.selector` is immutable, so nothing that can
change (version, config) may ever be part of it.
"""

from __future__ import annotations

from stack_config import names


def selector_labels(instance: str, component: str) -> dict[str, str]:
    return {
        names.LABEL_NAME: "redis",
        names.LABEL_INSTANCE: instance,
        names.LABEL_COMPONENT: component,
    }


def object_labels(instance: str, component: str, app: str) -> dict[str, str]:
    """Every label of an object: the selector labels, the recommended ones and `app` (the
    workload's own name), which the operational commands of the previous deployment select on:
    `kubectl get pods -l app=redis-gateway` lists the three Redis pods and nothing else."""
    return {
        **selector_labels(instance, component),
        names.LABEL_PART_OF: "kubernaut",
        names.LABEL_MANAGED_BY: "pulumi",
        names.LABEL_APP: app,
    }
