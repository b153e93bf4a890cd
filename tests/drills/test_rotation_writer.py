"""drills.rotation_writer without a server: passwords from stdin, and what counts as a failed write."""

from __future__ import annotations

import io

import redis

from drills import rotation_writer


class FakeRedis:
    """Takes `accepted` passwords; `broken` connections fail as a handover's cut ones do."""

    accepted: set[str] = set()
    broken = 0
    written: list[str] = []

    def __init__(self, password=None, **_):
        self.password = password

    def set(self, key, value):
        if FakeRedis.broken:
            FakeRedis.broken -= 1
            raise redis.ConnectionError("Connection closed by server.")
        if self.password not in FakeRedis.accepted:
            raise redis.AuthenticationError("WRONGPASS invalid username-password pair or user is disabled.")
        FakeRedis.written.append(key)

    def close(self):
        pass


def _writer(monkeypatch, passwords: str, accepted: set[str], broken: int = 0) -> rotation_writer.Writer:
    monkeypatch.setattr(rotation_writer.redis, "Redis", FakeRedis)
    monkeypatch.setattr(rotation_writer, "RETRY_PAUSE_SECONDS", 0.0)
    FakeRedis.accepted, FakeRedis.broken, FakeRedis.written = accepted, broken, []
    state = rotation_writer.Passwords()
    state.read(io.StringIO(passwords))
    args = rotation_writer.parse_args(["--host", "h", "--give-up-seconds", "5", "--prefix", "p"])
    return rotation_writer.Writer(args, state)


def test_the_last_password_line_is_the_one_sent(monkeypatch):
    writer = _writer(monkeypatch, "password old-one\npassword new-one\nnoise\n", {"new-one"})
    assert writer.passwords.get() == "new-one" and len(writer.passwords.changed_at) == 2
    assert writer.passwords.ended.is_set()
    writer.write(0)
    assert writer.result()["acked"] == 1 and FakeRedis.written == ["p:0"]


def test_a_refused_password_fails_the_write_at_once(monkeypatch):
    writer = _writer(monkeypatch, "password old-one\n", {"new-one"})
    writer.write(7)
    result = writer.result()
    assert result["failed"] == 1 and result["auth_failures"] == 1 and result["retried"] == 0
    assert result["failures"][0]["sequence"] == 7 and result["first_failure_at"] is not None


def test_a_cut_connection_is_retried_not_failed(monkeypatch):
    writer = _writer(monkeypatch, "password new-one\n", {"new-one"}, broken=3)
    writer.write(1)
    result = writer.result()
    assert result["acked"] == 1 and result["failed"] == 0 and result["retried"] == 3
