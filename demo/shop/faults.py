"""Fault injection and extra load: validated requests in, a thread-safe state out."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

SERVICES = ("catalog", "checkout", "payments")
MAX_DURATION_SECONDS = 3600
MAX_RPS = 200
MAX_LATENCY_MS = 30_000


class BadRequest(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Fault:
    error_rate: float = 0.0
    latency_ms: float = 0.0
    until: float = 0.0


def _number(body: dict[str, Any], field: str, *, default: float, low: float, high: float) -> float:
    value = body.get(field, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequest(field, f"{field} must be a number")
    if not low <= value <= high:
        raise BadRequest(field, f"{field} must be between {low:g} and {high:g}")
    return float(value)


def parse_fail(body: Any) -> tuple[str, Fault]:
    if not isinstance(body, dict):
        raise BadRequest("body", "expected a JSON object")
    service = body.get("service")
    if service not in SERVICES:
        raise BadRequest("service", f"service must be one of {', '.join(SERVICES)}")
    error_rate = _number(body, "error_rate", default=0.0, low=0.0, high=1.0)
    latency_ms = _number(body, "latency_ms", default=0.0, low=0.0, high=MAX_LATENCY_MS)
    duration = _number(body, "duration", default=120, low=1, high=MAX_DURATION_SECONDS)
    if error_rate == 0 and latency_ms == 0:
        raise BadRequest("error_rate", "give error_rate > 0 or latency_ms > 0 (or POST /api/test/recover)")
    return service, Fault(error_rate, latency_ms, time.time() + duration)


def parse_load(body: Any) -> tuple[float, float]:
    if not isinstance(body, dict):
        raise BadRequest("body", "expected a JSON object")
    duration = _number(body, "duration", default=60, low=1, high=MAX_DURATION_SECONDS)
    rps = _number(body, "rps", default=20, low=0.1, high=MAX_RPS)
    return rps, time.time() + duration


class ShopState:
    """What the request handlers and the load generator read; changed by the test endpoints."""

    def __init__(self, base_rps: float) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}
        self.base_rps = base_rps
        self._extra_rps = 0.0
        self._extra_until = 0.0

    def fault(self, service: str) -> Fault | None:
        with self._lock:
            fault = self._faults.get(service)
            if fault and fault.until < time.time():
                del self._faults[service]
                return None
            return fault

    def set_fault(self, service: str, fault: Fault) -> None:
        with self._lock:
            self._faults[service] = fault

    def recover(self) -> None:
        with self._lock:
            self._faults.clear()
            self._extra_rps = 0.0

    def add_load(self, rps: float, until: float) -> None:
        with self._lock:
            self._extra_rps, self._extra_until = rps, until

    def rps(self) -> float:
        with self._lock:
            extra = self._extra_rps if self._extra_until > time.time() else 0.0
            return self.base_rps + extra

    def describe(self) -> dict[str, Any]:
        now = time.time()
        faults = {s: self.fault(s) for s in SERVICES}
        return {
            "rps": self.rps(),
            "faults": {
                s: {"error_rate": f.error_rate, "latency_ms": f.latency_ms, "seconds_left": round(f.until - now)}
                for s, f in faults.items()
                if f
            },
        }
