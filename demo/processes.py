"""Start and stop the demo's companions (the shop, Prometheus) as child processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

INSTALL_HINT = (
    "Prometheus is not installed, so metric detection is off: install it "
    "(`sudo apt-get install prometheus` or `brew install prometheus`) and run `make run` again."
)


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def wait_http(url: str, timeout: float, process: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    return False


def start_shop(url: str, *, log_path: Path) -> subprocess.Popen:
    host, port = host_port(url)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "demo.shop", "--host", host, "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    if not wait_http(f"{url}/healthz", 15, process):
        stop(process)
        raise RuntimeError(f"the demo shop did not start on {url}; see {log_path}")
    return process


def find_or_install_prometheus(say: Callable[[str], object]) -> str | None:
    """The prometheus binary; installs it through the system's package manager where it can."""
    found = shutil.which("prometheus")
    if found:
        return found
    if shutil.which("apt-get"):
        sudo = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
        if sudo is not None:
            say("Installing Prometheus with apt-get (once)...")
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            ok = subprocess.run([*sudo, "apt-get", "update", "-qq"], env=env, capture_output=True).returncode == 0
            if ok and subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "prometheus"], env=env,
                                     capture_output=True).returncode == 0:
                return shutil.which("prometheus") or "/usr/bin/prometheus"
    elif shutil.which("brew"):
        say("Installing Prometheus with brew (once)...")
        if subprocess.run(["brew", "install", "prometheus"], capture_output=True).returncode == 0:
            return shutil.which("prometheus")
    say(INSTALL_HINT)
    return None


def prometheus_config(target: str, scrape_interval: str) -> str:
    # JSON is valid YAML: no YAML writer needed.
    return json.dumps(
        {
            "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
            "scrape_configs": [{"job_name": "shop", "static_configs": [{"targets": [target]}]}],
        },
        indent=2,
    )


def start_prometheus(binary: str, url: str, *, shop_url: str, scrape_interval: str, data_dir: Path) -> subprocess.Popen:
    host, port = host_port(url)
    shop_host, shop_port = host_port(shop_url)
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "prometheus.yml"
    config.write_text(prometheus_config(f"{shop_host}:{shop_port}", scrape_interval))
    log_path = data_dir / "prometheus.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={data_dir / 'data'}",
             f"--web.listen-address={host}:{port}", "--storage.tsdb.retention.time=1d", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    if not wait_http(f"{url}/-/ready", 30, process):
        stop(process)
        raise RuntimeError(f"Prometheus did not start on {url}; see {log_path}")
    return process


def stop(process: subprocess.Popen, timeout: float = 10) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
