"""Post-deploy smoke check and the invariant checker that drills reuse (docs/lab.md)."""

from .invariants import CHECKS, STATE_CHECKS, Check, Report, check_all, wait_until_healthy
from .targets import Address, Passwords, Targets, TargetsError, from_manifest_objects, from_stack_outputs

__all__ = ["Address", "CHECKS", "Check", "Passwords", "Report", "STATE_CHECKS", "Targets", "TargetsError",
           "check_all", "from_manifest_objects", "from_stack_outputs", "wait_until_healthy"]
