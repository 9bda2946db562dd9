"""Deployment files, read in Python: the Dockerfile, the manifests `kubectl kustomize` renders
from each overlay, the Terraform (python-hcl2) and the workflows must say what the service needs.
No Docker engine, cluster or cloud account is needed.

The deploy linters (hadolint, kubernetes-validate, checkov, actionlint) are not tests: they run in
`make lint` (scripts/lint_deploy.py).
"""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
import sys
from pathlib import Path, PurePosixPath

import hcl2
import pytest
import yaml

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent  # kubectl
OVERLAYS = ("local", "aks")
# Microsoft 365 endpoint set 56 (Entra ID sign-in), IPv4; see overlays/aks/entra-egress.yaml.
ENTRA_ID_RANGES = {"20.20.32.0/19", "20.190.128.0/18", "20.231.128.0/19", "40.126.0.0/18"}
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


def test_dockerfile_is_multi_stage_non_root_with_healthcheck():
    text = (ROOT / "Dockerfile").read_text()
    assert text.count("\nFROM ") >= 2  # build and runtime stages
    assert "download.pytorch.org/whl/cpu" in text  # CPU torch
    assert "\nUSER 10001:10001" in text and "\nHEALTHCHECK " in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "data", "mlartifacts"} <= set(ignored)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_render_hardened_pods(overlay):
    docs = render(overlay)
    assert {d["kind"] for d in docs} == KINDS

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


