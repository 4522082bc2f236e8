"""The Kubernetes manifests agree with the gateway: settings it knows, the ports it listens on,
probes through gRPC health, secrets mounted where the configuration points, one writer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kite_gateway.config import Settings, env_name
from kite_gateway.kite import EgressMap

DEPLOY = Path(__file__).parent.parent / "deploy"


def manifest(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / name).read_text())
    return loaded


def container() -> dict[str, Any]:
    spec: dict[str, Any] = manifest("deployment.yaml")["spec"]["template"]["spec"]["containers"][0]
    return spec


def test_every_configured_variable_is_a_setting_of_the_gateway_and_validates() -> None:
    data = manifest("configmap.yaml")["data"]
    known = {env_name(name) for name in Settings.model_fields}
    assert set(data) <= known, set(data) - known
    fields = {env_name(name): name for name in Settings.model_fields}
    Settings.model_validate({fields[k]: v for k, v in data.items() if "_FILE" not in k})


def test_probes_use_grpc_health_on_the_listen_port() -> None:
    port = int(manifest("configmap.yaml")["data"]["KITE_GATEWAY_LISTEN"].rpartition(":")[2])
    spec = container()
    assert {p["containerPort"] for p in spec["ports"]} == {port, 8080}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert spec[probe]["grpc"]["port"] == port
    assert spec["readinessProbe"]["grpc"]["service"] == "kite_gateway.v1.OrderService"


def test_secret_files_are_mounted_where_the_configuration_reads_them() -> None:
    data = manifest("configmap.yaml")["data"]
    mounts = {m["name"]: m["mountPath"] for m in container()["volumeMounts"]}
    secret = yaml.safe_load((DEPLOY / "secret.example.yaml").read_text())["stringData"]
    files = (
        "KITE_GATEWAY_SECRET_KEY_FILE",
        "KITE_GATEWAY_AUTH_FILE",
        "KITE_GATEWAY_RISK_FILE",
        "KITE_GATEWAY_EGRESS_FILE",
    )
    for variable in files:
        path = Path(data[variable])
        assert str(path.parent) == mounts["secrets"] and path.name in secret, variable
    assert data["KITE_GATEWAY_DATA_DIR"] == mounts["data"]


def test_one_pod_owns_the_accounts_and_has_resource_limits() -> None:
    spec = manifest("deployment.yaml")["spec"]
    assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate"
    resources = container()["resources"]
    assert resources["requests"]["cpu"] and resources["limits"]["memory"]
    grace = int(manifest("configmap.yaml")["data"]["KITE_GATEWAY_SHUTDOWN_GRACE"])
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] > grace


def test_the_example_egress_map_is_one_the_gateway_reads() -> None:
    secret = yaml.safe_load((DEPLOY / "secret.example.yaml").read_text())["stringData"]
    assert EgressMap.parse(secret["egress.toml"]).egresses() == EgressMap().egresses()
    commented = "\n".join(line.removeprefix("# ") for line in secret["egress.toml"].splitlines() if "=" in line)
    assert EgressMap.parse("[egress.family-a]\n" + commented).egress("", "kitekey_a").name == "family-a"
