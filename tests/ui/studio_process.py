"""``python -m tests.ui.studio_process <manage.py command ...>``: a studio process for browser tests.

The project's own settings (the channel-layer prefix comes from CHANNEL_LAYER_PREFIX), changed
after Django has read them, as tests/conftest.py does for the test session: the test database,
and a broker that keeps queued tasks in this process. A settings module importing the project's
cannot do it: the project package imports the Celery app, which reads the settings being defined.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "reliability_studio.settings"
    import django
    from django.conf import settings

    django.setup()
    # Connections open on first use, so this still takes effect.
    settings.DATABASES["default"]["NAME"] = os.environ["RS_UI_DATABASE_NAME"]

    from reliability_studio.celery import app

    # Tasks queued by writes (correlation on commit) stay here, unrun: no real worker should pick
    # up a job about an incident in a test database it cannot see, and none runs inside a request.
    app.conf.broker_url = "memory://"
    app.conf.task_always_eager = False

    from django.core.management import execute_from_command_line

    execute_from_command_line(["manage.py", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
