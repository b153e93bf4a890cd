"""Operators' commands for a deployed stack (`python -m ops`): who is master, the state of each
gateway node and sentinel, and a fenced planned switchover. They reach the cluster through the
`cluster` interface (kubectl exec into the pods: nothing needs a network path to Redis)."""

from .gateway import GatewayOps, GatewayStatus, NodeStatus, SentinelStatus, SwitchoverError

__all__ = ["GatewayOps", "GatewayStatus", "NodeStatus", "SentinelStatus", "SwitchoverError"]
