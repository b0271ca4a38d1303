"""deploy/k8s: checked as far as an offline tool allows (no cluster here; docs/operations.md says so).
Every document parses and has its required fields; the queue KEDA watches is the one the worker
serves; every setting the containers pass is one the code reads."""

from __future__ import annotations

from dataclasses import fields, replace

import yaml
from rq import Queue

from shared.contract.settings import Settings
from tests.conftest import ROOT

K8S = ROOT / "deploy" / "k8s"
REQUIRED = {  # kind -> paths that must be present (spec fields the API server would refuse without)
    "Service": ["spec.selector", "spec.ports"],
    "StatefulSet": ["spec.selector.matchLabels", "spec.serviceName", "spec.template.spec.containers",
                    "spec.volumeClaimTemplates"],
    "Deployment": ["spec.selector.matchLabels", "spec.template.metadata.labels", "spec.template.spec.containers"],
    "Ingress": ["spec.rules"],
    "ScaledObject": ["spec.scaleTargetRef.name", "spec.triggers"],
    "TriggerAuthentication": ["spec.secretTargetRef"],
}


def documents() -> list[dict]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        found += [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    return found


def get(document: dict, path: str):
    value = document
    for part in path.split("."):
        value = value[part]
    return value


def named(kind: str, name: str) -> dict:
    [document] = [d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    return document


def container_env(document: dict) -> dict[str, dict]:
    [container] = document["spec"]["template"]["spec"]["containers"]
    return {variable["name"]: variable for variable in container.get("env", [])}


def test_every_document_parses_and_has_its_required_fields():
    docs = documents()
    assert {d["kind"] for d in docs} == set(REQUIRED)
    for document in docs:
        assert document["apiVersion"] and document["metadata"]["name"], document
        for path in REQUIRED[document["kind"]]:
            assert get(document, path), f"{document['kind']}/{document['metadata']['name']}: {path}"
        if document["kind"] in ("Deployment", "StatefulSet"):
            selector = get(document, "spec.selector.matchLabels")
            assert selector.items() <= get(document, "spec.template.metadata.labels").items()


def test_redis_keeps_its_data_on_a_volume_with_a_password():
    redis = named("StatefulSet", "redis")
    [container] = redis["spec"]["template"]["spec"]["containers"]
    assert "--appendonly" in container["args"] and "--requirepass" in container["args"]
    assert container["volumeMounts"][0]["mountPath"] == "/data"
    assert redis["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == container["volumeMounts"][0]["name"]


def test_dashboards_sit_behind_a_sticky_ingress():
    ingress = named("Ingress", "dashboard")
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "dashboard" and named("Service", "dashboard")
    assert named("Deployment", "dashboard")["spec"]["replicas"] > 1


def test_workers_ask_for_a_gpu_and_keda_scales_them_on_the_queue_they_serve():
    worker = named("Deployment", "worker")
    [container] = worker["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    env = container_env(worker)
    settings = replace(Settings(), model=env["DECODELAB_MODEL"]["value"],
                       key_prefix=env.get("DECODELAB_PREFIX", {}).get("value", Settings().key_prefix))
    scaled = named("ScaledObject", "worker")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "worker"
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "redis"
    # the Redis list RQ pushes this worker's jobs onto, named as RQ names it
    assert trigger["metadata"]["listName"] == Queue.redis_queue_namespace_prefix + settings.queue_name()
    assert trigger["metadata"]["address"].split(":")[0] == "redis" and named("Service", "redis")
    assert trigger["authenticationRef"]["name"] == named("TriggerAuthentication", "decodelab-redis")["metadata"]["name"]
    assert scaled["spec"]["minReplicaCount"] == 0  # scale to zero (optional: 1 keeps one warm)


def test_every_setting_the_containers_pass_is_one_the_code_reads():
    known = {spec.metadata["env"] for spec in fields(Settings)}
    for name in ("dashboard", "worker"):
        deployment = named("Deployment", name)
        env = container_env(deployment)
        ours = {variable for variable in env if variable.startswith("DECODELAB_") or variable == "REDIS_URL"}
        assert ours <= known, ours - known
        assert "$(REDIS_PASSWORD)" in env["REDIS_URL"]["value"]  # defined above it, from the Secret
        assert list(env).index("REDIS_PASSWORD") < list(env).index("REDIS_URL")  # k8s expands only earlier ones
        port_setting = "DECODELAB_WORKER_METRICS_PORT" if name == "worker" else "DECODELAB_DASHBOARD_METRICS_PORT"
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        assert ports["metrics"] == int(env[port_setting]["value"])
        assert deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == str(ports["metrics"])