def _container_settings(docs: list[dict], deployment: str, monkeypatch):
    """The Settings a Deployment's container runs with: the image's params.yaml, overridden by
    the ConfigMap and the container's own env (a misspelt TEXTREPAIR_ name fails here)."""
    from textrepair.config import load_settings

    container = named(docs, "Deployment", deployment)["spec"]["template"]["spec"]["containers"][0]
    env = dict(named(docs, "ConfigMap", "textrepair-config")["data"])
    env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    for name in [n for n in os.environ if n.startswith("TEXTREPAIR_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings(ROOT / "deploy" / "docker" / "params.yaml")


def _volume_of(pod: dict, path: str) -> tuple[dict, dict]:
    """(mount, volume) holding `path` in the pod's first container; fails for a path on the
    image's read-only root filesystem."""
    assert PurePosixPath(path).is_absolute(), f"{path}: relative to the image's WORKDIR"
    mounts = pod["containers"][0]["volumeMounts"]
    holding = [m for m in mounts if PurePosixPath(path).is_relative_to(m["mountPath"])]
    assert holding, f"{path} is on the read-only root filesystem"
    mount = max(holding, key=lambda m: len(m["mountPath"]))
    return mount, next(v for v in pod["volumes"] if v["name"] == mount["name"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_api_writes_its_spill_file_to_a_volume_and_reads_both_keys_from_secrets(
    overlay, monkeypatch
):
    """The prediction log's spill file is on a writable volume of its own (the root filesystem
    is read-only, and /tmp is scratch space); the API key and the admin key are files of two
    different Secrets, and neither key is in the ConfigMap or the environment."""
    docs = render(overlay)
    pod = named(docs, "Deployment", "textrepair")["spec"]["template"]["spec"]
    settings = _container_settings(docs, "textrepair", monkeypatch)

    mount, volume = _volume_of(pod, settings.monitor.spill_file)
    assert not mount.get("readOnly") and mount["mountPath"] != "/tmp"
    assert volume["emptyDir"]["sizeLimit"] and volume["emptyDir"].get("medium") != "Memory"

    assert settings.serve.api_key is None and settings.serve.admin_api_key is None
    secrets = {}
    for name, path in (
        ("api", settings.serve.api_key_file),
        ("admin", settings.serve.admin_api_key_file),
    ):
        mount, volume = _volume_of(pod, path)
        assert mount["readOnly"] and "items" not in volume["secret"]  # the key's name is the file
        secrets[name] = (volume["secret"]["secretName"], volume["secret"]["optional"])
    # No API key, no pod; no admin key, /admin/reload stays disabled (see the next test).
    assert secrets == {
        "api": ("textrepair-api-key", False),
        "admin": ("textrepair-admin-key", True),
    }


def test_an_absent_admin_key_secret_disables_admin_and_a_mounted_one_is_the_key(tmp_path):
    """What the optional admin Secret means to the server: no file, no admin (never an open
    /admin); a mounted file is the key, surrounding whitespace cut."""
    from textrepair.config import ServeConfig
    from textrepair.serve.app import admin_api_key

    path = tmp_path / "textrepair-admin" / "admin-api-key"
    config = ServeConfig(admin_api_key_file=str(path))
    assert admin_api_key(config) is None
    path.parent.mkdir()
    path.write_text("s3cret-admin\n")
    assert admin_api_key(config) == "s3cret-admin"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_stream_writes_only_to_its_volumes(overlay, monkeypatch):
    docs = render(overlay)
    pod = named(docs, "Deployment", "textrepair-stream")["spec"]["template"]["spec"]
    stream = _container_settings(docs, "textrepair-stream", monkeypatch).stream
    for path in (stream.landing, stream.checkpoint, stream.metrics_file):
        mount, volume = _volume_of(pod, path)
        assert not mount.get("readOnly") and "persistentVolumeClaim" in volume, path


def test_entra_id_egress_is_https_to_its_published_ranges_only():
    policy = named(render("aks"), "NetworkPolicy", "textrepair-entra-id")
    (rule,) = policy["spec"]["egress"]
    assert rule["ports"] == [{"port": 443, "protocol": "TCP"}]
    cidrs = {to["ipBlock"]["cidr"] for to in rule["to"]}
    assert all(set(to) == {"ipBlock"} and "except" not in to["ipBlock"] for to in rule["to"])
    assert cidrs == ENTRA_ID_RANGES
    for cidr in cidrs:  # public and no wider than Microsoft publishes them (/18 at most)
        network = ipaddress.ip_network(cidr)
        assert network.is_global and network.prefixlen >= 18, cidr
    assert "textrepair-entra-id" not in {d["metadata"]["name"] for d in render("local")}


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


_REFERENCE = re.compile(
    r"(?<![\w.-])(?:(var|local)\.(\w+)|data\.(\w+)\.(\w+)|(azurerm_\w+)\.(\w+))"
)


def _expressions(value, key: str = ""):
    """Every string of a parsed file (python-hcl2 keeps expressions as "${...}" strings), its
    comments left out."""
    if key.startswith("__"):
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _expressions(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _expressions(v, key)
    elif isinstance(value, str):
        yield value


def test_every_terraform_file_parses_and_every_reference_is_declared():
    """What `terraform validate` would catch first, without terraform: each file parses
    (python-hcl2), and every var., local., data. and resource reference names something
    declared in the module. Plus the blocks issue 20 asks for."""
    files = sorted((ROOT / "deploy" / "terraform").glob("*.tf"))
    assert {p.name for p in files} >= {"main.tf", "versions.tf", "variables.tf", "outputs.tf"}
    parsed = {}
    for path in files:
        with path.open() as handle:
            parsed[path.name] = _unquote(hcl2.load(handle))  # a syntax error raises here
    declared: dict[str, set] = {"var": set(), "local": set(), "data": set(), "resource": set()}
    for tree in parsed.values():
        for block in tree.get("variable", []):
            declared["var"] |= set(block)
        for block in tree.get("locals", []):
            declared["local"] |= {k for k in block if not k.startswith("__")}
        for kind in ("data", "resource"):
            for block in tree.get(kind, []):
                for type_, names in block.items():
                    declared[kind] |= {(type_, name) for name in names}
    used = [m.groups() for tree in parsed.values() for s in _expressions(tree)
            for m in _REFERENCE.finditer(s)]  # fmt: skip
    assert len(used) > 50  # the pattern does see the references
    undeclared = set()
    for scope, name, data_type, data_name, type_, resource_name in used:
        if scope:
            ok = name in declared[scope]
        elif data_type:
            ok = (data_type, data_name) in declared["data"]
        else:
            ok = (type_, resource_name) in declared["resource"]
        if not ok:
            undeclared.add(scope or data_type or type_)
    assert not undeclared, undeclared
    unused = declared["var"] - {name for scope, name, *_ in used if scope == "var"}
    assert not unused, f"variables nothing reads: {unused}"

    resources = {type_ for type_, _ in declared["resource"]}
    assert {
        "azurerm_key_vault",  # the secrets add-on's vault
        "azurerm_user_assigned_identity",  # Workload Identity, one per service account
        "azurerm_federated_identity_credential",
        "azurerm_private_endpoint",  # storage behind its firewall, reached from the VNet
        "azurerm_private_dns_zone_virtual_network_link",
        "azurerm_subnet",
    } <= resources
    backend = parsed["versions.tf"]["terraform"][0]["backend"][0]
    assert set(backend) == {"azurerm"}
    assert {"resource_group_name", "container_name", "key"} <= set(backend["azurerm"])
    # The private endpoints cover what the pods use: blob and dfs (the lake), the vault.
    targets = parsed["network.tf"]["locals"][0]["private_targets"]
    assert set(targets) == {"blob", "dfs", "vault"}
    storage = tf_resource(parsed, "azurerm_storage_account", "lake")
    assert storage["network_rules"][0]["default_action"] == "Deny"
    assert storage["shared_access_key_enabled"] is False


def tf_resource(parsed: dict, type_: str, name: str) -> dict:
    return next(
        block[type_][name]
        for tree in parsed.values()
        for block in tree.get("resource", [])
        if name in block.get(type_, {})
    )


def test_the_terraform_firewall_ranges_are_checked():
    """api_authorized_ip_ranges opens the API server, the Key Vault and the lake: it carries
    a validation, and its default passes the same rules (IPv4 CIDRs, none /0 or /31)."""
    with (ROOT / "deploy" / "terraform" / "variables.tf").open() as handle:
        variables = {k: v for b in _unquote(hcl2.load(handle))["variable"] for k, v in b.items()}
    ranges = variables["api_authorized_ip_ranges"]
    (validation,) = ranges["validation"]
    assert "cidrnetmask(cidr)" in validation["condition"]
    assert '"0", "31"' in validation["condition"]
    for cidr in ranges["default"]:
        network = ipaddress.ip_network(cidr)
        assert network.version == 4 and network.prefixlen not in (0, 31), cidr
        assert not network.is_global, "the default is a placeholder that reaches nothing"


def test_workflows_do_what_they_say():
    """One CI entry point: the workflow and .ci/run both run `make test`, which lints first."""
    ci = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    assert any(step.get("run") == "make test" for step in ci["jobs"]["test"]["steps"])
    assert "\nmake test\n" in (ROOT / ".ci" / "run").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "\ntest: lint\n" in makefile and "scripts/lint_deploy.py" in makefile
    cd = (ROOT / ".github" / "workflows" / "cd.yml").read_text()
    assert "docker/build-push-action" in cd and "rollout status" in cd and "overlays/aks" in cd


def test_the_image_parameters_are_valid_settings_for_the_service():
    from textrepair.config import load_settings

    settings = load_settings(ROOT / "deploy" / "docker" / "params.yaml")
    assert (settings.serve.host, settings.serve.port) == ("0.0.0.0", 8000)
    assert settings.serve.model == "/models/textrepair"  # where the Dockerfile puts a baked model
    assert "/models/textrepair" in (ROOT / "Dockerfile").read_text()
