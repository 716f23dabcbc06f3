"""The detection cycle: pick due rules, evaluate them with bounded concurrency, apply results.

``cycle_start`` runs on one worker under a lock that expires, so cycles never overlap; it splits
the due rules into chunks that any worker may evaluate (``chunk_evaluate``). Within a chunk at
most ``DETECTION_CONCURRENCY`` queries are in flight; database writes stay on the calling thread.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections
from django.db.models import F, Q
from django.utils import timezone

from detection import services
from detection.clients import client_for
from detection.evaluation import Evaluation, RuleConfigError, evaluate_rule
from detection.models import Alert, AlertState, DetectionCycle, DetectionRule
from detection.sources import BadQuery, SourceError
from incidents.models import Service

logger = logging.getLogger(__name__)

CHUNK_SIZE = 250
LOCK_KEY = "detection:cycle-lock"


def _lock_seconds() -> int:
    return max(60, min(900, settings.DETECTION_INTERVAL_SECONDS * 10))


def cycle_start(*, now: datetime | None = None) -> tuple[DetectionCycle | None, list[list[int]]]:
    """Take the cycle lock and plan the chunks; (None, []) when a previous cycle still runs."""
    now = now or timezone.now()
    if not cache.add(LOCK_KEY, "1", timeout=_lock_seconds()):
        logger.info("detection cycle skipped: the previous one is still running")
        return None, []
    due = (
        DetectionRule.objects.filter(enabled=True, source__enabled=True)
        .filter(Q(next_evaluation_at__isnull=True) | Q(next_evaluation_at__lte=now))
        .order_by("id")
        .values_list("id", flat=True)
    )
    ids = list(due)
    chunks = [ids[i : i + CHUNK_SIZE] for i in range(0, len(ids), CHUNK_SIZE)]
    cycle = DetectionCycle.objects.create(started_at=now, chunks_total=len(chunks))
    if not chunks:
        _finish(cycle.pk)
    return cycle, chunks


@dataclass
class _Fetched:
    rule: DetectionRule
    evaluation: Evaluation | None
    error: Exception | None
    duration_ms: float


def _fetch(rule: DetectionRule, client: Any, now: datetime) -> _Fetched:
    started = time.perf_counter()
    try:
        evaluation = evaluate_rule(rule, client=client, now=now)
    except (SourceError, RuleConfigError, ValueError) as exc:
        return _Fetched(rule, None, exc, (time.perf_counter() - started) * 1000)
    return _Fetched(rule, evaluation, None, (time.perf_counter() - started) * 1000)


def chunk_evaluate(*, cycle_id: int | None, rule_ids: list[int], now: datetime | None = None) -> None:
    """Evaluate ``rule_ids`` and apply their results; closes the cycle if this was the last chunk."""
    now = now or timezone.now()
    rules = list(
        DetectionRule.objects.select_related("source", "service").filter(pk__in=rule_ids, enabled=True)
    )
    clients: dict[int, Any] = {}
    fetched: list[_Fetched] = []
    with ThreadPoolExecutor(max_workers=settings.DETECTION_CONCURRENCY) as pool:
        futures = []
        for rule in rules:
            try:
                client = clients.get(rule.source_id) or clients.setdefault(rule.source_id, client_for(rule.source))
            except (SourceError, ValueError) as exc:
                fetched.append(_Fetched(rule, None, exc, 0.0))
                continue
            futures.append(pool.submit(_fetch, rule, client, now))
        fetched.extend(f.result() for f in futures)

    evaluated, errored, fired, opened = _apply(fetched, now)
    if cycle_id is not None:
        DetectionCycle.objects.filter(pk=cycle_id).update(
            rules_evaluated=F("rules_evaluated") + evaluated,
            rules_errored=F("rules_errored") + errored,
            alerts_fired=F("alerts_fired") + fired,
            incidents_opened=F("incidents_opened") + opened,
            chunks_done=F("chunks_done") + 1,
        )
        cycle = DetectionCycle.objects.only("chunks_done", "chunks_total").get(pk=cycle_id)
        if cycle.chunks_done >= cycle.chunks_total:
            _finish(cycle_id)


def _apply(fetched: list[_Fetched], now: datetime) -> tuple[int, int, int, int]:
    service_list = list(Service.objects.all())
    active = defaultdict(list)
    for alert in Alert.objects.select_related("service", "incident").filter(
        rule_id__in=[f.rule.pk for f in fetched], state__in=[AlertState.PENDING, AlertState.FIRING]
    ):
        active[alert.rule_id].append(alert)

    evaluated = errored = fired = opened = 0
    failing_sources: dict[int, tuple[Any, str]] = {}
    healthy_sources: dict[int, Any] = {}
    for item in fetched:
        rule = item.rule
        interval = rule.evaluation_interval_seconds or settings.DETECTION_INTERVAL_SECONDS
        # A little slack, so a rule due "now" at the next beat tick is not skipped by jitter.
        next_at = now + timedelta(seconds=interval * 0.9)
        if item.error is None:
            evaluated += 1
            healthy_sources[rule.source_id] = rule.source
            try:
                outcome = services.rule_evaluation_apply(
                    rule=rule, evaluation=item.evaluation, now=now, services=service_list, alerts=active[rule.pk]
                )
            except Exception:  # noqa: BLE001 - one broken rule must not stop the others
                logger.exception("applying rule %s failed", rule.pk)
                errored += 1
                services.rule_bookkeeping(rule, now=now, next_at=next_at, duration_ms=item.duration_ms,
                                          error="internal error while applying results; see the worker log")
                continue
            fired += outcome.fired
            opened += outcome.incidents_opened
            services.rule_bookkeeping(rule, now=now, next_at=next_at, duration_ms=item.duration_ms,
                                      evaluation=item.evaluation)
        else:
            errored += 1
            message = str(item.error)
            services.rule_bookkeeping(rule, now=now, next_at=next_at, duration_ms=item.duration_ms,
                                      error=message)
            # A rejected query is the rule's fault; anything else says the source is in trouble.
            if isinstance(item.error, SourceError) and not isinstance(item.error, BadQuery):
                failing_sources[rule.source_id] = (rule.source, message)
            elif isinstance(item.error, BadQuery):
                healthy_sources[rule.source_id] = rule.source

    DetectionRule.objects.bulk_update(
        [f.rule for f in fetched],
        ["last_evaluated_at", "next_evaluation_at", "last_duration_ms", "last_value", "last_error",
         "last_error_at", "memory"],
        batch_size=500,
    )
    for source, message in failing_sources.values():
        services.source_failure_record(source=source, error=message, now=now)
    for source_id, source in healthy_sources.items():
        if source_id not in failing_sources:
            services.source_success_record(source=source, now=now)
    return evaluated, errored, fired, opened


def _finish(cycle_id: int) -> None:
    DetectionCycle.objects.filter(pk=cycle_id, finished_at__isnull=True).update(finished_at=timezone.now())
    cache.delete(LOCK_KEY)
    close_old_connections()
