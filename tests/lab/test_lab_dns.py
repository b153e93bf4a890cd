"""The lab's cluster DNS (lab/dns.py): a real dnsmasq, queried over UDP as a pod's resolver would.

It listens on a loopback address here, so no podman network is needed; the lab runs the same
command on its network's gateway address.
"""

from __future__ import annotations

import random
import socket
import struct
import time

import pytest

from lab.dns import ClusterDns, stop_strays
from lab.errors import LabError

LISTEN_IP = "127.0.88.1"
DOMAIN = "cluster.test"
NOERROR, NXDOMAIN, REFUSED = 0, 3, 5


def query(name: str, timeout: float = 2.0) -> tuple[int, list[str], float]:
    """One A query: (rcode, addresses, seconds)."""
    ident = random.randrange(1 << 16)
    question = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    packet = struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0) + question + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        started = time.monotonic()
        sock.sendto(packet, (LISTEN_IP, 53))
        reply = sock.recv(4096)
        seconds = time.monotonic() - started
    assert struct.unpack(">H", reply[:2])[0] == ident
    answers = struct.unpack(">H", reply[6:8])[0]
    # Each answer here is a compressed name pointer (2), type, class, ttl, rdlength, then the IPv4.
    offset, addresses = 12 + len(question) + 4, []
    for _ in range(answers):
        rdlength = struct.unpack(">H", reply[offset + 10:offset + 12])[0]
        addresses.append(socket.inet_ntoa(reply[offset + 12:offset + 12 + rdlength]))
        offset += 12 + rdlength
    return reply[3] & 0x0F, addresses, seconds


def wait_for(name: str, expected_rcode: int, timeout: float = 5.0) -> tuple[int, list[str], float]:
    deadline = time.monotonic() + timeout
    while True:
        answer = query(name)
        if answer[0] == expected_rcode or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


@pytest.fixture
def dns(tmp_path):
    server = ClusterDns(tmp_path, LISTEN_IP, DOMAIN)
    server.start()
    yield server
    server.stop()


def test_records_follow_the_pods_and_unknown_cluster_names_are_nxdomain_at_once(dns):
    dns.publish("lab-web-0", "10.0.0.5", ["web-0.web.ns.svc.cluster.test", "web.ns.svc.cluster.test"])
    dns.publish("lab-web-1", "10.0.0.6", ["web-1.web.ns.svc.cluster.test", "web.ns.svc.cluster.test"])
    assert wait_for("web-0.web.ns.svc.cluster.test", NOERROR)[:2] == (NOERROR, ["10.0.0.5"])
    rcode, addresses, _ = wait_for("web.ns.svc.cluster.test", NOERROR)
    assert rcode == NOERROR and sorted(addresses) == ["10.0.0.5", "10.0.0.6"]

    # A recreated pod: its new IP replaces the old one.
    dns.publish("lab-web-0", "10.0.0.9", ["web-0.web.ns.svc.cluster.test", "web.ns.svc.cluster.test"])
    deadline = time.monotonic() + 5
    while query("web-0.web.ns.svc.cluster.test")[1] != ["10.0.0.9"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert query("web-0.web.ns.svc.cluster.test")[1] == ["10.0.0.9"]

    # A removed pod: its name is gone, and the answer comes at once, with nothing forwarded.
    dns.withdraw("lab-web-0")
    assert wait_for("web-0.web.ns.svc.cluster.test", NXDOMAIN)[0] == NXDOMAIN
    answers = [query(f"gone-{i}.web.ns.svc.cluster.test") for i in range(200)]
    assert {rcode for rcode, _, _ in answers} == {NXDOMAIN}
    slowest = max(seconds for _, _, seconds in answers)
    assert slowest < 0.5, f"slowest NXDOMAIN answer took {slowest:.3f} s"
    assert query("web.ns.svc.cluster.test")[1] == ["10.0.0.6"]


def test_names_outside_the_cluster_domain_are_not_forwarded(dns):
    rcode, addresses, _ = query("pypi.org")
    assert (rcode, addresses) == (REFUSED, [])


def test_a_stray_server_of_a_lab_directory_is_stopped(tmp_path):
    server = ClusterDns(tmp_path, LISTEN_IP, DOMAIN)
    server.start()
    assert stop_strays(tmp_path) == [f"dnsmasq pid {server.process.pid}"]
    assert server.process.wait(timeout=5) is not None
    assert stop_strays(tmp_path) == []


def test_a_busy_address_is_a_clear_error(dns, tmp_path):
    second = ClusterDns(tmp_path / "second", LISTEN_IP, DOMAIN)
    with pytest.raises(LabError, match=r"did not start: .*"):
        second.start()
