"""The pod-template checksum that rolls pods when their configuration changes.

ConfigMaps are updated in place (the provider runs with enableConfigMapMutable), which by itself
restarts nothing; hashing the files the pods mount into a pod-template annotation makes any
change of their text a template change, hence a rolling update. Only non-secret files go in:
a password change must not be derivable from an annotation.
"""

from __future__ import annotations

import hashlib
from typing import Mapping


def config_checksum(*file_sets: Mapping[str, str]) -> str:
    """sha256 over every (file name, content) pair of every file set, order-independent within a set."""
    digest = hashlib.sha256()
    for files in file_sets:
        for file_name in sorted(files):
            for part in (file_name, files[file_name]):
                encoded = part.encode()
                digest.update(len(encoded).to_bytes(8, "big"))
                digest.update(encoded)
        digest.update(b"\x00set")
    return digest.hexdigest()
