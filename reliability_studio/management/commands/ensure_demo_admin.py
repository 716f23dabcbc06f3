"""Create the demo admin on first run and print its credentials; later runs print them again."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

USERNAME = "admin"


class Command(BaseCommand):
    help = "Create a superuser 'admin' with a random password when no superuser exists."

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model().objects
        password_file = settings.VAR_DIR / "demo-admin-password"
        if users.filter(is_superuser=True).exists():
            if users.filter(username=USERNAME).exists() and password_file.exists():
                self.stdout.write(f"Login: {USERNAME} / {password_file.read_text().strip()}")
            else:
                self.stdout.write("A superuser exists already; log in with it.")
            return
        password = secrets.token_urlsafe(9)
        users.create_superuser(USERNAME, email="", password=password)
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
        self.stdout.write(f"Created demo admin. Login: {USERNAME} / {password}")
