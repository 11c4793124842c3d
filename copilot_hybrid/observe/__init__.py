"""Watching the proxy: one record per request (record.py), the recording
middleware and its recorder thread, Prometheus metrics, the SQLite request
history, and the data behind the dashboard. Routes enrich the current
request's record with `note(...)`; see docs/observe.md."""

from copilot_hybrid.observe.record import RequestRecord, current, note

__all__ = ["RequestRecord", "current", "note"]
