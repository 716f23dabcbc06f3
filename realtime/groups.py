"""Group names: one per team, plus one that staff join to see everything."""

from __future__ import annotations

from collections.abc import Iterable

STAFF_GROUP = "staff"


def team_group(team_id: int) -> str:
    return f"team.{team_id}"


def groups_for_teams(team_ids: Iterable[int]) -> list[str]:
    return [STAFF_GROUP, *sorted({team_group(team_id) for team_id in team_ids})]
