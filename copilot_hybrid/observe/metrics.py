"""The Prometheus metrics of `GET /metrics` (prometheus_client, in a registry of
their own, so that nothing else in the process can add series to ours).

Per request (fed from the recorder's thread, one `observe(record)` each):

| metric | labels |
| --- | --- |
| copilot_hybrid_requests_total | route, requested_model, resolved_model, upstream_endpoint, status, stream |
| copilot_hybrid_request_duration_seconds (histogram) | route, model, stream |
| copilot_hybrid_response_first_byte_seconds (histogram) | route, model, stream |
| copilot_hybrid_upstream_first_byte_seconds (histogram) | upstream_endpoint, model |
| copilot_hybrid_stream_duration_seconds (histogram) | route, model |
| copilot_hybrid_stream_chunks (histogram) | route, model |
| copilot_hybrid_tokens_total | model, kind = input, output, cached |
| copilot_hybrid_initiator_requests_total | initiator = user, agent; model |
| copilot_hybrid_upstream_errors_total | upstream_endpoint, status (or no_response) |
| copilot_hybrid_records_dropped_total | (recorder queue full) |

Read at scrape time (RolloutCollector): per rollout feature the calls by the
side that answered, shadow runs, native errors, mismatches, circuit-breaker
state and modes, from the runner's in-process counters; the native library
as an info metric. Timed per call (rollout/observers.py):
copilot_hybrid_rollout_call_seconds{feature, side}.

`model` is the resolved model. Label values are bounded: ids Copilot lists
are kept, up to MODEL_LABEL_CAP other ids get their own value and the rest
become `other`; routes are the app's own paths or `other`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from copilot_hybrid import __version__
from copilot_hybrid.observe.record import RequestRecord

PREFIX: Final = "copilot_hybrid"
OTHER: Final = "other"
NONE: Final = "none"
#: Model ids outside Copilot's catalogue that get a label value of their own.
MODEL_LABEL_CAP: Final = 16
ENDPOINT_LABEL_CAP: Final = 16
MAX_LABEL_LENGTH: Final = 80

LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
CHUNK_BUCKETS: Final = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000)
ROLLOUT_BUCKETS: Final = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0)


class LabelCap:
    """Bounded label values: `known()` values pass, the first `cap` others too, the rest become `other`."""

    def __init__(self, cap: int, known: Callable[[], Collection[str]] = frozenset) -> None:
        self.cap = cap
        self.known = known
        self._seen: set[str] = set()
        self._listed: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str | None) -> str:
        if not value:
            return NONE
        if len(value) > MAX_LABEL_LENGTH:
            return OTHER
        if value in self._seen or value in self._listed:
            return value
        try:
            listed = value in self.known()
        except Exception:  # noqa: BLE001 - a catalogue that cannot be read lists nothing
            listed = False
        if listed:
            self._listed.add(value)  # as many as the catalogue has
            return value
        with self._lock:
            if len(self._seen) >= self.cap:
                return OTHER
            self._seen.add(value)
        return value


def _initiator(value: str | None) -> str:
    return value if value in ("user", "agent") else (NONE if value is None else OTHER)


class Metrics:
    """One app's metrics. `observe` is called on the recorder's thread."""

    def __init__(self, known_models: Callable[[], Collection[str]] = frozenset) -> None:
        self.registry = CollectorRegistry()
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.model = LabelCap(MODEL_LABEL_CAP, known_models)
        self.endpoint = LabelCap(ENDPOINT_LABEL_CAP)
        r = self.registry
        self.requests = Counter(
            f"{PREFIX}_requests",
            "Requests served, by route, requested and resolved model, upstream endpoint, status and stream flag.",
            ["route", "requested_model", "resolved_model", "upstream_endpoint", "status", "stream"],
            registry=r,
        )
        self.duration = Histogram(
            f"{PREFIX}_request_duration_seconds",
            "Whole request, from its arrival to the last response byte.",
            ["route", "model", "stream"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.first_byte = Histogram(
            f"{PREFIX}_response_first_byte_seconds",
            "From the request's arrival to the first response body byte sent to the client.",
            ["route", "model", "stream"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_first_byte = Histogram(
            f"{PREFIX}_upstream_first_byte_seconds",
            "From sending the upstream request to its response headers.",
            ["upstream_endpoint", "model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.stream_duration = Histogram(
            f"{PREFIX}_stream_duration_seconds",
            "Streamed responses: from the first to the last body byte.",
            ["route", "model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.stream_chunks = Histogram(
            f"{PREFIX}_stream_chunks",
            "Streamed responses: body chunks sent to the client.",
            ["route", "model"],
            buckets=CHUNK_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            f"{PREFIX}_tokens",
            "Tokens from upstream usage: input (cached included), output, cached.",
            ["model", "kind"],
            registry=r,
        )
        self.initiator = Counter(
            f"{PREFIX}_initiator_requests",
            "Upstream chat requests by x-initiator (user turns are the premium requests).",
            ["initiator", "model"],
            registry=r,
        )
        self.upstream_errors = Counter(
            f"{PREFIX}_upstream_errors",
            "Upstream answers with status >= 400 (or no answer) during a request.",
            ["upstream_endpoint", "status"],
            registry=r,
        )
        self.dropped = Counter(
            f"{PREFIX}_records_dropped",
            "Request records dropped because the recorder's queue was full.",
            registry=r,
        )
        self.rollout_seconds = Histogram(
            f"{PREFIX}_rollout_call_seconds",
            "Duration of one rollout feature call, by the side that ran it.",
            ["feature", "side"],
            buckets=ROLLOUT_BUCKETS,
            registry=r,
        )
        r.register(RolloutCollector())
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)

    def _child(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, cached: prometheus_client validates labels on every call."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe(self, record: RequestRecord) -> None:
        child = self._child
        route = record.route
        stream = "true" if record.stream else "false"
        model = self.model(record.resolved_model)
        endpoint = self.endpoint(record.upstream_endpoint)
        requested = self.model(record.requested_model)
        child(self.requests, route, requested, model, endpoint, str(record.status), stream).inc()
        if record.latency_ms is not None:
            child(self.duration, route, model, stream).observe(record.latency_ms / 1000)
        if record.ttfb_ms is not None:
            child(self.first_byte, route, model, stream).observe(record.ttfb_ms / 1000)
        if record.upstream_ttfb_ms is not None:
            child(self.upstream_first_byte, endpoint, model).observe(record.upstream_ttfb_ms / 1000)
        if record.stream:
            if record.latency_ms is not None and record.ttfb_ms is not None:
                child(self.stream_duration, route, model).observe((record.latency_ms - record.ttfb_ms) / 1000)
            child(self.stream_chunks, route, model).observe(record.stream_chunks)
        for kind, count in (
            ("input", record.input_tokens),
            ("output", record.output_tokens),
            ("cached", record.cached_tokens),
        ):
            if count:
                child(self.tokens, model, kind).inc(count)
        if record.initiator is not None:
            child(self.initiator, _initiator(record.initiator), model).inc()
        if record.upstream_status is not None and record.upstream_status >= 400:
            child(self.upstream_errors, endpoint, str(record.upstream_status)).inc()
        elif record.upstream_status is None and record.upstream_started_ns is not None:
            child(self.upstream_errors, endpoint, "no_response").inc()

    def observe_rollout(self, feature: str, side: str, seconds: float) -> None:
        """A rollout/observers sink."""
        self.rollout_seconds.labels(feature, side).observe(seconds)


class RolloutCollector:
    """Reads the rollout runner's in-process counters and the native library
    at scrape time (nothing is copied on the call path)."""

    def describe(self) -> Iterable[Metric]:
        return []  # names are not pre-checked: collecting imports every feature

    def collect(self) -> Iterable[Metric]:
        from copilot_hybrid.features import all_features
        from copilot_hybrid.native.loader import load
        from copilot_hybrid.rollout import runner

        native = load()
        info = InfoMetricFamily(f"{PREFIX}_native", "The native library: load status and build.")
        record = native.record
        info.add_metric(
            [],
            {
                "status": native.status,
                "build_id": native.build_id or "",
                "zig_version": str(record.get("zig_version", "")),
                "optimize": str(record.get("optimize", "")),
                "target": str(record.get("target", "")),
                "package_version": __version__,
            },
        )
        calls = CounterMetricFamily(
            f"{PREFIX}_rollout_calls",
            "Feature calls answered by each side (a native call that failed and fell back counts on both).",
            labels=["feature", "side"],
        )
        shadow = CounterMetricFamily(
            f"{PREFIX}_rollout_shadow_runs", "Native runs beside the reference (shadow mode).", labels=["feature"]
        )
        errors = CounterMetricFamily(f"{PREFIX}_rollout_native_errors", "Native calls that raised.", labels=["feature"])
        mismatches = CounterMetricFamily(
            f"{PREFIX}_rollout_mismatches", "Shadow runs whose outcome differed.", labels=["feature"]
        )
        breaker = GaugeMetricFamily(
            f"{PREFIX}_rollout_circuit_open",
            "1 when the circuit breaker demoted the feature to off for this process.",
            labels=["feature"],
        )
        mode = GaugeMetricFamily(
            f"{PREFIX}_rollout_mode",
            "1 for the feature's current configured and effective mode.",
            labels=["feature", "configured", "effective"],
        )
        for feature in all_features():
            name = feature.name
            counters = runner.counters(name)
            calls.add_metric([name, "reference"], counters.get("reference_calls", 0))
            calls.add_metric([name, "native"], counters.get("native_calls", 0))
            shadow.add_metric([name], counters.get("shadow_runs", 0))
            errors.add_metric([name], counters.get("native_errors", 0))
            mismatches.add_metric([name], counters.get("mismatches", 0))
            breaker.add_metric([name], 1.0 if runner.demotion(name) else 0.0)
            decision = runner.current_decision(feature)
            mode.add_metric([name, str(decision.configured), str(decision.effective)], 1.0)
        return [info, calls, shadow, errors, mismatches, breaker, mode]
