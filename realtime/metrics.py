"""The realtime stream's own metrics, in the default registry that ``/metrics`` exports.

Each web process counts its own sockets; Prometheus sums over processes.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

CONNECTED_CLIENTS = Gauge(
    "rs_realtime_connected_clients", "Authenticated WebSocket clients connected to this process."
)
MESSAGES_SENT = Counter(
    "rs_realtime_messages_sent", "Messages written to WebSocket clients (events, replays and control messages)."
)
SLOW_CONSUMER_DISCONNECTS = Counter(
    "rs_realtime_slow_consumer_disconnects",
    "Clients closed with 4408 because their outgoing queue was full.",
)
REJECTED_CONNECTIONS = Counter(
    "rs_realtime_rejected_connections", "Sockets closed with 4401: no session, or a bad or expired token."
)
EVENTS_PUBLISHED = Counter(
    "rs_realtime_events_published", "Events handed to the channel layer by this process.", ["type"]
)
