"""pyproject.toml: the installed package holds what a deployment imports, nothing else (issue 21)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parent.parent
DEPLOYED = {"dashboard", "shared", "worker"}          # what the two images run (docker/*.Dockerfile)
CHECKOUT_ONLY = {"bench", "scripts", "devtools", "tests"}  # run from a checkout's root, never installed


def test_the_package_installs_only_the_dashboard_the_worker_and_their_contract():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = find_packages(where=str(ROOT), include=config["include"], exclude=config.get("exclude", ()))
    assert {name.split(".")[0] for name in packages} == DEPLOYED
    assert {"shared.contract", "shared.services", "shared.teaching"} <= set(packages)


def test_deployed_code_never_imports_what_only_a_checkout_has():
    """The images copy shared/ with dashboard/ or worker/ alone: an import of bench, scripts or devtools
    from them would break a deployment that no test run from the checkout's root notices."""
    found = []
    for folder in DEPLOYED:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
                found += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in CHECKOUT_ONLY]
    assert not found, found


def test_each_image_copies_every_deployed_folder_it_imports():
    for image, runs in (("dashboard", "dashboard"), ("worker", "worker")):
        dockerfile = (ROOT / "docker" / f"{image}.Dockerfile").read_text()
        copied = {line.split()[1].rstrip("/") for line in dockerfile.splitlines() if line.startswith("COPY ")}
        assert {"shared", runs} <= copied and not copied & CHECKOUT_ONLY, (image, copied)
