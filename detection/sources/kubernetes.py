"""The only module importing ``kubernetes``: pods, Warning events and rollouts, as plain dataclasses.

A client is built from a kubeconfig path, from kubeconfig YAML held in the database, from a bare
API URL and token, or from the pod's service account (in-cluster) when none is given. Each client owns its own
``ApiClient``, so two sources pointing at two clusters never share global configuration.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import urllib3
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException, OpenApiException
from kubernetes.config.config_exception import ConfigException

from detection.sources.base import (
    AccessDenied,
    BadQuery,
    BadResponse,
    ContainerState,
    KubeEvent,
    PodState,
    Rollout,
    SourceClient,
    SourceConfig,
    SourceError,
    SourceUnavailable,
    build_retry,
    timestamp_seconds,
)

SOURCE = "Kubernetes"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
T = TypeVar("T")


class KubernetesClient(SourceClient):
    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        self.api_client = _api_client_for(config)
        self.core = k8s.CoreV1Api(self.api_client)
        self.apps = k8s.AppsV1Api(self.api_client)

    # -- reads ---------------------------------------------------------------------------------

    def pods(self, namespace: str | None = None, label_selector: str = "") -> list[PodState]:
        """Pods with their containers' states; ``namespace=None`` lists every namespace."""
        if namespace:
            pods = self._call(self.core.list_namespaced_pod, namespace, label_selector=label_selector)
        else:
            pods = self._call(self.core.list_pod_for_all_namespaces, label_selector=label_selector)
        return [_pod_state(pod) for pod in pods.items or []]

    def events(
        self,
        namespace: str | None = None,
        field_selector: str | None = None,
        since: float | datetime | None = None,
    ) -> list[KubeEvent]:
        """Warning events, newest first, optionally only those seen at or after ``since``."""
        selector = ",".join(s for s in ("type=Warning", field_selector) if s)
        if namespace:
            raw = self._call(self.core.list_namespaced_event, namespace, field_selector=selector)
        else:
            raw = self._call(self.core.list_event_for_all_namespaces, field_selector=selector)
        events = [_kube_event(e) for e in raw.items or []]
        if since is not None:
            cutoff = timestamp_seconds(since)
            events = [e for e in events if e.last_timestamp is not None and e.last_timestamp.timestamp() >= cutoff]
        events.sort(key=lambda e: e.last_timestamp or _EPOCH, reverse=True)
        return events

    def rollouts(self, namespace: str, label_selector: str = "") -> list[Rollout]:
        """Deployments at their current revision, and every ReplicaSet revision still kept.

        A Deployment's ``created_at`` is when its current revision's ReplicaSet was created,
        which is when the rollout began; the Deployment's own creation time would say nothing
        about the latest change.
        """
        deployments = self._call(self.apps.list_namespaced_deployment, namespace, label_selector=label_selector)
        replica_sets = self._call(self.apps.list_namespaced_replica_set, namespace, label_selector=label_selector)
        rs_rollouts = [_replica_set_rollout(rs) for rs in replica_sets.items or []]
        started = {(r.owner, r.revision): r.created_at for r in rs_rollouts if r.owner}
        result = [_deployment_rollout(d, started) for d in deployments.items or []]
        result.extend(rs_rollouts)
        result.sort(key=lambda r: r.created_at or _EPOCH, reverse=True)
        return result

    # -- health --------------------------------------------------------------------------------

    def check(self) -> None:
        """Raise a ``SourceError`` unless the API server answers ``/version``."""
        self._call(k8s.VersionApi(self.api_client).get_code)

    # -- plumbing ------------------------------------------------------------------------------

    def _call(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        kwargs = {k: v for k, v in kwargs.items() if v not in (None, "")}
        try:
            return method(*args, _request_timeout=self.config.timeouts, **kwargs)
        except ApiException as exc:
            raise _from_api_exception(exc) from exc
        except urllib3.exceptions.TimeoutError as exc:
            raise SourceUnavailable(
                f"{SOURCE} API did not answer within {self.config.timeout_seconds:g}s: {exc}"
            ) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise SourceUnavailable(f"cannot reach the {SOURCE} API: {exc}") from exc
        except (ValueError, TypeError, OpenApiException) as exc:
            # json.JSONDecodeError and pydantic's ValidationError are both ValueErrors.
            raise BadResponse(f"{SOURCE} API answered with an unreadable body: {str(exc)[:300]}") from exc


# --------------------------------------------------------------------------------------------
# Building API clients
# --------------------------------------------------------------------------------------------

_CLIENT_CACHE_SIZE = 16
_clients: OrderedDict[tuple[Any, ...], k8s.ApiClient] = OrderedDict()
_clients_lock = threading.Lock()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _api_client_for(config: SourceConfig) -> k8s.ApiClient:
    # One connection pool per cluster per process, as for the HTTP sources; the pid keeps a
    # forked worker from sharing its parent's sockets.
    key = (
        os.getpid(),
        config.kubeconfig,
        config.context,
        config.url,
        config.auth_token,
        config.verify_tls,
        config.max_retries,
    )
    with _clients_lock:
        api_client = _clients.get(key)
        if api_client is None:
            api_client = k8s.ApiClient(_configuration(config))
            _clients[key] = api_client
            while len(_clients) > _CLIENT_CACHE_SIZE:
                _clients.popitem(last=False)[1].close()
        _clients.move_to_end(key)
        return api_client


def clear_clients() -> None:
    with _clients_lock:
        while _clients:
            _clients.popitem()[1].close()


def _configuration(config: SourceConfig) -> k8s.Configuration:
    configuration = k8s.Configuration()
    try:
        if _looks_like_yaml(config.kubeconfig):
            loaded = yaml.safe_load(config.kubeconfig)
            if not isinstance(loaded, dict):
                raise ConfigException("inline kubeconfig is not a YAML mapping")
            k8s_config.load_kube_config_from_dict(
                loaded, context=config.context or None, client_configuration=configuration, persist_config=False
            )
        elif config.kubeconfig:
            k8s_config.load_kube_config(
                config_file=os.path.expanduser(config.kubeconfig),
                context=config.context or None,
                client_configuration=configuration,
                # A refreshed token must not be written back into a file we were only lent.
                persist_config=False,
            )
        elif not config.url:
            k8s_config.load_incluster_config(client_configuration=configuration)
    except (ConfigException, OSError, yaml.YAMLError) as exc:
        raise SourceError(f"cannot load the Kubernetes configuration: {exc}") from exc
    if config.url:
        configuration.host = config.url.rstrip("/")
    if config.auth_token:
        configuration.api_key = {"authorization": config.auth_token}
        configuration.api_key_prefix = {"authorization": "Bearer"}
    if not config.verify_tls:
        configuration.verify_ssl = False
    # The client's urllib3 default retries reads three times; keep the same bounded policy as
    # the HTTP sources so a hanging API server costs one timeout, not four.
    configuration.retries = build_retry(config.max_retries)
    return configuration


def _looks_like_yaml(kubeconfig: str) -> bool:
    return "\n" in kubeconfig or kubeconfig.lstrip().startswith(("apiVersion", "{"))


def _from_api_exception(exc: ApiException) -> SourceError:
    status = exc.status or 0
    message = _status_message(exc)
    if status == 0:
        return SourceUnavailable(f"{SOURCE} API request failed: {message}")
    if status in (401, 403):
        return AccessDenied(f"{SOURCE} API refused the request ({status}): {message}", status=status)
    if status in (400, 422):
        # A malformed label or field selector is the query's fault.
        return BadQuery(message, status=status)
    if status == 429 or status >= 500:
        return SourceUnavailable(f"{SOURCE} API answered {status}: {message}", status=status)
    return BadResponse(f"{SOURCE} API answered {status}: {message}", status=status)


def _status_message(exc: ApiException) -> str:
    """The ``message`` of the Kubernetes ``Status`` body, or whatever text came back."""
    body = exc.body or ""
    try:
        status = json.loads(body)
    except (TypeError, ValueError):
        return (body.strip() or str(exc.reason or ""))[:300]
    if isinstance(status, dict) and isinstance(status.get("message"), str):
        return status["message"]
    return body[:300]


# --------------------------------------------------------------------------------------------
# Model -> dataclass
# --------------------------------------------------------------------------------------------


def _pod_state(pod: Any) -> PodState:
    meta, spec, status = pod.metadata, pod.spec, pod.status
    conditions = (status.conditions if status else None) or []
    ready = any(c.type == "Ready" and c.status == "True" for c in conditions)
    containers = [_container_state(c, init=True) for c in (status.init_container_statuses if status else None) or []]
    containers += [_container_state(c, init=False) for c in (status.container_statuses if status else None) or []]
    return PodState(
        name=meta.name or "",
        namespace=meta.namespace or "",
        phase=(status.phase if status else None) or "Unknown",
        ready=ready,
        node=spec.node_name if spec else None,
        labels=dict(meta.labels or {}),
        containers=containers,
    )


def _container_state(cs: Any, *, init: bool) -> ContainerState:
    state, last = cs.state, cs.last_state
    waiting = state.waiting if state else None
    terminated = state.terminated if state else None
    last_terminated = last.terminated if last else None
    return ContainerState(
        name=cs.name,
        ready=bool(cs.ready),
        restart_count=int(cs.restart_count or 0),
        waiting_reason=waiting.reason if waiting else None,
        terminated_reason=terminated.reason if terminated else None,
        last_terminated_reason=last_terminated.reason if last_terminated else None,
        last_terminated_at=_aware(last_terminated.finished_at) if last_terminated else None,
        init=init,
    )


def _kube_event(event: Any) -> KubeEvent:
    involved = event.involved_object
    # Events written through events.k8s.io/v1 leave lastTimestamp empty and set eventTime or
    # series.lastObservedTime instead.
    series_last = event.series.last_observed_time if event.series else None
    last = event.last_timestamp or series_last or event.event_time or event.first_timestamp
    if last is None and event.metadata is not None:
        last = event.metadata.creation_timestamp
    return KubeEvent(
        namespace=(event.metadata.namespace if event.metadata else None) or involved.namespace or "",
        involved_kind=involved.kind or "",
        involved_name=involved.name or "",
        reason=event.reason or "",
        message=event.message or "",
        type=event.type or "",
        count=int(event.count or (event.series.count if event.series else 0) or 1),
        last_timestamp=_aware(last),
    )


def _revision(meta: Any) -> int | None:
    raw = (meta.annotations or {}).get(REVISION_ANNOTATION)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _images(template: Any) -> list[str]:
    spec = template.spec if template else None
    return [c.image for c in (spec.containers if spec else None) or [] if c.image]


def _deployment_rollout(deployment: Any, started: dict[tuple[str | None, int | None], datetime | None]) -> Rollout:
    meta, spec, status = deployment.metadata, deployment.spec, deployment.status
    revision = _revision(meta)
    return Rollout(
        kind="Deployment",
        name=meta.name or "",
        namespace=meta.namespace or "",
        revision=revision,
        created_at=started.get((meta.name, revision)) or _aware(meta.creation_timestamp),
        images=_images(spec.template if spec else None),
        ready_replicas=int((status.ready_replicas if status else None) or 0),
        replicas=int((spec.replicas if spec else None) or 0),
        updated_replicas=int((status.updated_replicas if status else None) or 0),
    )


def _replica_set_rollout(rs: Any) -> Rollout:
    meta, spec, status = rs.metadata, rs.spec, rs.status
    owner = next((o.name for o in meta.owner_references or [] if o.kind == "Deployment"), None)
    return Rollout(
        kind="ReplicaSet",
        name=meta.name or "",
        namespace=meta.namespace or "",
        revision=_revision(meta),
        created_at=_aware(meta.creation_timestamp),
        images=_images(spec.template if spec else None),
        ready_replicas=int((status.ready_replicas if status else None) or 0),
        replicas=int((spec.replicas if spec else None) or 0),
        # A ReplicaSet has no rollout of its own: all of its pods are of its one template.
        updated_replicas=int((status.replicas if status else None) or 0),
        owner=owner,
    )


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
