"""The GitHub workflows cannot run here, so what they would do is checked instead: the tests
workflow runs CI (.ci/run) on every push and pull request, in a time limit, on the project's
datasets put beside the checkout; the Pages workflow publishes what the README's .ci/book builds."""

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = {path.stem: yaml.safe_load(path.read_text())
             for path in (ROOT / ".github" / "workflows").glob("*.yml")}
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def triggers(workflow: dict) -> dict:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True


def scripts(step: dict) -> list[str]:
    """The repository's commands a step runs, e.g. ['.ci/run']."""
    return re.findall(r"\bbash (\.ci/[\w.-]+)", step.get("run", ""))


def job_running(workflow: dict, script: str) -> dict:
    jobs = [job for job in workflow["jobs"].values()
            if any(script in scripts(step) for step in job["steps"])]
    assert len(jobs) == 1, f"expected one job that runs {script}, found {len(jobs)}"
    return jobs[0]


def step_index(job: dict, script: str) -> int:
    return next(i for i, step in enumerate(job["steps"]) if script in scripts(step))


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_every_command_a_workflow_runs_exists_and_only_pages_deployment_may_write(name):
    workflow = WORKFLOWS[name]
    for job in workflow["jobs"].values():
        for step in job.get("steps", []):
            for script in scripts(step):
                assert os.access(ROOT / script, os.X_OK), f"{name}: {script} is not a command"
    assert workflow["permissions"] == {"contents": "read"}
    writers = {job_name: job["permissions"] for job_name, job in workflow["jobs"].items()
               if "write" in job.get("permissions", {}).values()}
    assert all(job["steps"][0]["uses"].startswith("actions/deploy-pages@")
               for job_name, job in workflow["jobs"].items() if job_name in writers), writers


def test_ci_runs_on_every_push_and_pull_request_within_a_time_limit():
    workflow = WORKFLOWS["tests"]
    on = triggers(workflow)
    for event in ("push", "pull_request"):
        assert event in on and not (on[event] or {}).get("branches"), f"{event}: not every one"
    job = job_running(workflow, ".ci/run")
    assert isinstance(job["timeout-minutes"], int) and job["timeout-minutes"] > 0


def test_ci_first_puts_the_datasets_beside_the_checkout_and_names_them(tmp_path):
    """The data step, run in a stand-in checkout: it sets GENLAB_DATA for the later steps to
    ../shared/data, where .ci/setup looks too, and fills that folder with .ci/data."""
    job = job_running(WORKFLOWS["tests"], ".ci/run")
    data_step = step_index(job, ".ci/data")
    assert data_step < step_index(job, ".ci/run")
    checkout = tmp_path / "repository"
    (checkout / ".ci").mkdir(parents=True)
    (checkout / ".ci" / "data").write_text('echo "$@" > called-with\n')
    github_env = tmp_path / "github-env"
    environment = {key: value for key, value in os.environ.items() if key != "GENLAB_DATA"}
    subprocess.run(["bash", "-e", "-c", job["steps"][data_step]["run"]], cwd=checkout,
                   env={**environment, "GITHUB_ENV": str(github_env)}, check=True, timeout=60)
    folder = str(tmp_path / "shared" / "data")
    assert github_env.read_text().splitlines() == [f"GENLAB_DATA={folder}"]
    assert (checkout / "called-with").read_text().split() == [folder]


def test_ci_names_colabs_python_for_the_colab_check_that_ci_runs():
    # On one core after the other check; on two, beside it on core 1.
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    commands = [line.split("#")[0].strip() for line in lines]
    assert "bash .ci/colab" in commands
    assert any(c.startswith("taskset -c 1 bash .ci/colab ") and c.endswith("&") for c in commands)
    job = job_running(WORKFLOWS["tests"], ".ci/run")
    [step] = [s for s in job["steps"] if "COLAB_PYTHON=" in s.get("run", "")]
    assert job["steps"].index(step) < step_index(job, ".ci/run")
    assert ".ci/colab-requirements.txt" in step["run"], "the version comes from Colab's pins"


def test_pages_publish_what_the_readme_build_command_builds_from_stored_outputs():
    workflow = WORKFLOWS["pages"]
    on = triggers(workflow)
    assert on["push"]["branches"] == [CONFIG["repository"]["branch"]]
    job = job_running(workflow, ".ci/book")
    upload = next(i for i, step in enumerate(job["steps"])
                  if step.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert step_index(job, ".ci/book") < upload
    assert "jupyter-book build . " in (ROOT / ".ci" / "book").read_text()  # into _build/html
    assert job["steps"][upload]["with"]["path"] == "_build/html"
    assert CONFIG["execute"]["execute_notebooks"] == "off"  # the build must not train models
    deploy = next(job for job in workflow["jobs"].values()
                  if job["steps"][0].get("uses", "").startswith("actions/deploy-pages@"))
    assert deploy["needs"] in workflow["jobs"] and workflow["jobs"][deploy["needs"]] is job
