"""How good correlation's outputs are: pure metrics that ``bench/`` and ``tests/quality`` use.

- ``grouping_accuracy``: log template mining (Zhu et al., ICSE-SEIP 2019, "Tools and Benchmarks
  for Automated Log Parsing"): a line is correct when the group it was put in holds exactly the
  lines of its true group, no more and no fewer.
- ``as_at_k``: root-cause ranking, AS@k as the Nezha paper (FSE 2023) reports it: the share of
  cases whose true root cause is among the first ``k`` candidates ranked.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Hashable, Sequence


def grouping_accuracy(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> float:
    """Share of lines whose predicted group equals their true group as a set of lines.

    ``truth[i]`` and ``predicted[i]`` label line ``i``; only equality of labels matters, so
    the two labelings need not use the same names. Empty input scores 1.0 (nothing is wrong).
    """
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} true labels but {len(predicted)} predicted ones")
    if not truth:
        return 1.0
    true_size = Counter(truth)
    members: dict[Hashable, list[int]] = defaultdict(list)
    for line, label in enumerate(predicted):
        members[label].append(line)
    correct = 0
    for lines in members.values():
        true_labels = {truth[line] for line in lines}
        # A predicted group is right when it is drawn from one true group and takes all of it.
        if len(true_labels) == 1 and true_size[next(iter(true_labels))] == len(lines):
            correct += len(lines)
    return correct / len(truth)


def as_at_k(rankings: Sequence[Sequence[Hashable]], truths: Sequence[Hashable | Collection[Hashable]], k: int) -> float:
    """Share of cases with a true root cause among the first ``k`` entries of the ranking.

    ``rankings[c]`` is case ``c``'s candidates, best first; ``truths[c]`` its root cause, or a
    collection of them when a fault has several (then any one in the top ``k`` counts). No
    cases scores 0.0: a ranker that was never run has shown nothing.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    if len(rankings) != len(truths):
        raise ValueError(f"{len(rankings)} rankings but {len(truths)} ground truths")
    if not rankings:
        return 0.0
    hits = 0
    for ranking, truth in zip(rankings, truths, strict=True):
        expected = {truth} if isinstance(truth, str) or not isinstance(truth, Collection) else set(truth)
        if expected.intersection(ranking[:k]):
            hits += 1
    return hits / len(rankings)
