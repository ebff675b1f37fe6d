"""The GitHub Pages workflow: it cannot run here, so its essential keys are checked instead."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "pages.yml").read_text())
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def steps(job: str) -> list[dict]:
    return WORKFLOW["jobs"][job]["steps"]


def uses(job: str) -> list[str]:
    return [step["uses"].split("@")[0] for step in steps(job) if "uses" in step]


def runs(job: str) -> str:
    return "\n".join(step.get("run", "") for step in steps(job))


def test_runs_on_every_push_to_the_books_branch_and_by_hand():
    triggers = WORKFLOW.get("on", WORKFLOW.get(True))  # YAML 1.1 reads a bare `on` as True
    assert triggers["push"]["branches"] == [CONFIG["repository"]["branch"]]
    assert "workflow_dispatch" in triggers
    assert WORKFLOW["concurrency"]["group"] == "pages"


def test_build_installs_the_pins_and_builds_the_stored_book():
    setup = next(s for s in steps("build") if s.get("uses", "").startswith("actions/setup-python@"))
    assert str(setup["with"]["python-version"]) == "3.11"
    commands = runs("build")
    assert "pip install -r requirements.txt" in commands
    assert "pip install --no-deps -e lib" in commands
    assert "jupyter-book build . -W -n --keep-going" in commands
    assert CONFIG["execute"]["execute_notebooks"] == "off"  # the build must not train models
    assert uses("build") == ["actions/checkout", "actions/setup-python", "actions/configure-pages",
                             "actions/upload-pages-artifact"]
    upload = next(s for s in steps("build") if "upload-pages-artifact" in s.get("uses", ""))
    assert upload["with"]["path"] == "_build/html"


def test_deploy_job_has_the_pages_permissions_and_environment():
    deploy = WORKFLOW["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert uses("deploy") == ["actions/deploy-pages"]
    step = steps("deploy")[0]
    assert deploy["environment"]["url"] == f"${{{{ steps.{step['id']}.outputs.page_url }}}}"
    # Nothing else may write: the workflow's default token only reads.
    assert WORKFLOW["permissions"] == {"contents": "read"}
