"""TopologyJob: applies the gateway's pod count and quorum to the running sentinels.

The pod count is not in the gateway's pod template (ConfigMap redis-gateway-topology, mounted
apart from the checksummed config), so `gateway.replicas` 3 -> 5 -> 3 adds or removes pods without
rolling the others. What the running pods cannot do for themselves is done by this Job, which
`pulumi up` runs after the StatefulSet has its pods and waits for: every sentinel gets the
topology's quorum, and those that still know pods a scale-in removed forget them
(pod_scripts/topology-reconcile.sh says how and why). A failed Job fails `pulumi up`.

The Job's name carries a digest of what it applies (pod count, quorum, image, engine): the same
topology is applied once; a new one replaces the Job. Finished Jobs are kept (no TTL): the
provider would otherwise find its Job gone and create it again at the next `pulumi up`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

from stack_config import EngineBinaries, names

from .labels import object_labels
from .pod_spec import gateway_identity_env, gateway_script_job_pod, secret_env

TYPE_TOKEN = "kubernaut:redis:TopologyJob"
# The script's own bounds (pod_scripts/topology-reconcile.sh; tests/unit keep them equal): how long
# the sentinels may take to answer, removed pods to be judged down, and, per sentinel, how long a running failover may
# delay its reset and how long it may take to relearn its peers. A Job still running after them
# all, plus a pod's start, is stuck.
ANSWER_WAIT_SECONDS = 120
GHOST_DOWN_WAIT_SECONDS = 120
RELEARN_WAIT_SECONDS = 60
JOB_START_SECONDS = 60
RESOURCES = k8s.core.v1.ResourceRequirementsArgs(
    requests={"cpu": "10m", "memory": "16Mi"}, limits={"cpu": "200m", "memory": "64Mi"})


@dataclass(frozen=True)
class TopologyJobArgs:
    """Only what the Job needs: where the pods are, what to apply, how to reach the sentinels."""

    namespace: str
    cluster_domain: str
    replicas: int
    quorum: int
    image: str
    pull_policy: str
    engine: EngineBinaries
    # Sentinel's own password (gateway.auth.sentinel): Secret key of redis-gateway-auth, or None.
    sentinel_password_key: Optional[str] = None

    @property
    def deadline_seconds(self) -> int:
        return (JOB_START_SECONDS + ANSWER_WAIT_SECONDS + GHOST_DOWN_WAIT_SECONDS
                + self.replicas * 2 * RELEARN_WAIT_SECONDS)

    @property
    def job_name(self) -> str:
        applied = json.dumps([self.replicas, self.quorum, self.image, self.engine.env()], sort_keys=True)
        return f"{names.GATEWAY_TOPOLOGY_JOB}-{hashlib.sha256(applied.encode()).hexdigest()[:10]}"


class TopologyJob(pulumi.ComponentResource):
    job_name: pulumi.Output[str]

    def __init__(self, name: str, args: TopologyJobArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        labels = object_labels(names.GATEWAY, names.COMPONENT_TOPOLOGY, names.GATEWAY_TOPOLOGY_JOB)
        # POD_NAME only names the Job's pod in the script's log lines.
        env = gateway_identity_env(args.namespace, args.cluster_domain, args.engine)
        if args.sentinel_password_key:
            env.append(secret_env("SENTINEL_PASSWORD", names.GATEWAY_AUTH_SECRET, args.sentinel_password_key))
        job = k8s.batch.v1.Job(
            f"{name}-job",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.job_name, namespace=args.namespace, labels=labels),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=1,
                active_deadline_seconds=args.deadline_seconds,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=gateway_script_job_pod("topology", args.image, args.pull_policy,
                                                names.TOPOLOGY_RECONCILE_SCRIPT, env, RESOURCES),
                ),
            ),
            # The provider waits for the Job to complete (and fails `pulumi up` if it fails); its
            # own default wait (10 minutes) would end before the Job's deadline with many pods.
            opts=pulumi.ResourceOptions(
                parent=self, custom_timeouts=pulumi.CustomTimeouts(create=f"{args.deadline_seconds + 30}s")),
        )
        self.job_name = job.metadata.name
        self.register_outputs({"jobName": self.job_name})
