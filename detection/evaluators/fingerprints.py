"""Stable identities for alerts: the same rule and label set give the same fingerprint forever."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping


def fingerprint(rule_id: int | str, labels: Mapping[str, str]) -> str:
    """sha256 hex over the rule id and the sorted labels.

    JSON with sorted keys rather than ``k=v`` joining, so a label value containing ``,`` or ``=``
    cannot make two different label sets collide.
    """
    payload = json.dumps(
        {"rule": str(rule_id), "labels": {str(k): str(v) for k, v in labels.items()}},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
