"""Constants shared by the unit tests."""

from __future__ import annotations

STACKS = ("dev", "prod", "lab")
# Gateway auth is on in every stack file; dev is the only stack allowed to switch it off.
DEV_WITHOUT_AUTH = {"gateway.auth.enabled": False, "gateway.auth.sentinel": False}
# Distinctive, so that a leak is found by a plain substring search anywhere.
PASSWORDS = {
    "gatewayRedisPassword": "gw-redis-pw-5f2c91d7e4",
    "gatewaySentinelPassword": "gw-sentinel-pw-a83b06c2f1",
    "contextCachePassword": "cache-pw-77d1e0b9c3",
    "gatewayOperatorPassword": "gw-operator-pw-9d41c7a2b8",
    "contextCacheOperatorPassword": "cache-operator-pw-4e8a1c6f20",
    "kubeconfig": """\
apiVersion: v1
kind: Config
clusters:
- name: kubeconfig-marker-0c9e2b
  cluster:
    server: https://203.0.113.10:6443
    certificate-authority-data: a3ViZWNvbmZpZy1jYS1tYXJrZXI=
users:
- name: admin
  user:
    client-certificate-data: a3ViZWNvbmZpZy1jZXJ0LW1hcmtlcg==
    client-key-data: a3ViZWNvbmZpZy1rZXktbWFya2Vy
contexts:
- name: lab
  context: {cluster: kubeconfig-marker-0c9e2b, user: admin}
current-context: lab
""",
}


def acl_passwords(passwords: dict[str, str] = PASSWORDS) -> dict[str, str]:
    """ACL user -> password of the gateway's internal users, as the program derives them."""
    from stack_config import internal_passwords
    return internal_passwords(passwords["gatewayRedisPassword"], passwords.get("gatewayOperatorPassword"))


def cache_acl_passwords(passwords: dict[str, str] = PASSWORDS, auth: bool = True) -> dict[str, str]:
    """ACL user -> password of the cache's internal users, as the program derives them."""
    from stack_config import CACHE_PASSWORDS
    return CACHE_PASSWORDS.internal_passwords(passwords["contextCachePassword"] if auth else None,
                                              passwords.get("contextCacheOperatorPassword"))


def record_registered_types(monkeypatch) -> list[str]:
    """The type of every resource the mocks are asked to register from now on (a refused run must
    register no Kubernetes object and no provider)."""
    from tools import pulumi_mock_run

    registered: list[str] = []
    original = pulumi_mock_run.RecordingMocks.new_resource

    def recording(self, args):
        registered.append(args.typ)
        return original(self, args)

    monkeypatch.setattr(pulumi_mock_run.RecordingMocks, "new_resource", recording)
    return registered
