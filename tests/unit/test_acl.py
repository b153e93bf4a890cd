"""The Redis ACL users of the gateway and of the cache: their rules (redis_files/acl.py) and the
derived passwords (stack_config/acl.py). That each user can do its job on real servers, and is
refused the rest, is tests/pod_runtime's (test_gateway_pods.py, test_exporter.py; the cache's:
test_single_containers.py)."""

from __future__ import annotations

import hmac
import re

import pytest

import redis_files
from redis_files import acl
from stack_config import CACHE_PASSWORDS, GATEWAY_PASSWORDS, derived_password, internal_passwords, load_stack_config, names
from stack_config.keys import valid_password

from .support import PASSWORDS

RULES = redis_files.gateway_acl_rules()


def grants(user: str) -> set[str]:
    return {rule[1:] for rule in RULES[user].split() if rule.startswith("+") and not rule.startswith("+@")}


def test_every_user_has_rules_and_only_the_operator_has_everything():
    assert list(RULES) == ["default", *names.ACL_INTERNAL_USERS]
    assert [user for user, rules in RULES.items() if "+@all" in rules.split()] == ["operator"]
    for user, rules in RULES.items():
        if user != "operator":
            assert rules.split()[:2] == ["on", "~*"] or "resetkeys" in rules.split(), user
            assert "-@all" in rules.split(), f"{user} must start from no command"


# Issue 8: what the clients' user must never run.
FORBIDDEN_TO_CLIENTS = ("flushall", "flushdb", "config", "config|set", "debug", "shutdown", "replicaof", "slaveof",
                        "module", "acl", "client|kill", "client|pause", "keys", "eval", "save", "bgsave")


def test_the_clients_user_gets_the_kubernaut_commands_and_introspection_only():
    kubernaut = {"exists", "get", "set", "incr", "expire", "ttl", "del", "hset", "hget", "hgetall", "hincrby", "zadd",
                 "zremrangebyscore", "zcard", "zrange", "rpush", "llen", "lrange", "scan"}
    assert grants("default") == kubernaut | {"info", "ping", "role", "mget"}
    assert not set(FORBIDDEN_TO_CLIENTS) & grants("default")
    # The handshake (HELLO, SELECT, CLIENT SETINFO/SETNAME) by category, without admin or dangerous ones.
    assert RULES["default"].split()[3:7] == ["-@all", "+@connection", "-@admin", "-@dangerous"]
    assert "resetchannels" in RULES["default"].split() and "&" not in RULES["default"]


@pytest.mark.parametrize("user, needed", [
    ("replication", {"psync", "replconf", "ping"}),
    ("sentinel", {"slaveof", "replicaof", "config|rewrite", "client|kill", "multi", "exec", "publish", "subscribe",
                  "info", "role", "ping", "client|setname", "script|kill"}),
    ("pod", {"ping", "info", "dbsize", "config|set", "replicaof", "client|pause", "client|unpause", "client|kill"}),
    ("probe", {"ping", "info"}),
    ("exporter", {"ping", "info", "slowlog|get", "slowlog|len", "latency|latest", "latency|histogram"}),
])
def test_each_internal_user_gets_exactly_what_it_sends(user, needed):
    assert grants(user) == needed
    assert "~*" not in RULES[user].split()
    assert not {"flushall", "flushdb", "debug", "shutdown", "module", "acl", "config|get"} & grants(user)


def test_only_sentinel_has_a_channel_and_only_its_hello_channel():
    channels = {user: [rule for rule in rules.split() if rule.startswith("&")] for user, rules in RULES.items()}
    assert channels == {**{user: [] for user in RULES}, "sentinel": ["&__sentinel__:hello"], "operator": ["&*"]}


CONTAINER_COMMANDS = {"config", "client"}


