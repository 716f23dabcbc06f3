"""Serve the studio over ASGI; in the embedded default, run Celery beat in this process too."""

from __future__ import annotations

from typing import Any

import uvicorn
from celery.beat import EmbeddedService
from django.conf import settings
from django.core.management.base import BaseCommand

from reliability_studio.celery import app as celery_app

GRACEFUL_SHUTDOWN_SECONDS = 20


class Command(BaseCommand):
    help = "Serve HTTP and WebSockets; with no REDIS_URL, also run the beat schedule in-process."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        beat = None
        if settings.EMBEDDED:
            # Tasks run eagerly (CELERY_TASK_ALWAYS_EAGER), so beat's thread executes them here;
            # beat only runs a task eagerly when it is registered, so import the tasks modules now.
            celery_app.loader.import_default_modules()
            beat = EmbeddedService(celery_app, thread=True, scheduler_cls="celery.beat.Scheduler")
            beat.start()
            self.stdout.write("Embedded Celery beat started (tasks run in this process).")
        config = uvicorn.Config(
            "reliability_studio.asgi:application",
            host=host,
            port=port,
            lifespan="off",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            # Compressing each event once per socket cost a third more CPU per delivery in
            # bench/ws_fanout.py, for messages of under a kilobyte.
            ws_per_message_deflate=False,
        )
        try:
            uvicorn.Server(config).run()
        except KeyboardInterrupt:
            # uvicorn re-raises Ctrl-C after its graceful shutdown; by now everything has finished.
            pass
        finally:
            if beat is not None:
                beat.stop()
