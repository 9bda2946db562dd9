"""Lint the deployment files with the tools a reviewer would run (part of `make lint`).

    hadolint             Dockerfile
    kubernetes-validate  each overlay of deploy/k8s, rendered with `kubectl kustomize`, --strict
    checkov              the rendered overlays and deploy/terraform: no failed check at all (offline
                         it reports no severities), and every skip carries its reason
    actionlint           .github/workflows/*.yml

hadolint, kubectl, kubernetes-validate and actionlint come from the project venv (the one running
this script); checkov from the tools venv (.venv-tools, made by scripts/bootstrap.sh, because its
pins conflict with ours) or $TEXTREPAIR_CHECKOV. Every linter runs; the exit status is 1 if any
found something and 2 if one is not installed (and none found anything).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OVERLAYS = ("local", "aks")
FOUND, MISSING = 1, 2


class ToolMissingError(Exception):
    """A linter (or kubectl) is not installed."""


def tool(name: str) -> str:
    """The executable beside this interpreter (the project venv), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise ToolMissingError(f"{name} is not installed: run scripts/bootstrap.sh (make venv)")
    return found


def checkov() -> str:
    path = Path(os.environ.get("TEXTREPAIR_CHECKOV", ROOT / ".venv-tools" / "bin" / "checkov"))
    if not path.exists():
        raise ToolMissingError(f"checkov is not installed at {path}: run scripts/bootstrap.sh")
    return str(path)


def run(*command: str | Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(c) for c in command], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def findings(done: subprocess.CompletedProcess) -> list[str]:
    """A linter's output as findings when it exits non-zero."""
    if done.returncode == 0:
        return []
    return [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]


def render(overlay: str, folder: Path) -> Path:
    """The overlay rendered by kubectl kustomize into `folder` (once)."""
    path = folder / f"k8s-{overlay}.yaml"
    if not path.exists():
        done = run(tool("kubectl"), "kustomize", f"deploy/k8s/overlays/{overlay}")
        if done.returncode != 0:
            raise RuntimeError(f"kubectl kustomize {overlay}: {done.stderr}")
        path.write_text(done.stdout)
    return path


def hadolint(_: Path) -> list[str]:
    return findings(run(tool("hadolint"), "Dockerfile"))


def kubernetes_validate(rendered: Path) -> list[str]:
    validate = tool("kubernetes-validate")
    return [
        finding
        for overlay in OVERLAYS
        for finding in findings(run(validate, "--strict", "--quiet", render(overlay, rendered)))
    ]


def checkov_findings(rendered: Path) -> list[str]:
    """Failed checks, skips without a reason, and a framework that checked nothing."""
    executable = checkov()
    for overlay in OVERLAYS:
        render(overlay, rendered)
    shutil.copytree(ROOT / "deploy" / "terraform", rendered / "terraform")
    command = [executable, "-d", rendered, "--framework", "kubernetes", "terraform"]
    done = run(*command, "--output", "json", "--skip-download", timeout=600)
    try:
        reports = json.loads(done.stdout)
    except json.JSONDecodeError:
        return [f"checkov gave no JSON report (exit {done.returncode}): {done.stderr[-2000:]}"]
    reports = reports if isinstance(reports, list) else [reports]
    problems = [
        f"{c['check_id']} failed: {c['resource']} ({c['file_path']})"
        for r in reports
        for c in r["results"]["failed_checks"]
    ]
    problems += [
        f"{c['check_id']} skipped without a reason: {c['resource']} ({c['file_path']})"
        for r in reports
        for c in r["results"]["skipped_checks"]
        if not c["check_result"].get("suppress_comment")
    ]
    checked = {r["check_type"] for r in reports}
    problems += [
        f"checkov checked no {kind} file" for kind in {"kubernetes", "terraform"} - checked
    ]
    return problems


def actionlint(_: Path) -> list[str]:
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    return findings(run(tool("actionlint"), *workflows))


LINTERS: dict[str, Callable[[Path], list[str]]] = {
    "hadolint": hadolint,
    "kubernetes-validate": kubernetes_validate,
    "checkov": checkov_findings,
    "actionlint": actionlint,
}


def lint(rendered: Path) -> int:
    """Run every linter on the files (overlays rendered into `rendered`), print what each found;
    the exit status."""
    status = 0
    for name, linter in LINTERS.items():
        try:
            problems = linter(rendered)
        except ToolMissingError as missing:
            print(f"{name}: NOT RUN, {missing}")
            status = status or MISSING
            continue
        except RuntimeError as error:  # the manifests do not render
            problems = [str(error)]
        print(f"{name}: {'ok' if not problems else f'{len(problems)} finding(s)'}")
        for problem in problems:
            print(f"  {problem}")
        status = FOUND if problems else status
    return status


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="lint-deploy-") as folder:
        return lint(Path(folder))


if __name__ == "__main__":
    sys.exit(main())
