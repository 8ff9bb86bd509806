"""Logs and telemetry: Log Analytics and Application Insights."""

from __future__ import annotations

from .base import (
    APP_INSIGHTS,
    LOG_WORKSPACE,
    M,
    Resource,
    Rule,
    get,
    rule,
)


def insights_workspace_based(r: Resource) -> str | None:
    """Application Insights is workspace-based (Log Analytics)."""
    if not get(r.props, "workspaceResourceId"):
        return "workspaceResourceId must name a Log Analytics workspace (workspace-based)"
    if get(r.props, "ingestionMode") not in (None, "LogAnalytics"):
        return "ingestionMode must be LogAnalytics"
    return None


def log_retention(r: Resource) -> str | None:
    """Log Analytics keeps logs at least 90 days."""
    days = get(r.props, "retentionInDays")
    if not isinstance(days, int | float) or days < 90:
        return f"retentionInDays is {days}; keep logs at least 90 days"
    return None


RULES: tuple[Rule, ...] = (
    rule("appinsights-workspace-based", M, "this project (classic App Insights is retired)", (APP_INSIGHTS,), insights_workspace_based),
    rule("log-retention-90-days", M, "this project", (LOG_WORKSPACE,), log_retention),
)  # fmt: skip
