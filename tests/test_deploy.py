"""The Kubernetes manifests agree with the gateway: settings it knows, the ports it listens on,
probes through gRPC health, secrets mounted where the configuration points, and the clustered
mode's shape (three replicas, rolling updates, a disruption budget, leases handed over in time)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kite_gateway import config
from kite_gateway.config import env_name, load_settings
from kite_gateway.kite import EgressMap

DEPLOY = Path(__file__).parent.parent / "deploy"
LABELS = {"app.kubernetes.io/name": "kite-gateway"}
POD_NAME, POD_IP = "kite-gateway-7d9f8c6b5-x2x4q", "10.4.0.17"


def manifests(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((DEPLOY / name).read_text()) if doc]


def manifest(name: str) -> dict[str, Any]:
    (only,) = manifests(name)
    return only


def by_kind(kind: str) -> list[dict[str, Any]]:
    applied = manifest("kustomization.yaml")["resources"]
    return [doc for name in applied for doc in manifests(name) if doc["kind"] == kind]


def pod() -> dict[str, Any]:
    spec: dict[str, Any] = manifest("deployment.yaml")["spec"]["template"]["spec"]
    return spec


def container() -> dict[str, Any]:
    spec: dict[str, Any] = pod()["containers"][0]
    return spec


def configured() -> dict[str, str]:
    data: dict[str, str] = manifest("configmap.yaml")["data"]
    return data


def secret() -> dict[str, str]:
    data: dict[str, str] = manifest("secret.example.yaml")["stringData"]
    return data


def pod_environment() -> dict[str, str]:
    """The environment Kubernetes gives the container: the ConfigMap, then `env` with its
    references resolved (the downward API's pod name and IP, the example Secret's keys)."""
    environment = dict(configured())
    fields = {"metadata.name": POD_NAME, "status.podIP": POD_IP}
    for variable in container()["env"]:
        source = variable["valueFrom"]
        if "fieldRef" in source:
            environment[variable["name"]] = fields[source["fieldRef"]["fieldPath"]]
        else:
            ref = source["secretKeyRef"]
            assert ref["name"] == "kite-gateway", variable
            environment[variable["name"]] = secret()[ref["key"]]
    return environment


def test_every_variable_the_pod_gets_is_a_setting_and_together_they_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = pod_environment()
    known = {env_name(name) for name in config.Settings.model_fields}
    assert set(environment) <= known, set(environment) - known
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.clustered is True
    assert settings.gateway_replica_id == POD_NAME
    assert settings.advertise_address() == f"{POD_IP}:50051"
    assert settings.gateway_lease_ttl + settings.lease_renew_interval < 10  # the failover target


def test_readiness_is_being_able_to_hold_leases_and_the_other_probes_only_check_the_listener() -> None:
    port = int(configured()["KITE_GATEWAY_LISTEN"].rpartition(":")[2])
    spec = container()
    ports = {p["name"]: p["containerPort"] for p in spec["ports"]}
    assert ports == {"grpc": port, "http": int(configured()["KITE_GATEWAY_HTTP_LISTEN"].rpartition(":")[2])}
    readiness = spec["readinessProbe"]
    # "holding or able to take leases": the database entry; a NATS outage (streams between replicas
    # degrade) turns "" NOT_SERVING for monitoring but must not take every replica out of rotation.
    assert readiness["grpc"] == {"port": port, "service": "dependency/database"}
    assert readiness["periodSeconds"] * readiness["failureThreshold"] <= 5  # out of rotation within seconds
    for probe in ("startupProbe", "livenessProbe"):  # a database outage must not restart every replica
        assert "grpc" not in spec[probe] and ports[spec[probe]["tcpSocket"]["port"]] == port, probe
    liveness = spec["livenessProbe"]
    assert liveness["periodSeconds"] * liveness["failureThreshold"] >= 30  # lenient


def test_secret_files_are_mounted_where_the_configuration_reads_them_and_nothing_else_is() -> None:
    mounts = {m["name"]: m["mountPath"] for m in container()["volumeMounts"]}
    (volume,) = [v for v in pod()["volumes"] if v["name"] == "secrets"]
    projected = {item["key"]: item["path"] for item in volume["secret"]["items"]}
    files = (
        "KITE_GATEWAY_SECRET_KEY_FILE",
        "KITE_GATEWAY_AUTH_FILE",
        "KITE_GATEWAY_RISK_FILE",
        "KITE_GATEWAY_EGRESS_FILE",
    )
    for variable in files:
        path = Path(configured()[variable])
        assert str(path.parent) == mounts["secrets"] and path.name in secret(), variable
        assert projected[path.name] == path.name, variable
    assert set(projected) == {Path(configured()[v]).name for v in files}  # no URL or cluster secret as a file
    assert configured()["KITE_GATEWAY_DATA_DIR"] == mounts["data"]
    (data,) = [v for v in pod()["volumes"] if v["name"] == "data"]
    assert "emptyDir" in data  # the state is in PostgreSQL: no volume ties a replica to a node


def test_the_database_url_and_cluster_secret_come_from_the_secret_and_the_pod_identity_from_the_downward_api() -> None:
    sources = {v["name"]: v["valueFrom"] for v in container()["env"]}
    assert sources["KITE_GATEWAY_DATABASE_URL"]["secretKeyRef"]["key"] == "database-url"
    assert sources["KITE_GATEWAY_CLUSTER_SECRET"]["secretKeyRef"]["key"] == "cluster-secret"
    assert sources["KITE_GATEWAY_REPLICA_ID"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert sources["KITE_GATEWAY_POD_IP"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert not {"KITE_GATEWAY_DATABASE_URL", "KITE_GATEWAY_CLUSTER_SECRET"} & set(configured())


def test_three_replicas_roll_one_at_a_time_never_below_three_ready() -> None:
    spec = manifest("deployment.yaml")["spec"]
    assert spec["replicas"] == 3
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    assert spec["selector"]["matchLabels"] == LABELS == spec["template"]["metadata"]["labels"]
    resources = container()["resources"]
    assert resources["requests"]["cpu"] and resources["limits"]["memory"]


def test_a_disruption_budget_keeps_two_replicas_and_selects_the_gateways_pods() -> None:
    (budget,) = by_kind("PodDisruptionBudget")
    assert budget["apiVersion"] == "policy/v1"
    assert budget["spec"]["minAvailable"] == 2
    assert budget["spec"]["selector"]["matchLabels"] == LABELS


def test_replicas_prefer_different_nodes() -> None:
    (term,) = pod()["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == LABELS


def test_the_termination_grace_covers_endpoints_updating_the_lease_hand_off_and_in_flight_calls() -> None:
    pre_stop = container()["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    needed = (
        int(pre_stop[1])
        + float(configured()["KITE_GATEWAY_LEASE_DRAIN_TIMEOUT"])
        + float(configured()["KITE_GATEWAY_SHUTDOWN_GRACE"])
    )
    assert pod()["terminationGracePeriodSeconds"] >= needed + 10, needed


def test_callers_get_a_cluster_ip_and_a_headless_name_for_round_robin_and_replicas_a_headless_peer_name() -> None:
    services = {s["metadata"]["name"]: s["spec"] for s in by_kind("Service") if s["spec"].get("selector")}
    assert set(services) == {"kite-gateway", "kite-gateway-grpc", "kite-gateway-peers"}
    container_ports = {p["name"] for p in container()["ports"]}
    for name, spec in services.items():
        assert spec["selector"] == LABELS, name
        assert {p["targetPort"] for p in spec["ports"]} <= container_ports, name
    assert services["kite-gateway"]["type"] == "ClusterIP"
    assert services["kite-gateway-grpc"]["clusterIP"] == "None"
    assert not services["kite-gateway-grpc"].get("publishNotReadyAddresses")  # callers reach ready replicas only
    assert services["kite-gateway-peers"]["clusterIP"] == "None"
    assert services["kite-gateway-peers"]["publishNotReadyAddresses"] is True  # a draining owner stays reachable


def test_postgresql_and_nats_are_reached_through_the_services_that_name_them() -> None:
    external = {s["metadata"]["name"] for s in by_kind("Service") if s["spec"].get("type") == "ExternalName"}
    assert external == {"kite-gateway-postgres", "kite-gateway-nats"}
    nats_host = configured()["KITE_GATEWAY_NATS_URL"].partition("://")[2].rpartition(":")[0]
    database_host = secret()["database-url"].partition("@")[2].partition("/")[0].rpartition(":")[0]
    assert (nats_host, database_host) == ("kite-gateway-nats", "kite-gateway-postgres")


def test_the_kustomization_applies_every_manifest_but_the_example_secret() -> None:
    applied = set(manifest("kustomization.yaml")["resources"])
    present = {p.name for p in DEPLOY.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert applied == present


def test_the_example_egress_map_is_one_every_replica_can_use() -> None:
    text = secret()["egress.toml"]
    assert EgressMap.parse(text).egresses() == EgressMap().egresses()
    commented = "\n".join(line.removeprefix("# ") for line in text.splitlines() if "=" in line)
    example = EgressMap.parse("[egress.family-a]\n" + commented)
    assert example.egress("", "kitekey_a").name == "family-a"
    # any replica may own any account: a proxy reachable from every pod, never a pod's own address
    assert all(e.source_address is None for e in example.egresses())
    assert all(e.proxy for e in example.egresses() if e.name == "family-a")
