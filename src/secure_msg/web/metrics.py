"""Prometheus text exposition (format 0.0.4), hand-written: counters and histograms with labels.

Labels carry route templates and status codes only, never ids, paths or anything a user typed,
so the series count stays bounded and no booklet or person shows up in /metrics.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable, Sequence
from typing import TypeVar

LabelValues = tuple[str, ...]
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
DEFAULT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class Counter:
    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name, self.help, self.label_names = name, help_text, tuple(labels)
        self._values: dict[LabelValues, float] = {}

    def inc(self, *label_values: str, amount: float = 1.0) -> None:
        self._values[label_values] = self._values.get(label_values, 0.0) + amount

    def value(self, *label_values: str) -> float:
        return self._values.get(label_values, 0.0)

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        for values, total in sorted(self._values.items()):
            lines.append(f"{self.name}{_labels(self.label_names, values)} {_number(total)}")
        return lines


class Histogram:
    def __init__(
        self, name: str, help_text: str, labels: Sequence[str] = (),
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> None:
        self.name, self.help, self.label_names = name, help_text, tuple(labels)
        self.buckets = tuple(sorted(buckets))
        self._counts: dict[LabelValues, list[int]] = {}
        self._sums: dict[LabelValues, float] = {}

    def observe(self, value: float, *label_values: str) -> None:
        counts = self._counts.setdefault(label_values, [0] * (len(self.buckets) + 1))
        counts[bisect.bisect_left(self.buckets, value)] += 1  # le buckets: value <= bound
        self._sums[label_values] = self._sums.get(label_values, 0.0) + value

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for values, counts in sorted(self._counts.items()):
            cumulative = 0
            for bound, count in zip((*self.buckets, math.inf), counts, strict=True):
                cumulative += count
                le = f'le="{_number(bound)}"'
                lines.append(
                    f"{self.name}_bucket{_labels(self.label_names, values, le)} {cumulative}"
                )
            label_text = _labels(self.label_names, values)
            lines.append(f"{self.name}_sum{label_text} {_number(self._sums[values])}")
            lines.append(f"{self.name}_count{label_text} {cumulative}")
        return lines


class Gauge:
    """A value read at scrape time from a callback (e.g. queue depth)."""

    def __init__(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        self.name, self.help, self._read = name, help_text, read

    def render(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} gauge",
                f"{self.name} {_number(self._read())}"]


Metric = Counter | Histogram | Gauge
M = TypeVar("M", Counter, Histogram, Gauge)


class Metrics:
    """The app's metric registry; modules register their own metrics at set-up time."""

    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}
        self.http_requests = self.register(Counter(
            "secure_msg_http_requests_total", "HTTP requests by route template, method, status.",
            ("route", "method", "status"),
        ))
        self.http_latency = self.register(Histogram(
            "secure_msg_http_request_duration_seconds", "Time to handle a request, by route.",
            ("route",),
        ))

    def register(self, metric: M) -> M:
        if not _NAME.fullmatch(metric.name) or metric.name in self._metrics:
            raise ValueError(f"bad or duplicate metric name {metric.name!r}")
        self._metrics[metric.name] = metric
        return metric

    def render(self) -> str:
        lines: list[str] = []
        for metric in self._metrics.values():
            lines += metric.render()
        return "\n".join(lines) + "\n"
