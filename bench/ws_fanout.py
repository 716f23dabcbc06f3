"""WebSocket fan-out: 1,000 authenticated clients on one web process, events from another process.

    python bench/ws_fanout.py [--clients 1000] [--events 100] [--rate 10] [--layer core|pubsub]

Uses ``DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/rs_bench``: created if
missing, migrated) and ``REDIS_URL`` (default ``redis://127.0.0.1:6379/0``). It adds one team, one
member and one service (no incidents, so other benchmarks sharing the database are unaffected).

Three processes, as in production: this one holds the clients, a web process (uvicorn serving
``reliability_studio.asgi:application``, configured like ``manage.py serve``) holds the sockets,
and a publisher process calls ``realtime.events.publish`` the way a Celery task does, at
``--rate`` events per second, stamping each event with its wall-clock send time. Every client
records each event's delivery latency. ``--layer`` picks channels_redis' layer for both the web
process and the publisher (default: what the settings say).

Prints a table and, last, one JSON line: clients, events, p50_ms, p99_ms, messages_per_second
(deliveries over the span from first publish to last delivery), missed (client-event pairs never
delivered), layer, ok. Target: p99 ≤ 250 ms and nothing missed. The table also shows the web
process's CPU time per delivery, which a busy machine does not inflate as it does latency.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/rs_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
TARGET_P99_MS = 250.0
LAYERS = {
    "core": "channels_redis.core.RedisChannelLayer",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}
TEAM_SLUG = "ws-fanout-bench"
USERNAME = "ws-fanout-bench"
# Opening sockets in waves keeps the SYN backlog and the authentication queries from piling up.
CONNECT_WAVE = 100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10.0, help="events per second from the publisher")
    parser.add_argument("--layer", choices=sorted(LAYERS), default=None)
    parser.add_argument("--deflate", action="store_true",
                        help="let sockets negotiate permessage-deflate (manage.py serve does not)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL)
    parser.add_argument("--role", choices=["bench", "server", "publisher"], default="bench", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--team", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--service", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()

    _environment(args)
    if args.role == "server":
        return _serve(args)
    if args.role == "publisher":
        return _publish(args)
    return _bench(args)


# --- Shared set-up -------------------------------------------------------------------------------


def _environment(args: argparse.Namespace) -> None:
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["REDIS_URL"] = args.redis_url
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-of-at-least-32-bytes")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reliability_studio.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # This run's groups stay apart from any other process using the same Redis.
    os.environ.setdefault("CHANNEL_LAYER_PREFIX", f"rs-bench-{os.getpid()}")


def _choose_layer(layer: str | None) -> str:
    """Point the settings at the chosen layer before Channels reads them; returns its class path."""
    from django.conf import settings

    config = settings.CHANNEL_LAYERS["default"]
    if layer is not None:
        config["BACKEND"] = LAYERS[layer]
    if config["BACKEND"] == LAYERS["pubsub"]:
        # The pub/sub layer has no per-channel queues to bound or expire.
        for option in ("capacity", "expiry", "group_expiry", "channel_capacity"):
            config.get("CONFIG", {}).pop(option, None)
    return config["BACKEND"]


def _raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _create_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')


# --- Roles ---------------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    """The web process: what `manage.py serve` runs, with the chosen layer."""
    import uvicorn

    _raise_fd_limit(args.clients * 2 + 256)
    _choose_layer(args.layer)
    # The options of `manage.py serve`, plus a backlog for a thousand clients connecting at once.
    config = uvicorn.Config(
        "reliability_studio.asgi:application", host="127.0.0.1", port=args.port, lifespan="off",
        log_level="warning", backlog=4096, ws_per_message_deflate=args.deflate,
    )
    # uvicorn re-raises the interrupt after its graceful shutdown.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run()
    return 0


def _publish(args: argparse.Namespace) -> int:
    """The worker process: publish events at a steady rate, each stamped with its send time."""
    import django

    _choose_layer(args.layer)
    django.setup()
    from incidents.models import Incident, Service
    from realtime.events import publish
    from realtime.payloads import incident_payload

    service = Service.objects.get(pk=args.service)
    interval = 1.0 / args.rate
    started = time.monotonic()
    for sequence in range(args.events):
        # An incident-shaped payload without an incident row: the database stays as it was.
        incident = Incident(pk=1_000_000_000 + sequence, title=f"bench event {sequence}", service=service,
                            fingerprint=f"bench-{sequence}")
        data = incident_payload(incident)
        data["bench"] = {"sequence": sequence, "sent_at": time.time()}
        publish("incident_updated", data, teams=[args.team])
        delay = started + (sequence + 1) * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    return 0


def _bench(args: argparse.Namespace) -> int:
    _create_database(args.database_url)
    import django

    backend = _choose_layer(args.layer)
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    team_id, service_id, token = _people()
    _raise_fd_limit(args.clients * 2 + 256)

    port = _free_port()
    child_args = ["--layer", _layer_name(backend), "--database-url", args.database_url, "--redis-url", args.redis_url,
                  "--clients", str(args.clients), *(["--deflate"] if args.deflate else [])]
    server = subprocess.Popen([sys.executable, __file__, "--role", "server", "--port", str(port), *child_args],
                              cwd=REPO_ROOT, env=os.environ.copy())
    try:
        _wait_for_http(f"http://127.0.0.1:{port}/healthz", deadline=time.monotonic() + 60)
        publisher = [sys.executable, __file__, "--role", "publisher", "--team", str(team_id),
                     "--service", str(service_id), "--events", str(args.events), "--rate", str(args.rate), *child_args]
        cpu_before = _cpu_seconds(server.pid)
        result = _run_clients(args, port, token, publisher)
        result["server_cpu_us_per_delivery"] = round(
            (_cpu_seconds(server.pid) - cpu_before) * 1e6 / max(result["delivered"], 1), 1)
        result["server"] = _server_metrics(port)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    result["layer"] = _layer_name(backend)
    result["ok"] = result["p99_ms"] <= TARGET_P99_MS and result["missed"] == 0
    _report(result, args)
    return 0


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process: unlike latency, not inflated by a busy machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _layer_name(backend: str) -> str:
    return next(name for name, path in LAYERS.items() if path == backend)


def _people() -> tuple[int, int, str]:
    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.tokens import AccessToken

    from incidents.models import Service, Team

    team, _ = Team.objects.get_or_create(slug=TEAM_SLUG, defaults={"name": "WebSocket fan-out bench"})
    user, _ = get_user_model().objects.get_or_create(username=USERNAME)
    team.members.add(user)
    service, _ = Service.objects.get_or_create(slug=TEAM_SLUG, defaults={"name": "ws-fanout", "team": team})
    return team.pk, service.pk, str(AccessToken.for_user(user))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_http(url: str, *, deadline: float) -> None:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _server_metrics(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        body = response.read().decode()
    wanted = {"rs_realtime_connected_clients", "rs_realtime_messages_sent_total",
              "rs_realtime_slow_consumer_disconnects_total"}
    figures = {}
    for line in body.splitlines():
        name, _, value = line.partition(" ")
        if name in wanted:
            figures[name.removeprefix("rs_realtime_")] = float(value)
    return figures


# --- Clients -------------------------------------------------------------------------------------


def _run_clients(args: argparse.Namespace, port: int, token: str, publisher: list[str]) -> dict[str, Any]:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_clients(args, port, token, publisher))
    return uvloop.run(_clients(args, port, token, publisher))


async def _clients(args: argparse.Namespace, port: int, token: str, publisher: list[str]) -> dict[str, Any]:
    import websockets

    url = f"ws://127.0.0.1:{port}/api/realtime?token={token}"
    origin = f"http://127.0.0.1:{port}"
    latencies: list[list[float]] = [[] for _ in range(args.clients)]
    # Per event, the first client's latency: publishing and the layer, before the fan-out.
    first: dict[int, float] = {}
    received_at: list[float] = []
    closed: list[int] = []
    done = asyncio.Event()
    remaining = [args.clients]

    async def client(index: int, ready: asyncio.Event) -> None:
        # Compression on, as browsers ask for it.
        async with websockets.connect(url, origin=origin, open_timeout=60, max_size=None) as socket:
            hello = json.loads(await socket.recv())
            assert hello["type"] == "hello", hello
            ready.set()
            mine = latencies[index]
            try:
                async for raw in socket:
                    now = time.time()
                    message = json.loads(raw)
                    bench = message.get("data", {}).get("bench")
                    if bench is None:
                        continue
                    mine.append(now - bench["sent_at"])
                    first.setdefault(bench["sequence"], now - bench["sent_at"])
                    received_at.append(now)
                    if len(mine) == args.events:
                        remaining[0] -= 1
                        if remaining[0] == 0:
                            done.set()
                        await done.wait()
                        return
            except websockets.ConnectionClosed as exc:
                closed.append(exc.rcvd.code if exc.rcvd else 1006)

    connect_started = time.monotonic()
    tasks = []
    for wave in range(0, args.clients, CONNECT_WAVE):
        readies = []
        for index in range(wave, min(wave + CONNECT_WAVE, args.clients)):
            ready = asyncio.Event()
            readies.append(ready)
            tasks.append(asyncio.create_task(client(index, ready)))
        await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in readies)), timeout=120)
    connect_seconds = time.monotonic() - connect_started

    publish_started = time.time()
    process = await asyncio.create_subprocess_exec(*publisher, cwd=str(REPO_ROOT), env=os.environ.copy())
    await process.wait()
    if process.returncode != 0:
        raise SystemExit(f"the publisher failed with status {process.returncode}")
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), timeout=30)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    everything = sorted(latency for mine in latencies for latency in mine)
    delivered = len(everything)
    span = (max(received_at) - publish_started) if received_at else float("nan")
    return {
        "clients": args.clients,
        "events": args.events,
        "rate": args.rate,
        "connect_seconds": round(connect_seconds, 2),
        "delivered": delivered,
        "p50_ms": round(_percentile(everything, 50) * 1000, 1),
        "p99_ms": round(_percentile(everything, 99) * 1000, 1),
        "max_ms": round(everything[-1] * 1000, 1) if everything else float("nan"),
        "first_p50_ms": round(_percentile(sorted(first.values()), 50) * 1000, 1),
        "first_p99_ms": round(_percentile(sorted(first.values()), 99) * 1000, 1),
        "messages_per_second": round(delivered / span, 0) if received_at else 0,
        "missed": args.clients * args.events - delivered,
        "clients_missing_events": sum(1 for mine in latencies if len(mine) < args.events),
        "closed_codes": sorted(set(closed)),
    }


def _percentile(values: list[float], percent: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(percent) - 1]


def _report(result: dict[str, Any], args: argparse.Namespace) -> None:
    rows = [
        ("layer", result["layer"]),
        ("clients (connected in)", f"{result['clients']} ({result['connect_seconds']} s)"),
        ("events (rate)", f"{result['events']} ({result['rate']:g}/s)"),
        ("deliveries", result["delivered"]),
        ("latency p50", f"{result['p50_ms']} ms"),
        ("latency p99", f"{result['p99_ms']} ms (target ≤ {TARGET_P99_MS:g})"),
        ("latency max", f"{result['max_ms']} ms"),
        ("first client p50 / p99", f"{result['first_p50_ms']} / {result['first_p99_ms']} ms (publish and layer)"),
        ("messages per second", result["messages_per_second"]),
        ("missed deliveries", result["missed"]),
        ("server CPU per delivery", f"{result['server_cpu_us_per_delivery']} µs"),
        ("server: slow-consumer closes", result["server"].get("slow_consumer_disconnects_total")),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    keys = ("clients", "events", "p50_ms", "p99_ms", "messages_per_second", "missed", "layer", "ok")
    print(json.dumps({key: result[key] for key in keys}))


if __name__ == "__main__":
    sys.exit(main())
