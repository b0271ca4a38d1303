"""docker-compose.yml: validated by Debian's docker-compose (offline `config`) where installed, and its
promises (password, persistence, health-gated start, GPU reservation, profiles) checked in the YAML."""

import json
import os
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT

ENV = {**os.environ, "REDIS_PASSWORD": "r3dis-secret", "DECODELAB_INSTRUCTOR_PASSWORD": "profe",
       "GRAFANA_ADMIN_PASSWORD": "graf-secret"}


def compose_config(env, *profiles):
    args = ["docker-compose", "-f", str(ROOT / "docker-compose.yml")]
    for profile in profiles:
        args += ["--profile", profile]
    return subprocess.run(args + ["config"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_compose_file_validates_and_refuses_to_run_without_passwords():
    for profiles in ((), ("gpu",), ("cpu",)):
        done = compose_config(ENV, *profiles)
        assert done.returncode == 0, done.stderr
    rendered = yaml.safe_load(compose_config(ENV, "gpu").stdout)
    assert "r3dis-secret" in rendered["services"]["worker"]["environment"]["REDIS_URL"]
    missing = compose_config({k: v for k, v in ENV.items() if k != "REDIS_PASSWORD"})
    assert missing.returncode != 0 and "REDIS_PASSWORD" in missing.stderr


def test_compose_promises():
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = spec["services"]
    redis = services["redis"]
    assert "--appendonly" in redis["command"] and "--requirepass" in redis["command"]
    assert "healthcheck" in redis and "redis-data:/data" in redis["volumes"]
    for name in ("dashboard", "worker", "worker-cpu"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    gpu = services["worker"]["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["capabilities"] == ["gpu"] and services["worker"]["profiles"] == ["gpu"]
    assert services["worker-cpu"]["environment"]["DECODELAB_DEVICE"] == "cpu"
    dashboard_image = (ROOT / "docker" / "dashboard.Dockerfile").read_text()
    assert "requirements-dashboard.txt" in dashboard_image and "worker/" not in dashboard_image
    packages = [line.split("==")[0] for line in (ROOT / "requirements-dashboard.txt").read_text().splitlines()
                if line and not line.startswith("#")]
    assert "torch" not in packages and "transformers" not in packages and "streamlit" in packages


def test_compose_puts_the_dashboards_behind_a_sticky_websocket_proxy():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    proxy = services["proxy"]
    assert proxy["ports"] == ["8501:80"] and "./docker/nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    assert "ports" not in services["dashboard"]  # scalable: no fixed host port per dashboard
    assert proxy["depends_on"]["dashboard"]["condition"] == "service_healthy"
    conf = (ROOT / "docker" / "nginx.conf").read_text()
    assert "hash $cookie__streamlit_xsrf consistent" in conf and "proxy_set_header Upgrade" in conf
    assert "server dashboard:8501" in conf


def test_compose_tls_override_serves_https_from_a_certificate_volume_and_trusts_only_its_proxy():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert services["dashboard"]["environment"]["DECODELAB_TRUSTED_PROXIES"] == "${DECODELAB_TRUSTED_PROXIES:-proxy}"
    proxy = yaml.safe_load((ROOT / "docker-compose.tls.yml").read_text())["services"]["proxy"]
    assert "443:443" in proxy["ports"] and "./docker/nginx-tls.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    assert "${DECODELAB_TLS_DIR:-./certs}:/etc/nginx/certs:ro" in proxy["volumes"]
    tls = (ROOT / "docker" / "nginx-tls.conf").read_text()
    assert "return 301 https://$host$request_uri;" in tls and "ssl_certificate /etc/nginx/certs/decodelab.crt;" in tls
    for conf in ("nginx.conf", "nginx-tls.conf"):
        text = (ROOT / "docker" / conf).read_text()
        assert "$uri $server_protocol" in text and "$request_uri\"" not in text and "$request " not in text
        assert "proxy_set_header X-Real-IP $remote_addr;" in text


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_compose_with_the_tls_override_validates():
    args = ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "-f", str(ROOT / "docker-compose.tls.yml"),
            "config"]
    done = subprocess.run(args, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    proxy = yaml.safe_load(done.stdout)["services"]["proxy"]
    assert {p["published"] for p in proxy["ports"]} >= {80, 443}


def test_compose_watches_the_service_with_prometheus_grafana_and_the_redis_exporter():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    assert services["prometheus"]["ports"] == ["127.0.0.1:9090:9090"]  # no login of its own: not on the network
    grafana = services["grafana"]
    assert "GRAFANA_ADMIN_PASSWORD" in grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    for volume in grafana["volumes"][:2]:
        assert (ROOT / volume.split(":")[0]).is_dir(), volume
    exporter = services["redis-exporter"]["environment"]
    assert exporter["REDIS_EXPORTER_CHECK_KEYS"] == "rq:queue:${DECODELAB_PREFIX:-dl}:model:*"
    # what Prometheus scrapes is what the processes serve
    scrape = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())["scrape_configs"]
    ports = {job["job_name"]: job["dns_sd_configs"][0]["port"] for job in scrape if "dns_sd_configs" in job}
    assert services["worker"]["environment"]["DECODELAB_WORKER_METRICS_PORT"] == ports["decodelab-worker"]
    assert services["dashboard"]["environment"]["DECODELAB_DASHBOARD_METRICS_PORT"] == ports["decodelab-dashboard"]
    # the provisioned dashboard uses the provisioned data source
    source = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    board = json.loads((ROOT / "deploy/grafana/dashboards/decodelab.json").read_text())
    assert {panel["datasource"]["uid"] for panel in board["panels"]} == {source["datasources"][0]["uid"]}


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_compose_refuses_to_run_grafana_without_its_password():
    missing = compose_config({k: v for k, v in ENV.items() if k != "GRAFANA_ADMIN_PASSWORD"})
    assert missing.returncode != 0 and "GRAFANA_ADMIN_PASSWORD" in missing.stderr
