"""Fixtures for the incidents tests: a team with a member and a service, and a record of events sent."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import ServiceFactory, TeamFactory, UserFactory


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    # Every test makes users; the production hasher would spend most of the suite's time hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def member(db):
    return UserFactory()


@pytest.fixture
def team(member):
    return TeamFactory(members=[member])


@pytest.fixture
def service(team):
    return ServiceFactory(team=team)


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True)


@pytest.fixture
def outsider(db):
    """A user of another team, who must not see ours."""
    other = UserFactory()
    TeamFactory(members=[other])
    return other


@pytest.fixture
def sent(monkeypatch) -> list[dict[str, Any]]:
    """Realtime messages as they leave after commit: [{"groups": [...], **message}]."""
    messages: list[dict[str, Any]] = []

    def record(groups: list[str], message: dict[str, Any]) -> None:
        messages.append({"groups": groups, **message})

    monkeypatch.setattr("realtime.events._send", record)
    return messages
