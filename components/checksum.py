"""The pod-template checksum that rolls pods when their configuration changes.

ConfigMaps are updated in place (the provider runs with enableConfigMapMutable), which by itself
restarts nothing; hashing the files the pods mount into a pod-template annotation makes any
change of their text a template change, hence a rolling update. Only non-secret files go in:
a password change must not be derivable from this checksum. Passwords have a digest of their own
(password_checksum), salted and slow.
"""

from __future__ import annotations

import hashlib
from typing import Mapping


def config_checksum(*file_sets: Mapping[str, str]) -> str:
    """sha256 over every (file name, content) pair of every file set, order-independent within a set."""
    digest = hashlib.sha256()
    for files in file_sets:
        _add_pairs(digest, files)
        digest.update(b"\x00set")
    return digest.hexdigest()


# PBKDF2 rounds of password_checksum: a guess tested against an annotation costs this many
# HMAC-SHA256 computations (the pod template is readable by whoever may read pods).
PASSWORD_CHECKSUM_ITERATIONS = 20_000


def password_checksum(salt: str, passwords: Mapping[str, str]) -> str:
    """A digest of `passwords` (variable -> password) for a pod-template annotation, so that a pod
    rolls when a password it sends or accepts changes. PBKDF2-HMAC-SHA256 over all of them at
    once, salted with `salt` (the workload): never a plain or unsalted hash of a password, and a
    guess can only be tested by someone who holds every other password of the pod too."""
    material = hashlib.sha256()
    _add_pairs(material, passwords)
    return hashlib.pbkdf2_hmac("sha256", material.digest(), f"kubernaut-redis/{salt}".encode(),
                               PASSWORD_CHECKSUM_ITERATIONS).hex()


def _add_pairs(digest: "hashlib._Hash", pairs: Mapping[str, str]) -> None:
    """Each (name, value) pair, sorted by name, length-prefixed: no two mappings feed the same bytes."""
    for name in sorted(pairs):
        for part in (name, pairs[name]):
            encoded = part.encode()
            digest.update(len(encoded).to_bytes(8, "big"))
            digest.update(encoded)
