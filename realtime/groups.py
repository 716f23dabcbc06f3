"""Group names: one per team, plus one that staff join to see everything."""

from __future__ import annotations

from collections.abc import Iterable

STAFF_GROUP = "staff"


def team_group(team_id: int) -> str:
    return f"team.{team_id}"


def groups_for_teams(team_ids: Iterable[int]) -> list[str]:
    """Where an event about these teams goes: their groups, and always the staff group."""
    return [STAFF_GROUP, *sorted({team_group(team_id) for team_id in team_ids})]


def groups_for_member(*, is_staff: bool, team_ids: Iterable[int]) -> list[str]:
    """The groups a socket may join: staff one group that gets everything, others their teams'."""
    if is_staff:
        return [STAFF_GROUP]
    return sorted({team_group(team_id) for team_id in team_ids})


def may_join(group: str, *, is_staff: bool, team_ids: Iterable[int]) -> bool:
    return group in groups_for_member(is_staff=is_staff, team_ids=team_ids)
