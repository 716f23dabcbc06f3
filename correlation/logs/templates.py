"""Log template mining: group log lines that were printed by the same statement.

The correlation engine turns thousands of log lines around an incident into a few templates
("Connection broken for id <NUM>, my id = <NUM>, error =") with counts and examples. Mining is
Drain3's (He et al., "Drain: An Online Log Parsing Approach with Fixed Depth Tree", ICWS 2017);
this module only fixes the one configuration the project ships and gives it a small API.

The configuration is Drain3's own defaults (tree depth 4, similarity threshold 0.4, 100
children per node) plus masks for the variable parts that Drain would otherwise have to learn
token by token. Masking first makes "Received connection request /10.0.0.1:4242" and
"... /10.0.0.2:51000" identical before the similarity is measured, which is why one setting
serves every system instead of a depth and threshold tuned per log source. The same
configuration is measured on Loghub by ``bench/loghub.py``; change it only with that benchmark.

Callers pass the message part of a line (Loki's line, or the ``Content`` after a format's
header); timestamps inside it are masked too, so a stray prefix does not split groups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig

DRAIN_DEPTH = 4
DRAIN_SIM_TH = 0.4
DRAIN_MAX_CHILDREN = 100
# Least-recently-used clusters are dropped past this, so a noisy source cannot grow a miner
# without bound; real services print a few hundred distinct statements at most.
DRAIN_MAX_CLUSTERS = 1000
MAX_EXAMPLES = 3

# Applied in order: the specific shapes first, so an IP's octets or a timestamp's fields are
# not masked piecemeal as numbers. Lookarounds keep each mask to whole tokens: "v2", "job_17"
# and "e2e" stay literal (Drain still treats tokens with digits as variable when matching).
MASKS: tuple[tuple[str, str], ...] = (
    ("TIMESTAMP", r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?\b"),
    ("UUID", r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    ("IP", r"/?(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?(?![\w.])"),
    ("BLOCK", r"\bblk_-?\d+\b"),
    ("HEX", r"\b0[xX][0-9a-fA-F]+\b"),
    # Trace ids, digests, session ids: long runs of hex holding both digits and letters.
    ("HEX", r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{16,}\b"),
    ("NUM", r"(?<![\w.-])[-+]?\d+(?:\.\d+)?(?![\w.])"),
)


@dataclass(frozen=True, slots=True)
class Template:
    id: int
    template: str  # masked parts read <IP>, <NUM>, ...; parts Drain learned to vary read <*>
    count: int
    examples: tuple[str, ...]  # the first lines seen, verbatim


def miner_config() -> TemplateMinerConfig:
    """The one configuration the project ships (a fresh object: Drain3 configs are mutable)."""
    config = TemplateMinerConfig()
    config.drain_depth = DRAIN_DEPTH
    config.drain_sim_th = DRAIN_SIM_TH
    config.drain_max_children = DRAIN_MAX_CHILDREN
    config.drain_max_clusters = DRAIN_MAX_CLUSTERS
    config.masking_instructions = [MaskingInstruction(pattern, name) for name, pattern in MASKS]
    config.mask_prefix, config.mask_suffix = "<", ">"
    # No snapshots or profiling: a miner lives for one correlation run, in memory.
    config.profiling_enabled = False
    return config


class LogTemplateMiner:
    """Incremental grouping: feed lines one at a time, read the templates at any point.

    A line joins a group for good when it is added; later lines can only widen that group's
    template (turn a word into <*>), never move the line elsewhere.
    """

    def __init__(self, *, max_examples: int = MAX_EXAMPLES) -> None:
        self._miner = TemplateMiner(config=miner_config())
        self._max_examples = max_examples
        self._examples: dict[int, list[str]] = {}

    def add(self, line: str) -> tuple[int, str]:
        """Group ``line``; returns its group's id and that group's template as of now."""
        result = self._miner.add_log_message(line)
        cluster_id = int(result["cluster_id"])
        examples = self._examples.setdefault(cluster_id, [])
        if len(examples) < self._max_examples:
            examples.append(line)
        if len(self._examples) > 2 * DRAIN_MAX_CLUSTERS:
            # Drain evicted clusters (least recently used); forget their examples too.
            live = {c.cluster_id for c in self._miner.drain.clusters}
            self._examples = {k: v for k, v in self._examples.items() if k in live}
        return cluster_id, str(result["template_mined"])

    def templates(self) -> list[Template]:
        """Every live group, most frequent first (ties: oldest first)."""
        clusters = sorted(self._miner.drain.clusters, key=lambda c: (-c.size, c.cluster_id))
        return [
            Template(
                id=c.cluster_id,
                template=c.get_template(),
                count=c.size,
                examples=tuple(self._examples.get(c.cluster_id, ())),
            )
            for c in clusters
        ]

    def __len__(self) -> int:
        return len(self._miner.drain.clusters)


def group(lines: Iterable[str], *, max_examples: int = MAX_EXAMPLES) -> list[Template]:
    """Group ``lines`` into templates, most frequent first."""
    miner = LogTemplateMiner(max_examples=max_examples)
    for line in lines:
        miner.add(line)
    return miner.templates()
