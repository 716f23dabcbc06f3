"""Log evidence for correlation: lines grouped into templates (``templates``)."""

from __future__ import annotations

from correlation.logs.templates import MASKS, LogTemplateMiner, Template, group, miner_config

__all__ = ["MASKS", "LogTemplateMiner", "Template", "group", "miner_config"]
