"""KubernetesClient (the real ``kubernetes`` package) against a server answering documented bodies."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from detection.sources.base import (
    AccessDenied,
    BadQuery,
    BadResponse,
    SourceConfig,
    SourceError,
    SourceUnavailable,
)
from detection.sources.kubernetes import KubernetesClient
from tests.detection.conftest import K8S_TOKEN
from tests.support.fixture_http import FixtureServer, fixture, kubeconfig_dict
from tests.support.prometheus import free_port

PODS = "/api/v1/namespaces/shop/pods"
EVENTS = "/api/v1/namespaces/shop/events"
DEPLOYMENTS = "/apis/apps/v1/namespaces/shop/deployments"
REPLICA_SETS = "/apis/apps/v1/namespaces/shop/replicasets"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def client(kubeconfig: Path) -> KubernetesClient:
    return KubernetesClient(SourceConfig(kubeconfig=str(kubeconfig), timeout_seconds=2))


def test_pods_map_container_states(client: KubernetesClient, fixture_server: FixtureServer) -> None:
    fixture_server.add("GET", PODS, fixture("k8s_pod_list.json"))

    pods = {p.name: p for p in client.pods("shop")}

    crashing = pods["checkout-7d9f8b6c5-x2x9k"]
    assert (crashing.namespace, crashing.phase, crashing.ready, crashing.node) == ("shop", "Running", False, "node-a")
    assert crashing.labels == {"app": "checkout", "pod-template-hash": "7d9f8b6c5"}
    checkout, envoy = crashing.containers
    assert (checkout.name, checkout.ready, checkout.restart_count) == ("checkout", False, 7)
    assert checkout.waiting_reason == "CrashLoopBackOff"
    assert checkout.last_terminated_reason == "Error"
    assert checkout.last_terminated_at == _at("2023-11-14T22:08:41Z")
    assert (envoy.ready, envoy.waiting_reason, envoy.last_terminated_reason) == (True, None, None)

    oom = pods["checkout-7d9f8b6c5-q8w7e"].containers[0]
    assert pods["checkout-7d9f8b6c5-q8w7e"].ready is True
    assert (oom.restart_count, oom.last_terminated_reason) == (3, "OOMKilled")
    assert oom.last_terminated_at is not None and oom.last_terminated_at.tzinfo is not None

    assert pods["payments-6b7c9d-abcde"].containers[0].waiting_reason == "ImagePullBackOff"
    migrate, search = pods["search-5f6g7h-zz9yy"].containers
    assert (migrate.init, migrate.terminated_reason) == (True, "Completed")
    assert (search.init, search.waiting_reason) == (False, "CreateContainerConfigError")


def test_pods_send_the_label_selector_and_the_token(client: KubernetesClient, fixture_server: FixtureServer) -> None:
    fixture_server.add("GET", PODS, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": []})
    fixture_server.add("GET", PODS, fixture("k8s_pod_list.json"), params={"labelSelector": "app=checkout"})

    assert len(client.pods("shop", label_selector="app=checkout")) == 4
    assert client.pods("shop") == []

    request = fixture_server.requests_to(PODS)[0]
    assert request.headers["Authorization"] == f"Bearer {K8S_TOKEN}"


def test_pods_across_all_namespaces(client: KubernetesClient, fixture_server: FixtureServer) -> None:
    fixture_server.add("GET", "/api/v1/pods", fixture("k8s_pod_list.json"))

    assert len(client.pods()) == 4


def test_events_are_warnings_newest_first(client: KubernetesClient, fixture_server: FixtureServer) -> None:
    fixture_server.add("GET", EVENTS, fixture("k8s_event_list.json"))

    events = client.events("shop")

    assert [e.involved_name for e in events] == [
        "checkout-7d9f8b6c5-x2x9k",
        "payments-6b7c9d-abcde",
        "search-5f6g7h-zz9yy",
    ]
    first = events[0]
    assert (first.namespace, first.involved_kind, first.reason, first.type, first.count) == (
        "shop",
        "Pod",
        "BackOff",
        "Warning",
        31,
    )
    assert first.message.startswith("Back-off restarting failed container checkout")
    assert first.last_timestamp == _at("2023-11-14T22:12:00Z")
    # Written through events.k8s.io/v1: no lastTimestamp, the series says when it was last seen.
    assert events[2].last_timestamp == _at("2023-11-14T22:09:30Z")
    assert events[2].count == 4
    (request,) = fixture_server.requests_to(EVENTS)
    assert request.params["fieldSelector"] == "type=Warning"


def test_events_since_drops_older_ones_and_combine_field_selectors(
    client: KubernetesClient, fixture_server: FixtureServer
) -> None:
    fixture_server.add("GET", EVENTS, fixture("k8s_event_list.json"))

    events = client.events("shop", field_selector="involvedObject.kind=Pod", since=_at("2023-11-14T22:10:00Z"))

    assert [e.involved_name for e in events] == ["checkout-7d9f8b6c5-x2x9k", "payments-6b7c9d-abcde"]
    assert fixture_server.requests_to(EVENTS)[0].params["fieldSelector"] == "type=Warning,involvedObject.kind=Pod"
    assert len(client.events("shop", since=_at("2023-11-14T22:10:00Z").timestamp())) == 2


def test_rollouts_report_deployments_at_their_revision_and_replica_sets(
    client: KubernetesClient, fixture_server: FixtureServer
) -> None:
    fixture_server.add("GET", DEPLOYMENTS, fixture("k8s_deployment_list.json"))
    fixture_server.add("GET", REPLICA_SETS, fixture("k8s_replicaset_list.json"))

    rollouts = client.rollouts("shop", label_selector="app=checkout")

    deployment = next(r for r in rollouts if r.kind == "Deployment")
    assert (deployment.name, deployment.namespace, deployment.revision) == ("checkout", "shop", 12)
    # When revision 12's ReplicaSet appeared, not when the Deployment was first created.
    assert deployment.created_at == _at("2023-11-14T21:00:00Z")
    assert deployment.images == ["registry.example.com/shop/checkout:2.4.1", "envoyproxy/envoy:v1.28.0"]
    assert (deployment.replicas, deployment.ready_replicas, deployment.updated_replicas) == (3, 1, 3)

    replica_sets = sorted((r for r in rollouts if r.kind == "ReplicaSet"), key=lambda r: r.revision or 0)
    assert [(r.name, r.revision, r.owner) for r in replica_sets] == [
        ("checkout-6c8e7a9b4", 11, "checkout"),
        ("checkout-7d9f8b6c5", 12, "checkout"),
    ]
    assert replica_sets[0].images[0].endswith(":2.4.0")
    assert replica_sets[0].replicas == 0
    assert rollouts[0].created_at == max(r.created_at for r in rollouts if r.created_at)
    assert fixture_server.requests_to(DEPLOYMENTS)[0].params["labelSelector"] == "app=checkout"


def test_check_reads_the_version_endpoint(client: KubernetesClient, fixture_server: FixtureServer) -> None:
    fixture_server.add("GET", "/version/", fixture("k8s_version.json"))

    client.check()
    assert client.ready() is True


def test_inline_kubeconfig_yaml_with_a_named_context(fixture_server: FixtureServer) -> None:
    fixture_server.require_token("inline-token")
    fixture_server.add("GET", PODS, fixture("k8s_pod_list.json"))
    config = kubeconfig_dict("http://127.0.0.1:1", token="wrong", context="default")
    config["clusters"].append({"name": "other", "cluster": {"server": fixture_server.url}})
    config["users"].append({"name": "other-user", "user": {"token": "inline-token"}})
    config["contexts"].append({"name": "staging", "context": {"cluster": "other", "user": "other-user"}})

    client = KubernetesClient(SourceConfig(kubeconfig=yaml.safe_dump(config), context="staging", timeout_seconds=2))

    assert len(client.pods("shop")) == 4


def test_url_and_token_without_kubeconfig(fixture_server: FixtureServer) -> None:
    fixture_server.require_token("direct-token")
    fixture_server.add("GET", PODS, fixture("k8s_pod_list.json"))

    client = KubernetesClient(SourceConfig(url=fixture_server.url, auth_token="direct-token", timeout_seconds=2))

    assert len(client.pods("shop")) == 4


def test_unreadable_kubeconfig_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="Kubernetes configuration"):
        KubernetesClient(SourceConfig(kubeconfig=str(tmp_path / "missing")))
    with pytest.raises(SourceError, match="Kubernetes configuration"):
        KubernetesClient(SourceConfig(kubeconfig="apiVersion: v1\nkind: Config\n", context="nope"))


def test_invalid_selector_is_a_bad_query_with_the_api_message(
    client: KubernetesClient, fixture_server: FixtureServer
) -> None:
    fixture_server.add("GET", PODS, fixture("k8s_status_bad_selector.json"), status=400)

    with pytest.raises(BadQuery) as excinfo:
        client.pods("shop", label_selector="app=check out")

    assert str(excinfo.value).startswith("unable to parse requirement")


def test_wrong_token_is_access_denied(tmp_path: Path, fixture_server: FixtureServer) -> None:
    from tests.support.fixture_http import write_kubeconfig

    fixture_server.require_token("the-right-one")
    fixture_server.add("GET", PODS, fixture("k8s_pod_list.json"))
    path = write_kubeconfig(tmp_path / "wrong", fixture_server.url, token="a-wrong-one")

    with pytest.raises(AccessDenied, match="401"):
        KubernetesClient(SourceConfig(kubeconfig=str(path))).pods("shop")


def test_server_error_is_unavailable(client: KubernetesClient, fixture_server: FixtureServer) -> None:
    fixture_server.answer_all("error", status=500)

    with pytest.raises(SourceUnavailable, match="500"):
        client.events("shop")
    assert client.ready() is False


def test_garbage_is_a_bad_response(client: KubernetesClient, fixture_server: FixtureServer) -> None:
    fixture_server.answer_all("garbage")

    with pytest.raises(BadResponse):
        client.pods("shop")


def test_wrong_shape_is_a_bad_response(client: KubernetesClient, fixture_server: FixtureServer) -> None:
    fixture_server.add("GET", PODS, {"kind": "PodList", "items": [{"spec": {"containers": "not-a-list"}}]})

    with pytest.raises(BadResponse):
        client.pods("shop")


def test_hanging_api_server_times_out_once(kubeconfig: Path, fixture_server: FixtureServer) -> None:
    fixture_server.answer_all("hang")
    client = KubernetesClient(SourceConfig(kubeconfig=str(kubeconfig), timeout_seconds=0.5))
    started = time.monotonic()

    with pytest.raises(SourceUnavailable, match="did not answer within 0.5s"):
        client.pods("shop")

    # The client's default would retry the read three times; ours gives up after one timeout.
    assert time.monotonic() - started < 1.5


def test_nothing_listening_is_unavailable(tmp_path: Path) -> None:
    from tests.support.fixture_http import write_kubeconfig

    path = write_kubeconfig(tmp_path / "dead", f"http://127.0.0.1:{free_port()}")
    client = KubernetesClient(SourceConfig(kubeconfig=str(path), timeout_seconds=1))
    started = time.monotonic()

    with pytest.raises(SourceUnavailable, match="cannot reach"):
        client.pods("shop")
    assert client.ready() is False
    assert time.monotonic() - started < 5


def test_event_without_any_timestamp_is_kept_without_one(
    client: KubernetesClient, fixture_server: FixtureServer
) -> None:
    event_list = fixture("k8s_event_list.json")
    bare = event_list["items"][0]
    for key in ("firstTimestamp", "lastTimestamp", "eventTime"):
        bare[key] = None
    del bare["metadata"]["creationTimestamp"]
    event_list["items"] = [bare]
    fixture_server.add("GET", EVENTS, event_list)

    (event,) = client.events("shop")

    assert event.last_timestamp is None
    assert client.events("shop", since=datetime(2020, 1, 1, tzinfo=UTC)) == []
