"""The notice outbox in /metrics: where the notices stand (from the database, read once per
scrape on a reader thread) and what this process's worker did (counters since it started).

Labels are statuses, reason codes and outcomes: fixed vocabularies of the code, never an id, a
number or any text a person wrote. docs/operations.md says what to alert on.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from secure_msg.channels.outbox import OutboxStats
from secure_msg.logging import get_logger
from secure_msg.model.notices import NoticeStatus, OutboxFigures
from secure_msg.services import outbox
from secure_msg.services.core import Core

log = get_logger(__name__)
PREFIX = "secure_msg_outbox"


class OutboxCollector:
    """A prometheus_client collector over the outbox's figures and the worker's stats."""

    def __init__(self, core: Core, stats: OutboxStats) -> None:
        self._core = core
        self._stats = stats
        self._figures: OutboxFigures | None = None
        self._at_ms = 0

    async def refresh(self) -> None:
        """Read the figures for the next collect; on a database error keep the last ones."""
        now = self._core.clock.now_ms()
        try:
            self._figures = await outbox.figures(self._core, now)
        except Exception:  # /metrics must still answer
            log.exception("outbox figures could not be read")
            return
        self._at_ms = now

    def collect(self) -> Iterator[Metric]:
        yield from self._from_database()
        yield from self._from_worker()

    def _from_database(self) -> Iterator[Metric]:
        figures = self._figures
        if figures is None:
            return
        notices = GaugeMetricFamily(f"{PREFIX}_notices", "Notices in the outbox by status.",
                                    labels=["status"])
        for status in NoticeStatus:
            notices.add_metric([status.value], figures.by_status.get(status.value, 0))
        yield notices
        failed = GaugeMetricFamily(f"{PREFIX}_failed_notices",
                                   "Notices that ended failed, by reason code.", labels=["reason"])
        for reason, count in sorted(figures.failed_by_reason.items()):
            failed.add_metric([reason or "unknown"], count)
        yield failed
        age = 0.0 if figures.oldest_due_ms is None else (self._at_ms - figures.oldest_due_ms) / 1000
        yield GaugeMetricFamily(
            f"{PREFIX}_oldest_due_age_seconds",
            "How long the longest-waiting notice that is due but not handed to the provider "
            "(queued or ambiguous) has been due; 0 when none.", value=max(age, 0.0))

    def _from_worker(self) -> Iterator[Metric]:
        stats = self._stats
        yield _counter("attempts", "Create requests to the provider by what became of them "
                       "(sent, rate-limited, not-sent, ambiguous, refused).", "outcome",
                       stats.attempts)
        yield _counter("reconciliations", "Lookups at the provider before resending a notice "
                       "that may exist, by result (reconciled, duplicate_suspected, not-found, "
                       "error).", "result", stats.reconciliations)
        duplicates = CounterMetricFamily(
            f"{PREFIX}_duplicates_suspected", "Notices found at the provider more than once.",
            value=stats.reconciliations.get(NoticeStatus.DUPLICATE_SUSPECTED.value, 0))
        yield duplicates
        yield _counter("status_polls", "Status polls of sent notices that heard nothing, by "
                       "result (answered, error).", "result", stats.polls)
        yield CounterMetricFamily(f"{PREFIX}_claims_recovered",
                                  "Claims of a crashed process taken over.",
                                  value=stats.released)


def _counter(name: str, help_text: str, label: str, counts: dict[str, int]) -> Metric:
    family = CounterMetricFamily(f"{PREFIX}_{name}", help_text, labels=[label])
    for value, count in sorted(counts.items()):
        family.add_metric([value], count)
    return family
