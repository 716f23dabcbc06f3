"""`make run`: the studio, the demo shop and a real Prometheus, wired together, in one command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from rest_framework_simplejwt.tokens import RefreshToken

from demo import processes
from demo.services import DemoRules, demo_setup


class Command(BaseCommand):
    help = "Serve the studio with the demo shop (DEMO_URL) and Prometheus (PROMETHEUS_URL) it starts itself."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--scrape-interval", default="5s")
        parser.add_argument("--rule-window", default="1m", help="PromQL rate window of the demo rules")
        parser.add_argument("--rule-for", type=int, default=15, help="seconds a breach lasts before firing")
        parser.add_argument("--data-dir", type=Path, default=settings.VAR_DIR)

    def handle(self, *args: Any, **opts: Any) -> None:
        if not settings.DEMO_URL:
            raise CommandError("DEMO_URL is not set: `make run` sets it (e.g. DEMO_URL=http://127.0.0.1:8001).")
        data_dir: Path = opts["data_dir"]
        data_dir.mkdir(parents=True, exist_ok=True)
        children = []
        try:
            children.append(processes.start_shop(settings.DEMO_URL, log_path=data_dir / "shop.log"))
            prometheus_url = settings.PROMETHEUS_URL
            if prometheus_url:
                binary = processes.find_or_install_prometheus(self.stdout.write)
                if binary:
                    children.append(
                        processes.start_prometheus(
                            binary, prometheus_url, shop_url=settings.DEMO_URL,
                            scrape_interval=opts["scrape_interval"], data_dir=data_dir / "prometheus",
                        )
                    )
                else:
                    prometheus_url = None
            demo_setup(
                prometheus_url=prometheus_url,
                rules=DemoRules(rate_window=opts["rule_window"], for_seconds=opts["rule_for"]),
            )
            self._say_hello(f"http://{opts['host']}:{opts['port']}", prometheus_url)
            call_command("serve", host=opts["host"], port=opts["port"])
        finally:
            for child in reversed(children):
                processes.stop(child)

    def _say_hello(self, base: str, prometheus_url: str | None) -> None:
        admin = get_user_model().objects.filter(is_superuser=True).order_by("pk").first()
        token = str(RefreshToken.for_user(admin).access_token) if admin else "<token from /api/auth/token/>"
        self.stdout.write(
            f"\nReliability Studio: {base}/  (demo shop {settings.DEMO_URL}, Prometheus {prometheus_url or 'off'})\n"
            "Break checkout and watch the incident appear (the token is valid for 30 minutes):\n"
            f"  curl -X POST {base}/api/test/fail -H 'Authorization: Bearer {token}' "
            "-H 'Content-Type: application/json' "
            """-d '{"service": "checkout", "error_rate": 0.3, "duration": 120}'\n"""
        )
