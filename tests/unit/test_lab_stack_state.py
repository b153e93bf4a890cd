"""The lab stack's private state follows the lab cluster: state applied to a cluster that has
since been made anew (a new CA) is forgotten, since its objects went with that cluster and the
provider could not reach them to delete them; the passwords stay."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from lab.stack import LabStack, StackError


def kubeconfig(path: Path, ca: str) -> Path:
    path.write_text(yaml.safe_dump({"clusters": [{"name": "lab", "cluster": {
        "server": "https://10.201.0.1:6443", "certificate-authority-data": base64.b64encode(ca.encode()).decode()}}]}))
    return path


def seeded(tmp_path: Path, ca: str) -> LabStack:
    stack = LabStack(kubeconfig(tmp_path / f"{ca}.kubeconfig", ca), root=tmp_path / "root", echo=lambda _: None)
    (stack.root / "state").mkdir(parents=True, exist_ok=True)
    (stack.root / "state" / "stack.json").write_text("{}")
    (stack.root / "secrets").mkdir(exist_ok=True)
    (stack.root / "secrets" / "gatewayRedisPassword").write_text("kept")
    return stack


def test_state_of_the_same_cluster_is_kept(tmp_path):
    stack = seeded(tmp_path, "ca-one")
    stack._forget_state_of_another_cluster()
    stack._forget_state_of_another_cluster()
    assert (stack.root / "state" / "stack.json").exists()


def test_state_of_a_cluster_made_anew_is_forgotten_and_the_passwords_kept(tmp_path):
    seeded(tmp_path, "ca-one")._forget_state_of_another_cluster()
    said = []
    anew = LabStack(kubeconfig(tmp_path / "two.kubeconfig", "ca-two"), root=tmp_path / "root", echo=said.append)
    anew._forget_state_of_another_cluster()
    assert not (anew.root / "state").exists()
    assert (anew.root / "secrets" / "gatewayRedisPassword").read_text() == "kept"
    assert said and "made anew" in said[0]
    assert anew.cluster_id() != LabStack(tmp_path / "ca-one.kubeconfig").cluster_id()


def test_a_rotated_password_becomes_the_stacks_own(tmp_path):
    """After a rotation's switch the lab stack must deploy the new password on every later run:
    going back to the old one would be refused by the rotation guard."""
    stack = seeded(tmp_path, "ca-one")
    stack.keep_secret("gatewayRedisPassword", "rotated")
    assert stack.passwords()["gatewayRedisPassword"] == "rotated"
    assert (stack.root / "secrets" / "gatewayRedisPassword").stat().st_mode & 0o777 == 0o600
    with pytest.raises(StackError):
        stack.keep_secret("gatewayRedisPasswordAccepted", "rotated")