def test_the_pod_scripts_send_no_command_beyond_the_pod_and_probe_users():
    """Every redis_cli call of the shipped scripts names a command the acting user holds (calls
    as `default` go to peers from before ACL users only, where that user may do anything)."""
    sent = set()
    for text in redis_files.gateway_scripts().values():
        text = "\n".join(line for line in text.splitlines() if "use_redis_user default" not in line)
        for match in re.finditer(r'redis_cli "(?:[^"$]|\$[A-Za-z_{}]+|\$\((?:[^()])*\))+" ([A-Z]+)(?: ([A-Z]+))?', text):
            command = match.group(1).lower()
            sent.add(f"{command}|{match.group(2).lower()}" if command in CONTAINER_COMMANDS else command)
    assert sent == {"ping", "info", "dbsize", "config|set", "replicaof", "client|pause", "client|unpause",
                    "client|kill"}, "the scripts' commands changed: give the pod user what they send"
    assert sent <= grants("pod") and sent <= grants("pod") | grants("probe")


def _config(auth: bool):
    return load_stack_config({} if auth else {"gateway": {"auth": {"enabled": False, "sentinel": False}}}, "dev")


def test_the_template_holds_no_password_and_needs_auth():
    text = redis_files.gateway_users_acl(_config(True))
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert len(lines) == len(RULES)
    for line in lines:
        assert line == f"user {line.split()[1]} {RULES[line.split()[1]]}"
        assert "#" not in line and ">" not in line
    with pytest.raises(ValueError):
        redis_files.gateway_users_acl(_config(False))


def test_a_migration_window_lets_the_clients_in_without_a_password_and_only_them():
    """gateway.auth.clientsWithoutPassword: `default` is nopass with the same commands; no other
    user changes, so the pods, Sentinel and the proxy still authenticate."""
    window = redis_files.gateway_acl_rules(clients_without_password=True)
    assert window["default"].split() == ["on", "nopass", *RULES["default"].split()[1:]]
    assert {user: rules for user, rules in window.items() if user != "default"} == \
        {user: rules for user, rules in RULES.items() if user != "default"}
    assert "nopass" not in " ".join(RULES.values())
    cfg = load_stack_config({"gateway": {"auth": {"clientsWithoutPassword": True}}}, "prod")
    assert "user default on nopass ~*" in redis_files.gateway_users_acl(cfg)


def test_derived_passwords_are_stable_distinct_and_accepted():
    first = internal_passwords("clients-password-123456", "operator-password-123456")
    assert first == internal_passwords("clients-password-123456", "operator-password-123456")
    assert first["operator"] == "operator-password-123456"
    assert len(set(first.values())) == len(first)
    assert all(valid_password(value) for value in first.values())
    # The seed is the operator's password: the clients' password changes none of them.
    assert first == internal_passwords("another-clients-password", "operator-password-123456")
    # Without one, the seed is the clients' password (documented, and warned about).
    fallback = internal_passwords("clients-password-123456", None)
    assert fallback["pod"] == derived_password("clients-password-123456", "pod") != first["pod"]
    assert fallback["operator"] == derived_password("clients-password-123456", "operator")
    with pytest.raises(ValueError):
        derived_password("x", "default")


def test_no_password_of_the_unit_fixtures_is_a_derived_one():
    assert not set(PASSWORDS.values()) & set(internal_passwords(PASSWORDS["gatewayRedisPassword"], None).values())


def test_rules_only_name_subcommands_every_engine_has():
    """A rule naming a subcommand the engine lacks stops it from starting: Redis 7.0 has no CLIENT
    SETINFO, so the handshake is granted by category; the subcommands named exist since 7.0."""
    named = {rule for rules in RULES.values() for rule in rules.split() if "|" in rule}
    assert named == {f"+{c}" for c in ("config|rewrite", "client|setname", "client|kill", "script|kill", "config|set",
                                      "client|pause", "client|unpause", "slowlog|get", "slowlog|len",
                                      "latency|latest", "latency|histogram")}
    assert not any("setinfo" in rules for rules in RULES.values())
    assert acl.SENTINEL_CHANNEL == "__sentinel__:hello"


# ---------------------------------------------------------------------------- the cache's users

def _cache_config(auth: bool):
    return load_stack_config({"contextCache": {"auth": {"enabled": auth}}}, "dev")


def cache_grants(rules: str) -> set[str]:
    return {rule[1:] for rule in rules.split() if rule.startswith("+") and not rule.startswith("+@")}


