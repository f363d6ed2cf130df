"""Data-source connectors behind one interface (ARCHITECTURE.md "Data sources").

`connector_for(source).lookup(query, params)` returns a `LookupResult` or raises `SourceUnavailable`
(timeout, connection refused, bad answer). The engine never sees a driver exception.
"""

from __future__ import annotations

from ropsms.eservices.connectors.base import Connector, LookupResult, SourceUnavailable
from ropsms.eservices.models import DataSource

__all__ = ["Connector", "LookupResult", "SourceUnavailable", "connector_for"]


def connector_for(source: DataSource) -> Connector:
    """A connector for the configured source (built per call: sources are edited live in the admin)."""
    if not source.enabled:
        raise SourceUnavailable(f"data source {source.name} is disabled")
    if source.kind == DataSource.Kind.DEMO:
        from ropsms.eservices.connectors.demo import DemoConnector

        return DemoConnector()
    if source.kind == DataSource.Kind.SQL:
        from ropsms.eservices.connectors.sql import SqlConnector

        return SqlConnector(url=source.url, queries=source.queries, timeout=float(source.timeout_seconds))
    if source.kind == DataSource.Kind.HTTP:
        from ropsms.eservices.connectors.http import HttpConnector

        return HttpConnector(url=source.url, queries=source.queries, timeout=float(source.timeout_seconds))
    raise SourceUnavailable(f"unknown data source kind {source.kind!r}")
