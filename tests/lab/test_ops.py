"""`python -m ops`, the operators' commands of the README, against the lab stack."""

from __future__ import annotations

import json

import pytest

from ops.__main__ import main


@pytest.fixture
def operator_shell(lab_cluster, gateway, monkeypatch):
    """The environment the README gives operators of the lab (python -m labcluster env)."""
    for key, value in lab_cluster.env().items():
        monkeypatch.setenv(key, value)
    return gateway


def test_status_names_the_master_every_sentinel_agrees_on(operator_shell, capsys):
    gateway = operator_shell
    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["problems"] == []
    roles = gateway.roles()
    assert [pod for pod, role in roles.items() if role == "master"] == [status["master"]]
    assert {s["master"] for s in status["sentinels"]} == {status["master"]}
    assert {n["pod"]: n["role"] for n in status["nodes"]} == roles
    assert all(n["link"] == "up" and n["master"] == status["master"] for n in status["nodes"] if n["role"] == "slave")
    assert all(s["quorum_ok"] and s["other_sentinels"] == 2 and s["replicas"] == 2 for s in status["sentinels"])
    assert main(["status"]) == 0
    table = capsys.readouterr().out
    assert f"master: {status['master']}" in table and "problem:" not in table


def test_switchover_refuses_the_master_itself_and_an_unknown_pod(operator_shell, capsys):
    assert main(["status", "--json"]) == 0
    master = json.loads(capsys.readouterr().out)["master"]
    assert main(["switchover", "--to", master]) == 1
    assert f"{master} is the master already" in capsys.readouterr().err
    assert main(["switchover", "--to", "redis-gateway-7"]) == 1
    assert "redis-gateway-7 is not a linked replica" in capsys.readouterr().err
    assert main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["master"] == master
