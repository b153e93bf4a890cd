"""A small reader of Prometheus' HTTP API (v1): instant queries, targets and alerts. The alert
drills and the dashboard test use it against the lab's Prometheus (lab/prometheus.py)."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Optional


class PrometheusError(RuntimeError):
    """Prometheus answered with an error, or not at all."""


@dataclass(frozen=True)
class ActiveAlert:
    name: str
    state: str  # pending or firing
    labels: dict[str, str]
    active_at: str


class Prometheus:
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str, **params: str) -> Any:
        url = f"{self.base_url}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as answer:
                body = json.load(answer)
        except (OSError, ValueError) as err:
            raise PrometheusError(f"GET {url}: {err}") from err
        if body.get("status") != "success":
            raise PrometheusError(f"GET {url}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's samples: [{"metric": {...}, "value": [time, "text"]}, ...]."""
        data = self._get("/api/v1/query", query=expr)
        if data["resultType"] != "vector":
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def targets(self) -> list[dict[str, Any]]:
        return self._get("/api/v1/targets", state="active")["activeTargets"]

    def alerts(self) -> list[ActiveAlert]:
        return [ActiveAlert(alert["labels"]["alertname"], alert["state"], alert["labels"], alert.get("activeAt", ""))
                for alert in self._get("/api/v1/alerts")["alerts"]]

    def rule_names(self) -> set[str]:
        return {rule["name"] for group in self._get("/api/v1/rules")["groups"] for rule in group["rules"]}

    def wait(self, condition: Callable[[], bool], timeout: float, every: float = 1.0) -> Optional[float]:
        """Seconds until `condition` held, or None after `timeout`. Errors count as "not yet"."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            try:
                if condition():
                    return time.monotonic() - start
            except PrometheusError:
                pass
            time.sleep(every)
        return None
