from __future__ import annotations

import pytest

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_jwt_token_opens_a_protected_endpoint_that_is_401_without_it(client):
    user = UserFactory()

    assert client.get("/api/schema/").status_code == 401

    token = client.post("/api/auth/token/", {"username": user.username, "password": PASSWORD})
    assert token.status_code == 200
    access, refresh = token.json()["access"], token.json()["refresh"]

    assert client.get("/api/schema/", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 200

    refreshed = client.post("/api/auth/token/refresh/", {"refresh": refresh})
    assert refreshed.status_code == 200
    assert "access" in refreshed.json()


def test_a_wrong_password_gets_no_token(client):
    user = UserFactory()

    response = client.post("/api/auth/token/", {"username": user.username, "password": "nope"})

    assert response.status_code == 401
    assert "access" not in response.json()


def test_a_forged_token_is_refused(client):
    response = client.get("/api/schema/", HTTP_AUTHORIZATION="Bearer not.a.jwt")

    assert response.status_code == 401


def test_pages_redirect_to_login_and_serve_after_signing_in(client):
    user = UserFactory()

    assert client.get("/").status_code == 302
    login_page = client.get("/accounts/login/")
    assert login_page.status_code == 200
    assert b"Sign in" in login_page.content

    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302

    home = client.get("/")
    assert home.status_code == 200
    assert b"Incidents" in home.content


def test_api_docs_are_served_from_local_files_to_a_signed_in_user(client):
    client.force_login(UserFactory())

    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert b"cdn.jsdelivr" not in response.content
