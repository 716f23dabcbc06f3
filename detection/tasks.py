"""Thin Celery tasks for the detection cycle; the work lives in ``detection.cycle``."""

from __future__ import annotations

from celery import group, shared_task

from detection import cycle


@shared_task(name="detection.tasks.run_cycle", ignore_result=True)
def run_cycle() -> None:
    started, chunks = cycle.cycle_start()
    if started is None:
        return
    if len(chunks) == 1:
        cycle.chunk_evaluate(cycle_id=started.pk, rule_ids=chunks[0])
    elif chunks:
        # Fanned out so that several workers share a large cycle.
        group(evaluate_chunk.s(started.pk, ids) for ids in chunks).apply_async()


# Idempotent: evaluating a rule twice in a cycle repeats a query, and alert states converge.
@shared_task(name="detection.tasks.evaluate_chunk", ignore_result=True, acks_late=True)
def evaluate_chunk(cycle_id: int, rule_ids: list[int]) -> None:
    cycle.chunk_evaluate(cycle_id=cycle_id, rule_ids=rule_ids)
