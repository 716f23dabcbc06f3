"""Collectors, one module per kind of evidence, and the runner that runs them side by side.

Each collector runs in its own thread with its own timeout. A collector that fails, hangs past
its timeout or raises anything at all is recorded as failed and the others go on: a source
that answers garbage must cost its own evidence, never the run and never a made-up finding.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Literal

from correlation.collectors.base import (
    ClientFactory,
    CollectContext,
    Collector,
    CollectorResult,
    CollectorSkipped,
    Options,
    ServiceRef,
    Unavailable,
    Window,
)
from detection.sources.base import SourceError

logger = logging.getLogger(__name__)

Status = Literal["ok", "failed", "skipped"]


@dataclass
class Outcome:
    name: str
    kinds: frozenset[str]
    status: Status
    result: CollectorResult = field(default_factory=CollectorResult)
    error: str = ""
    duration_ms: float = 0.0

    def as_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "status": self.status,
            "duration_ms": round(self.duration_ms, 1),
            "findings": len(self.result.findings),
        }
        if self.error:
            record["error"] = self.error
        if self.result.notes:
            record["notes"] = self.result.notes[:20]
        return record


def run_collectors(
    collectors: Sequence[Collector],
    context: CollectContext,
    *,
    timeouts: Mapping[str, float],
    default_timeout: float,
) -> list[Outcome]:
    """Run every collector at once; each gets until its own timeout, counted from the start."""
    started = time.monotonic()
    outcomes: list[Outcome] = []
    executor = ThreadPoolExecutor(max_workers=max(1, len(collectors)), thread_name_prefix="correlate")
    try:
        futures = [(c, executor.submit(_timed, c, context)) for c in collectors]
        for collector, future in futures:
            timeout = float(timeouts.get(collector.name, default_timeout))
            remaining = max(0.0, started + timeout - time.monotonic())
            try:
                outcomes.append(future.result(timeout=remaining))
            except FutureTimeout:
                future.cancel()
                outcomes.append(
                    Outcome(collector.name, collector.kinds, "failed", error=f"timed out after {timeout:g} s",
                            duration_ms=timeout * 1000)
                )
    finally:
        # A thread stuck in a read cannot be killed; it ends at its client's own timeout, and
        # nobody waits for it or reads what it finds.
        executor.shutdown(wait=False, cancel_futures=True)
    return outcomes


def _timed(collector: Collector, context: CollectContext) -> Outcome:
    started = time.monotonic()

    def outcome(status: Status, result: CollectorResult | None = None, error: str = "") -> Outcome:
        return Outcome(collector.name, collector.kinds, status, result or CollectorResult(), error,
                       (time.monotonic() - started) * 1000)

    try:
        return outcome("ok", collector.collect(context))
    except CollectorSkipped as exc:
        return outcome("skipped", error=str(exc))
    except SourceError as exc:
        return outcome("failed", error=f"{type(exc).__name__}: {exc.message}")
    except Exception as exc:  # noqa: BLE001 - a collector's bug is its own failure, not the run's
        logger.exception("collector %s crashed", collector.name)
        return outcome("failed", error=f"internal error: {type(exc).__name__}: {str(exc)[:300]}")


__all__ = [
    "ClientFactory",
    "CollectContext",
    "Collector",
    "CollectorResult",
    "CollectorSkipped",
    "Options",
    "Outcome",
    "ServiceRef",
    "Unavailable",
    "Window",
    "run_collectors",
]
