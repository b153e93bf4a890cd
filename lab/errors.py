"""Errors the lab raises. Every refusal names the object and, where there is one, the field."""

from __future__ import annotations


class LabError(Exception):
    """Something the lab cannot do, with a message a person can act on."""


class UnsupportedField(LabError):
    """A manifest asks for something the lab cannot honour: it fails instead of ignoring it."""

    def __init__(self, obj: str, field: str, reason: str) -> None:
        self.obj, self.field, self.reason = obj, field, reason
        super().__init__(f"{obj}: {field}: {reason}")


class PodmanError(LabError):
    """A podman command failed; the message holds the arguments (never secret values) and stderr."""


class DisruptionRefused(LabError):
    """A graceful delete would take more pods away than a PodDisruptionBudget allows."""


class LabTimeout(LabError):
    """A wait for a lab condition ran out of time; the message says what was still missing."""
