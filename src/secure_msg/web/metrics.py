"""The app's Prometheus metrics, kept by `prometheus_client` in one registry per app.

Labels carry route templates, a known HTTP method and status codes only, never ids, paths or
anything a user typed, so the series count stays bounded and no booklet or person shows up in
/metrics. Each app has its own CollectorRegistry (not the library's global one), so several apps
in one process (the tests) count apart.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.registry import Collector

DEFAULT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Any other token a client sends as the method is "other": a label value per invented method
# would let anyone grow /metrics without bound.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Names that need no quoting in the text format (the library would also take UTF-8 ones).
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


@dataclass(frozen=True)
class Gauge:
    """A value read at scrape time from a callback (e.g. queue depth); see Metrics.register."""

    name: str
    help_text: str
    read: Callable[[], float]


class Metrics:
    """The app's metric registry; modules register their own metrics at set-up time."""

    def __init__(self) -> None:
        # No `_created` series beside each counter and histogram: /metrics keeps today's names
        # and half the series. (A process-wide switch of the library; this is its one user.)
        prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "secure_msg_http_requests", "HTTP requests by route template, method, status.",
            ("route", "method", "status"), registry=self.registry,
        )
        self._refreshers: list[Callable[[], Awaitable[None]]] = []
        self.http_latency = Histogram(
            "secure_msg_http_request_duration_seconds", "Time to handle a request, by route.",
            ("route",), buckets=DEFAULT_BUCKETS, registry=self.registry,
        )

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one request; `route` must be a template (web.middleware.route_template)."""
        known = method if method in METHODS else "other"
        self.http_requests.labels(route, known, str(status)).inc()
        self.http_latency.labels(route).observe(seconds)

    def register(self, gauge: Gauge) -> Gauge:
        if not _NAME.fullmatch(gauge.name):
            raise ValueError(f"bad metric name {gauge.name!r}")
        # A duplicate name is refused by the registry (a ValueError too).
        prometheus_client.Gauge(gauge.name, gauge.help_text, registry=self.registry
                                ).set_function(gauge.read)
        return gauge

    def register_collector(self, collector: Collector,
                           refresh: Callable[[], Awaitable[None]] | None = None) -> None:
        """Families with labels, built at scrape time by `collector`; `refresh` (if given)
        gathers what it needs before each scrape (e.g. one database read on a reader thread),
        since the library collects synchronously."""
        self.registry.register(collector)
        if refresh is not None:
            self._refreshers.append(refresh)

    async def refresh(self) -> None:
        """Run every collector's refresh; call before `render`."""
        for refresh in self._refreshers:
            await refresh()

    def render(self) -> str:
        """The text exposition format, version 0.0.4."""
        return prometheus_client.generate_latest(self.registry).decode()
