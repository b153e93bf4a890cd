"""The num-other-sentinels check names the peers a sentinel knows when its count is wrong: a ghost
(an address or run id that is not one of the pods') is then visible in the failure itself."""

from __future__ import annotations

import redis

from smoke.invariants import FAIL, PASS, View, check_num_other_sentinels
from smoke.targets import Address, Passwords, Targets

SENTINELS = tuple(Address(f"redis-gateway-{n}.headless", 26379) for n in range(3))


def _peer(host: str, runid: str) -> list[str]:
    return ["name", runid, "ip", host, "port", "26379", "runid", runid, "flags", "sentinel"]


class FakeSentinel:
    def __init__(self, peers):
        self.peers = peers

    def execute_command(self, *args):
        assert args[:2] == ("SENTINEL", "SENTINELS") and args[2] == "gateway-master", args
        if isinstance(self.peers, Exception):
            raise self.peers
        return self.peers


def _view(counts: list[int], peers_of_first) -> View:
    view = View(Targets(sentinels=SENTINELS, master_set="gateway-master", replicas=3), Passwords())
    view.sentinel_info = {str(a): {"num-other-sentinels": str(n)} for a, n in zip(SENTINELS, counts)}
    view.sentinel = lambda address: FakeSentinel(peers_of_first if address == SENTINELS[0] else AssertionError())
    return view


def test_a_ghost_peer_is_named_in_the_failure():
    peers = [_peer("redis-gateway-1.headless", "a" * 40), _peer("redis-gateway-2.headless", "b" * 40),
             _peer("10.244.0.9", "c" * 40)]
    check = check_num_other_sentinels(_view([3, 2, 2], peers))
    assert check.status == FAIL
    assert "redis-gateway-0.headless:26379: num-other-sentinels 3, expected 2" in check.detail
    assert "knows: redis-gateway-1.headless:26379 aaaaaaaa sentinel" in check.detail
    assert "10.244.0.9:26379 cccccccc sentinel" in check.detail
    assert list(check.data["known"]) == ["redis-gateway-0.headless:26379"]


def test_a_sentinel_that_cannot_list_its_peers_is_still_a_failure_with_the_reason():
    check = check_num_other_sentinels(_view([1, 2, 2], redis.ConnectionError("refused")))
    assert check.status == FAIL
    assert "SENTINEL SENTINELS failed: refused" in check.detail


def test_right_counts_pass_without_asking_for_the_peers():
    check = check_num_other_sentinels(_view([2, 2, 2], AssertionError("not asked")))
    assert check.status == PASS and "known" not in check.data
