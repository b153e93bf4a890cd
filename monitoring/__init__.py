"""Pure renderers of the monitoring files: the Prometheus alert rules, its scrape configuration
and the Grafana dashboard.

Like redis_files, they take a validated StackConfig and return text; the components ship the
text in Kubernetes objects, and `python -m tools.monitoring_files` writes the prod stack's files
under monitoring/generated/ for Prometheus installations without the Operator.
"""

from .dashboard import dashboard_json
from .rules import ALERTS, Alert, alert_rules, rules_document, rules_yaml
from .scrape import prometheus_config, scrape_configs, scrape_yaml

__all__ = ["ALERTS", "Alert", "alert_rules", "dashboard_json", "prometheus_config", "rules_document", "rules_yaml",
           "scrape_configs", "scrape_yaml"]