CACHE_CLIENT = {"get", "set", "del", "ping", "info", "role"}
EXPORTER = {"ping", "info", "slowlog|get", "slowlog|len", "latency|latest", "latency|histogram"}


@pytest.mark.parametrize("auth", [False, True], ids=["auth-off", "auth-on"])
def test_the_cache_clients_get_the_context_api_commands_and_read_only_introspection(auth):
    rules = redis_files.cache_acl_rules(_cache_config(auth), operator=False)
    default = rules["default"].split()
    # Without auth the probe and the exporter are `default` too: it also reads what the exporter reads.
    assert cache_grants(rules["default"]) == (CACHE_CLIENT if auth else CACHE_CLIENT | EXPORTER)
    assert not set(FORBIDDEN_TO_CLIENTS) & cache_grants(rules["default"])
    assert ("nopass" in default) == (not auth)
    assert default[default.index("-@all"):default.index("-@all") + 4] == list(acl.HANDSHAKE)
    assert "~*" in default and "resetchannels" in default and "+@all" not in default
    assert list(rules) == (["default", "probe", "exporter"] if auth else ["default"])


def test_the_cache_probe_and_exporter_users_with_auth():
    rules = redis_files.cache_acl_rules(_cache_config(True), operator=False)
    assert cache_grants(rules["probe"]) == {"ping"}
    assert cache_grants(rules["exporter"]) == EXPORTER == grants("exporter")
    for user in ("probe", "exporter"):
        assert rules[user].split()[:3] == ["on", "resetkeys", "resetchannels"], "no key, no channel"
        assert "nopass" not in rules[user].split()


@pytest.mark.parametrize("auth", [False, True], ids=["auth-off", "auth-on"])
def test_the_cache_operator_exists_only_with_its_password(auth):
    cfg = _cache_config(auth)
    assert "operator" not in redis_files.cache_acl_rules(cfg, operator=False)
    assert redis_files.cache_acl_rules(cfg, operator=True)["operator"] == RULES["operator"] == "on ~* &* +@all"


def test_the_cache_template_holds_no_password():
    for auth in (False, True):
        text = redis_files.cache_users_acl(_cache_config(auth), operator=True)
        lines = [line for line in text.splitlines() if not line.startswith("#")]
        assert [line.split()[1] for line in lines] == list(redis_files.cache_acl_rules(_cache_config(auth), True))
        assert not any("#" in line or ">" in line for line in lines)


def test_cache_passwords_are_derived_with_the_caches_own_context():
    seed = "cache-seed-password-123456"
    cache = CACHE_PASSWORDS.internal_passwords(seed, None)
    assert set(cache) == {"probe", "exporter"}
    assert all(valid_password(value) for value in cache.values())
    # The same seed gives the gateway's users other passwords: the context is the component's name.
    assert cache["probe"] != GATEWAY_PASSWORDS.derived_password(seed, "probe")
    assert cache["probe"] == CACHE_PASSWORDS.derived_password(seed, "probe")
    # The gateway's passwords are those of before the generalisation (deployed pods keep theirs).
    assert derived_password(seed, "probe") == GATEWAY_PASSWORDS.derived_password(seed, "probe") == \
        hmac.new(seed.encode(), b"redis-gateway/probe", "sha256").hexdigest()
    # With the operator's password it is the seed, and `operator` is that password.
    with_operator = CACHE_PASSWORDS.internal_passwords(seed, "cache-operator-pw-123456")
    assert with_operator["operator"] == "cache-operator-pw-123456"
    assert with_operator["probe"] == CACHE_PASSWORDS.derived_password("cache-operator-pw-123456", "probe")
    # Without auth there are no derived users: the clients' `default` does their jobs.
    assert CACHE_PASSWORDS.internal_passwords(None, "cache-operator-pw-123456") == {
        "operator": "cache-operator-pw-123456"}
    assert CACHE_PASSWORDS.internal_passwords(None, None) == {}
    with pytest.raises(ValueError):
        CACHE_PASSWORDS.derived_password(seed, "operator")
