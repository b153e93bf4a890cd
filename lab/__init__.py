"""Runs a directory of rendered Kubernetes manifests in podman, as Kubernetes would (docs/lab.md)."""

from .errors import DisruptionRefused, LabError, LabTimeout, PodmanError, UnsupportedField
from .lab import Lab, leftovers, sweep
from .manifests import load as load_manifests

__all__ = ["DisruptionRefused", "Lab", "LabError", "LabTimeout", "PodmanError", "UnsupportedField",
           "leftovers", "load_manifests", "sweep"]
