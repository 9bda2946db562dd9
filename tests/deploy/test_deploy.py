"""Deployment files, checked with the tools a reviewer would run: hadolint (Dockerfile),
kubectl kustomize + kubernetes-validate (manifests), python-hcl2 (Terraform), checkov (manifests
and Terraform), actionlint (workflows). No Docker engine, cluster or cloud account is needed.

checkov runs from the tools venv (.venv-tools, made by scripts/bootstrap.sh) because its pins
conflict with ours; offline it reports no severities, so the bar is stricter than "no high":
no failed check at all, and every skip in the files carries its reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import hcl2
import pytest
import yaml

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent  # hadolint, kubectl, kubernetes-validate, actionlint
CHECKOV = Path(os.environ.get("TEXTREPAIR_CHECKOV", ROOT / ".venv-tools" / "bin" / "checkov"))
OVERLAYS = ("local", "aks")
KINDS = {
    "Namespace", "ServiceAccount", "ConfigMap", "Deployment", "Service", "Ingress",
    "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "PersistentVolumeClaim",
}  # fmt: skip


def run(*command: str | Path) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(c) for c in command], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{command}: {done.stdout}\n{done.stderr}"
    return done


def render(overlay: str) -> list[dict]:
    out = run(BIN / "kubectl", "kustomize", f"deploy/k8s/overlays/{overlay}").stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def named(docs: list[dict], kind: str, name: str) -> dict:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def test_dockerfile_is_hadolint_clean_multi_stage_non_root_with_healthcheck():
    run(BIN / "hadolint", "Dockerfile")
    text = (ROOT / "Dockerfile").read_text()
    assert text.count("\nFROM ") >= 2  # build and runtime stages
    assert "download.pytorch.org/whl/cpu" in text  # CPU torch
    assert "\nUSER 10001:10001" in text and "\nHEALTHCHECK " in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "data", "mlartifacts"} <= set(ignored)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_render_to_valid_kubernetes(overlay, tmp_path):
    docs = render(overlay)
    assert {d["kind"] for d in docs} == KINDS
    rendered = tmp_path / f"{overlay}.yaml"
    rendered.write_text(yaml.safe_dump_all(docs))
    run(BIN / "kubernetes-validate", "--strict", "--quiet", rendered)

    api = named(docs, "Deployment", "textrepair")["spec"]["template"]["spec"]
    container = api["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert {"requests", "limits"} <= set(container["resources"])
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] and not security["allowPrivilegeEscalation"]
        assert security["capabilities"]["drop"] == ["ALL"]
        assert pod["securityContext"]["runAsNonRoot"]
        assert "/tmp" in {m["mountPath"] for m in container["volumeMounts"]}
    assert all(d["metadata"].get("namespace", "textrepair") == "textrepair" for d in docs)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_are_safe_by_default(overlay):
    """Issue 20: key required, TLS and one public route, durable lake, narrow egress, one stream."""
    docs = render(overlay)
    api = named(docs, "Deployment", "textrepair")["spec"]["template"]["spec"]
    secret = next(v["secret"] for v in api["volumes"] if "secret" in v)
    assert secret["secretName"] == "textrepair-api-key" and secret["optional"] is False
    config = named(docs, "ConfigMap", "textrepair-config")["data"]
    assert config["TEXTREPAIR_SERVE__ALLOW_ANONYMOUS"] == "false"

    ingress = named(docs, "Ingress", "textrepair")
    rule = ingress["spec"]["rules"][0]
    assert ingress["spec"]["tls"][0]["hosts"] == [rule["host"]]
    assert [p["path"] for p in rule["http"]["paths"]] == ["/v1/repair"]
    assert int(ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/limit-rps"]) > 0

    root = config["TEXTREPAIR_STORAGE__ROOT"]
    if overlay == "aks":
        assert root.startswith("abfss://")
    else:  # a volume claim, mounted where the root points
        mounts = {m["mountPath"]: m["name"] for m in api["containers"][0]["volumeMounts"]}
        lake = next(v for v in api["volumes"] if v["name"] == mounts[root])
        assert lake["persistentVolumeClaim"]["claimName"] == "textrepair-lake"

    for policy in (d for d in docs if d["kind"] == "NetworkPolicy"):
        assert all(rule.get("to") for rule in policy["spec"].get("egress", []))  # no open rule

    stream = named(docs, "Deployment", "textrepair-stream")["spec"]
    assert stream["replicas"] == 1 and stream["strategy"] == {"type": "Recreate"}
    service = named(docs, "Service", "textrepair")["spec"]["selector"]
    assert service["app.kubernetes.io/component"] == "api"  # never the stream's pod


def test_overlays_differ_where_they_should():
    local, aks = ({(d["kind"], d["metadata"]["name"]): d for d in render(o)} for o in OVERLAYS)
    api, config = ("Deployment", "textrepair"), ("ConfigMap", "textrepair-config")
    image = {
        name: docs[api]["spec"]["template"]["spec"]["containers"][0]["image"]
        for name, docs in (("local", local), ("aks", aks))
    }
    assert image == {
        "local": "textrepair:local",
        "aks": "textrepairacr.azurecr.io/textrepair:0.1.0",
    }
    assert local[api]["spec"]["replicas"] == 1
    assert aks[config]["data"]["TEXTREPAIR_SERVE__MODEL"] == "models:/textrepair@champion"
    assert local[config]["data"]["TEXTREPAIR_SERVE__MODEL"] == "/models/textrepair"


def _terraform() -> dict:
    merged: dict = {"resource": {}, "output": {}, "variable": {}}
    for path in sorted((ROOT / "deploy" / "terraform").glob("*.tf")):
        with path.open() as handle:
            parsed = _unquote(hcl2.load(handle))
        for block in parsed.get("resource", []):
            for kind, named in block.items():
                merged["resource"].setdefault(kind, {}).update(named)
        for key in ("output", "variable"):
            for block in parsed.get(key, []):
                merged[key].update(block)
    return merged


def _unquote(value):
    """python-hcl2 8 keeps the quotes of block labels and strings: drop them."""
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def test_terraform_declares_the_azure_platform_and_its_outputs():
    tf = _terraform()
    for kind in (
        "azurerm_resource_group",
        "azurerm_container_registry",
        "azurerm_kubernetes_cluster",
        "azurerm_storage_account",
        "azurerm_storage_data_lake_gen2_filesystem",
        "azurerm_role_assignment",
    ):
        assert kind in tf["resource"], kind
    storage = tf["resource"]["azurerm_storage_account"]["lake"]
    assert storage["is_hns_enabled"] is True  # ADLS Gen2
    assert set(tf["resource"]["azurerm_storage_data_lake_gen2_filesystem"]) == {"lake", "mlflow"}
    assert tf["resource"]["azurerm_container_registry"]["main"]["admin_enabled"] is False
    assert {"acr_login_server", "aks_name", "lake_uri", "mlflow_artifact_uri"} <= set(tf["output"])


def test_terraform_is_safe_by_default():
    """Issue 20: Workload Identity, private storage access, the Key Vault, remote state."""
    tf = _terraform()
    resources = tf["resource"]
    aks = resources["azurerm_kubernetes_cluster"]["main"]
    assert aks["oidc_issuer_enabled"] is True and aks["workload_identity_enabled"] is True
    credentials = resources["azurerm_federated_identity_credential"]["workload"]
    assert "system:serviceaccount:textrepair:" in credentials["subject"]
    assignments = resources["azurerm_role_assignment"].items()
    roles = {name: r["role_definition_name"] for name, r in assignments}
    assert roles["api_reads_lake"] == "Storage Blob Data Reader"  # its only write: an ACL
    assert "Contributor" not in roles["workloads_read_mlflow"]
    assert "aks_storage" not in roles  # the nodes' identity no longer reaches the lake
    endpoints = resources["azurerm_private_endpoint"]["private"]
    assert endpoints["subnet_id"] == "${azurerm_subnet.endpoints.id}"
    vault = resources["azurerm_key_vault"]["main"]
    assert vault["purge_protection_enabled"] is True
    assert vault["network_acls"][0]["default_action"] == "Deny"
    assert "secrets_addon_reads_vault" in roles
    with (ROOT / "deploy" / "terraform" / "versions.tf").open() as handle:
        backend = _unquote(hcl2.load(handle))["terraform"][0]["backend"][0]
    assert backend["azurerm"]["use_azuread_auth"] is True
    # The pods' egress policy allows the subnet the private endpoints live in.
    subnet = tf["variable"]["endpoints_subnet_cidr"]["default"]
    policy = named(render("aks"), "NetworkPolicy", "textrepair-egress")
    assert {"ipBlock": {"cidr": subnet}} in [to for r in policy["spec"]["egress"] for to in r["to"]]


def test_checkov_finds_no_failed_check_in_manifests_or_terraform(tmp_path):
    assert CHECKOV.exists(), f"{CHECKOV} is missing: run scripts/bootstrap.sh (tools venv)"
    for overlay in OVERLAYS:
        (tmp_path / f"k8s-{overlay}.yaml").write_text(yaml.safe_dump_all(render(overlay)))
    shutil.copytree(ROOT / "deploy" / "terraform", tmp_path / "terraform")
    done = subprocess.run(
        [str(CHECKOV), "-d", str(tmp_path), "--framework", "kubernetes", "terraform",
         "--output", "json", "--skip-download"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    reports = json.loads(done.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert {r["check_type"] for r in reports} == {"kubernetes", "terraform"}
    failed = [
        (c["check_id"], c["resource"], c["file_path"])
        for r in reports
        for c in r["results"]["failed_checks"]
    ]
    assert failed == []
    assert all(r["summary"]["passed"] > 20 for r in reports)
    skipped = [c for r in reports for c in r["results"]["skipped_checks"]]
    assert all(c["check_result"].get("suppress_comment") for c in skipped)  # a reason each


def test_workflows_are_actionlint_clean_and_do_what_they_say():
    run(BIN / "actionlint", *sorted((ROOT / ".github" / "workflows").glob("*.yml")))
    ci = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    assert any(step.get("run") == "make test" for step in ci["jobs"]["test"]["steps"])
    cd = (ROOT / ".github" / "workflows" / "cd.yml").read_text()
    assert "docker/build-push-action" in cd and "rollout status" in cd and "overlays/aks" in cd


def test_the_image_parameters_are_valid_settings_for_the_service():
    from textrepair.config import load_settings

    settings = load_settings(ROOT / "deploy" / "docker" / "params.yaml")
    assert (settings.serve.host, settings.serve.port) == ("0.0.0.0", 8000)
    assert settings.serve.model == "/models/textrepair"  # where the Dockerfile puts a baked model
    assert "/models/textrepair" in (ROOT / "Dockerfile").read_text()
