"""The smoke check as a Kubernetes Job in the stack's namespace, the way docs/lab.md tells users
to run it: the `smoke` package and the stack outputs in a ConfigMap, passwords from the stack's
Secrets (secretKeyRef), the client image. Pure: objects in, objects out; no cluster access.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

JOB_NAME = "kubernaut-redis-smoke"
SOURCE_DIR = "/opt/kubernaut-redis/src"
OUTPUTS_FILE = "outputs.json"
# Covers CoreDNS' usual cache (30 s) of a recreated pod's old address, with room.
WAIT_SECONDS = 60


def settings_flags(redis_settings: Optional[Mapping[str, str]],
                   sentinel_settings: Optional[Mapping[str, str]]) -> list[str]:
    """`python -m smoke` flags that give the settings every gateway node and sentinel must run."""
    flags = []
    for flag, settings in (("--redis-setting", redis_settings), ("--sentinel-setting", sentinel_settings)):
        for key, value in (settings or {}).items():
            flags += [flag, f"{key}={value}"]
    return flags


def smoke_job(namespace: str, image: str, outputs: Mapping[str, Any], cache_policy: Optional[str],
              cache_maxmemory: Optional[str], secret_env: Sequence[tuple[str, str, str]],
              name: str = JOB_NAME, pull_policy: str = "IfNotPresent",
              redis_settings: Optional[Mapping[str, str]] = None,
              sentinel_settings: Optional[Mapping[str, str]] = None,
              pod_labels: Optional[Mapping[str, str]] = None) -> list[dict[str, Any]]:
    """ConfigMap + Job. `secret_env`: (variable, secret name, key) for each password to check;
    `redis_settings`/`sentinel_settings`: what the gateway's nodes must run (drift otherwise);
    `pod_labels`: more labels of the Job's pod (the network policies' access labels)."""
    package = Path(__file__).resolve().parent
    files = {p.name: p.read_text() for p in sorted(package.glob("*.py"))}
    files[OUTPUTS_FILE] = json.dumps(outputs, indent=1, sort_keys=True)
    command = ["python3", "-m", "smoke", "--stack-outputs", f"{SOURCE_DIR}/smoke/{OUTPUTS_FILE}",
               "--wait", str(WAIT_SECONDS)]
    if cache_policy is not None and cache_maxmemory is not None:
        command += ["--cache-maxmemory-policy", cache_policy, "--cache-maxmemory", cache_maxmemory]
    command += settings_flags(redis_settings, sentinel_settings)
    env = [{"name": "PYTHONPATH", "value": SOURCE_DIR}, {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}]
    env += [{"name": variable, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
            for variable, secret, key in secret_env]
    labels = {"app.kubernetes.io/name": "kubernaut-redis-smoke", "app.kubernetes.io/part-of": "kubernaut"}
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace, "labels": labels},
         "data": files},
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": namespace, "labels": labels},
         "spec": {
             "backoffLimit": 0, "ttlSecondsAfterFinished": 3600, "activeDeadlineSeconds": 300,
             "template": {"metadata": {"labels": {**labels, **(pod_labels or {})}}, "spec": {
                 "restartPolicy": "Never", "automountServiceAccountToken": False,
                 "dnsConfig": {"options": [{"name": "timeout", "value": "1"}, {"name": "attempts", "value": "5"}]},
                 "securityContext": {"runAsNonRoot": True, "runAsUser": 999, "runAsGroup": 999,
                                     "seccompProfile": {"type": "RuntimeDefault"}},
                 "containers": [{
                     "name": "smoke", "image": image, "imagePullPolicy": pull_policy, "workingDir": SOURCE_DIR,
                     "command": command, "env": env,
                     "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
                     "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                         "capabilities": {"drop": ["ALL"]}},
                     "volumeMounts": [{"name": "smoke", "mountPath": f"{SOURCE_DIR}/smoke", "readOnly": True}],
                 }],
                 "volumes": [{"name": "smoke", "configMap": {"name": name}}],
             }}}},
    ]
