"""The reference workflow catalog (workflows/reference/) run for real on tests/sample_project.

Each workflow runs in a fresh copy of the sample project with the real tools (pytest-cov,
mypy, ruff, bandit, pip-audit), the scripted model server playing the agent (the recorded
conversations in tests/functional/conversations/) and local servers on 127.0.0.1 for
everything else (an OSV mirror, a comments API, the deployed service, moto for AWS). Then it
runs again in another fresh copy with the same state: every agent step comes from the cache,
and the model server gets no request.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from xml.etree import ElementTree

import pytest
import yaml
from agent_env import PROVIDERS, provider_env
from baton_cli import WORKFLOWS, Workspace
from catalog_servers import CommentsApi, OsvMirror, ShopService

from baton.testing.modelserver import ModelServer

HERE = Path(__file__).resolve().parent
CATALOG = WORKFLOWS / "reference"
SAMPLE = HERE.parent / "sample_project"
CONVERSATIONS = HERE / "conversations"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Sam Ple",
    "GIT_AUTHOR_EMAIL": "sam@example.com",
    "GIT_COMMITTER_NAME": "Sam Ple",
    "GIT_COMMITTER_EMAIL": "sam@example.com",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}
# The change code-review.yaml reviews (conversations/code-review.yaml comments on its lines).
BULK_PRICE = '''

def bulk_price(unit_price: float, quantity: int) -> float:
    """The price of ``quantity`` units: 10% off from 10 units on."""
    if quantity > 10:
        return unit_price * quantity * 0.9
    return unit_price * quantity
'''


def agent_steps(workflow: str) -> list[str]:
    """The ids of the workflow's agent steps."""
    data = yaml.safe_load((CATALOG / f"{workflow}.yaml").read_text())
    return [step["id"] for step in data["steps"] if step.get("type") in ("agent", "claude_code")]


@dataclass
class Catalog:
    """One catalog workflow with its scripted agent, run in fresh copies of the sample
    project that share one state directory (so one cache)."""

    workflow: str
    root: Path
    model: ModelServer
    env: dict[str, str]
    workspaces: list[Workspace] = field(default_factory=list)

    def project(self, **env: str) -> Workspace:
        """A fresh copy of the sample project."""
        path = self.root / f"project-{len(self.workspaces) + 1}"
        shutil.copytree(SAMPLE, path, ignore=shutil.ignore_patterns("__pycache__", ".*_cache", ".coverage*"))
        workspace = Workspace(path, env={**self.env, **env})
        self.workspaces.append(workspace)
        return workspace

    def run(self, workspace: Workspace, *inputs: str, expect: int = 0) -> dict[str, Any]:
        """``baton run`` of the workflow with ``name=value`` inputs; the execution record."""
        arguments = [part for given in inputs for part in ("--input", given)]
        return workspace.run_json("run", str(CATALOG / f"{self.workflow}.yaml"), *arguments, expect=expect)

    def calls(self) -> int:
        return len(self.model.model_calls())

    def run_twice(self, *inputs: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Two green runs in two fresh copies; the second one's agent steps come from the cache."""
        first = self.run(self.project(), *inputs)
        assert first["status"] == "succeeded", first["error"]
        calls = self.calls()
        second = self.run(self.project(), *inputs)
        assert second["status"] == "succeeded", second["error"]
        assert_cached(self.workflow, first, second)
        assert self.calls() == calls, "the second run asked the model"
        return first, second


def assert_cached(workflow: str, first: dict[str, Any], second: dict[str, Any]) -> None:
    """Every agent step ran in ``first`` and came from the cache in ``second``, with the same answer."""
    for step in agent_steps(workflow):
        assert first["steps"][step]["status"] == "succeeded", (step, first["steps"][step]["error"])
        assert (second["steps"][step]["status"], second["steps"][step]["cache_hit"]) == ("cached", True), step
        assert second["steps"][step]["outputs"]["text"] == first["steps"][step]["outputs"]["text"]
    assert second["agents"]["spent"] == {"input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}


class MakeCatalog(Protocol):
    def __call__(self, workflow: str, script: str | None = ..., **env: str) -> Catalog: ...


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[MakeCatalog]:
    with ExitStack() as servers:

        def make(workflow: str, script: str | None = None, **env: str) -> Catalog:
            conversation: Path | dict[str, Any] = CONVERSATIONS / f"{script or workflow}.yaml"
            if not agent_steps(workflow):
                conversation = {"turns": []}  # no agent: any model request would show
            model = servers.enter_context(ModelServer(conversation))
            environment = {
                **provider_env("bedrock", model.url, tmp_path / "home"),
                "BATON_STATE_DIR": str(tmp_path / "state"),
                **env,
            }
            return Catalog(workflow, tmp_path, model, environment)

        yield make


def _line_rate(report: Path) -> float:
    return float(ElementTree.parse(report).getroot().get("line-rate", "0")) * 100


def _git(path: Path, *args: str) -> str:
    env = {**GIT_ENV, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(["git", *args], cwd=path, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _commit_a_change(path: Path) -> None:
    """The sample project as a git checkout whose last commit adds ``bulk_price``."""
    _git(path, "init", "-q", "-b", "main")
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "The shop")
    with (path / "shop" / "pricing.py").open("a") as source:
        source.write(BULK_PRICE)
    _git(path, "commit", "-q", "-am", "Bulk pricing")


# -- the catalog ------------------------------------------------------------------------------


def test_run_tests_with_coverage_reports_and_enforces_a_floor(catalog: MakeCatalog) -> None:
    shared = catalog("run-tests-with-coverage")

    passed = shared.run(shared.project(), "min_coverage=70")
    below = shared.run(shared.project(), "min_coverage=90", expect=1)

    assert passed["status"] == "succeeded", passed["error"]
    assert 70 < passed["outputs"]["line_coverage"] < 90  # shop/pricing.py is mostly untested
    assert Path(passed["outputs"]["coverage_xml"]).name == "coverage.xml"
    assert below["steps"]["floor"]["status"] == "failed"
    assert "below 90" in below["steps"]["floor"]["error"]


def test_increase_test_coverage(catalog: MakeCatalog) -> None:
    coverage = catalog("increase-test-coverage")

    first, _ = coverage.run_twice("target_file=shop/pricing.py")

    assert first["steps"]["check_current_coverage"]["status"] == "succeeded"  # below 90 before
    assert first["steps"]["generate_tests"]["outputs"]["files_changed"] == ["tests/test_pricing_more.py"]
    for workspace in coverage.workspaces:  # the second copy got the tests from the cache
        assert (workspace.path / "tests" / "test_pricing_more.py").exists()
        assert _line_rate(workspace.path / "coverage.xml") >= 90
    assert first["steps"]["create_pr"]["status"] == "skipped"


def test_fix_typing_errors(catalog: MakeCatalog) -> None:
    typing = catalog("fix-typing-errors")

    first, _ = typing.run_twice("path=shop")

    assert first["outputs"]["errors_before"] == 1
    assert first["outputs"]["files_changed"] == "shop/inventory.py"
    fix = first["steps"]["fix"]["outputs"]
    assert (fix["turns"], fix["denied"]) == (4, [])  # it ran mypy itself, as allowed
    assert "Incompatible return value type" in Path(first["outputs"]["mypy_report"]).read_text()
    for workspace in typing.workspaces:
        assert "def total_weight(items: list[Item]) -> float:" in (workspace.path / "shop" / "inventory.py").read_text()
    assert first["steps"]["mypy_after"]["outputs"]["stdout"].startswith("Success: no issues found")
    assert first["steps"]["tests"]["status"] == "succeeded"


@pytest.mark.parametrize("provider", [p for p in PROVIDERS if p.values[0] != "bedrock"])
def test_the_recorded_conversations_play_on_the_other_providers(catalog: MakeCatalog, provider: str) -> None:
    typing = catalog("fix-typing-errors", BATON_AGENT_PROVIDER=provider)

    record = typing.run(typing.project(), "path=shop")

    assert record["status"] == "succeeded", record["error"]
    fix = record["steps"]["fix"]["outputs"]
    assert (fix["provider"], fix["files_changed"], fix["denied"]) == (provider, ["shop/inventory.py"], [])
    assert record["steps"]["mypy_after"]["status"] == "succeeded"


def test_code_migration(catalog: MakeCatalog) -> None:
    migration = catalog("code-migration")

    first, _ = migration.run_twice(
        "path=shop",
        "change=Use the built-in generics dict and list, and X | None, instead of typing.Dict, List and Optional",
        "check_command=ruff check --no-cache --select UP --output-format concise shop",
    )

    assert "UP035" in first["steps"]["check_before"]["outputs"]["stdout"]
    assert first["outputs"]["files_changed"] == "shop/orders.py"
    assert first["steps"]["check_after"]["status"] == "succeeded"
    # one covered import line fewer: the percentage moves, within the default max_coverage_drop
    assert 0 < first["outputs"]["coverage_before"] - first["outputs"]["coverage_after"] < 1
    for workspace in migration.workspaces:
        assert "typing" not in (workspace.path / "shop" / "orders.py").read_text()


def test_generate_docs(catalog: MakeCatalog) -> None:
    docs = catalog("generate-docs")

    first, second = docs.run_twice("package=shop")

    assert first["outputs"]["missing_before"] == 3  # shop/units.py: the module and two functions
    assert first["steps"]["write_docs"]["outputs"]["files_changed"] == ["docs/api.md", "shop/units.py"]
    assert first["steps"]["page_covers_api"]["outputs"]["stdout"] == "every public function is on the page"
    assert "2 passed" in first["steps"]["doctests"]["outputs"]["stdout"]  # the docstrings' examples
    for record, workspace in zip((first, second), docs.workspaces, strict=True):
        assert Path(record["outputs"]["page"]).read_text().startswith("# shop API")
        assert (workspace.path / "docs" / "api.md").exists()


def test_security_scan(catalog: MakeCatalog) -> None:
    with OsvMirror(HERE / "advisories.json") as osv:
        scan = catalog("security-scan")

        first, _ = scan.run_twice("path=shop", f"osv_url={osv.query_url}")
        gated = scan.run(scan.project(), "path=shop", f"osv_url={osv.query_url}", "fail_on_findings=true", expect=1)

    assert first["outputs"]["code_findings"] == 3  # B404, B602, B324 in shop/export.py
    assert first["outputs"]["high_findings"] == 2
    assert first["outputs"]["vulnerable_packages"] == 1  # PyYAML 5.3.1
    report = Path(first["outputs"]["report"]).read_text()
    assert all(finding in report for finding in ("B602", "B324", "B404", "CVE-2020-14343"))
    assert first["steps"]["report_complete"]["outputs"]["stdout"] == "all 4 findings are in the report"
    # pip-audit asked only the local mirror, once per pinned package and run
    assert sorted(r["body"]["package"]["name"] for r in osv.requests) == ["jinja2"] * 3 + ["pyyaml"] * 3
    assert gated["steps"]["triage"]["status"] == "cached"
    assert gated["steps"]["gate"]["status"] == "failed"
    assert "2 high-severity code findings, 1 vulnerable dependencies" in gated["steps"]["gate"]["error"]


def test_performance_optimization(catalog: MakeCatalog) -> None:
    performance = catalog("performance-optimization")

    first, second = performance.run_twice("target_file=shop/stats.py", "benchmark=python -m benchmarks.bench_stats")

    for record, workspace in zip((first, second), performance.workspaces, strict=True):
        assert record["outputs"]["speedup"] >= 1.5, record["outputs"]
        assert record["steps"]["keep_original"]["status"] == "succeeded"  # not rolled back
        assert "Counter(customer_ids)" in (workspace.path / "shop" / "stats.py").read_text()
        assert not (workspace.path / ".rollback").exists()


def test_performance_optimization_rolls_back_a_change_that_is_not_faster(catalog: MakeCatalog) -> None:
    performance = catalog("performance-optimization", script="performance-no-gain")
    workspace = performance.project()

    inputs = ("target_file=shop/stats.py", "benchmark=python -m benchmarks.bench_stats")
    record = performance.run(workspace, *inputs, expect=1)

    assert record["steps"]["optimize"]["outputs"]["files_changed"] == ["shop/stats.py"]
    assert record["steps"]["faster"]["status"] == "failed"
    assert "the change is rolled back" in record["steps"]["faster"]["error"]
    assert record["steps"]["keep_original"]["status"] == "compensated"
    assert (workspace.path / "shop" / "stats.py").read_bytes() == (SAMPLE / "shop" / "stats.py").read_bytes()
    assert record["steps"]["clean_up"]["status"] == "succeeded"
    assert not (workspace.path / ".rollback").exists()


def test_code_review(catalog: MakeCatalog) -> None:
    with CommentsApi() as api:
        review = catalog("code-review")
        comments_url = f"{api.url}/repos/shop/shop/issues/7/comments"
        configured = review.project(REVIEW_TOKEN="review-token-123")
        _commit_a_change(configured.path)
        first = review.run(configured, "base=HEAD~1", f"comments_url={comments_url}")
        calls = review.calls()
        quiet = review.project(REVIEW_TOKEN="")  # no token, no URL: no comment
        _commit_a_change(quiet.path)
        second = review.run(quiet, "base=HEAD~1")

    assert first["status"] == second["status"] == "succeeded", (first["error"], second["error"])
    assert (first["outputs"]["comments"], first["outputs"]["blockers"]) == (3, 1)
    assert first["steps"]["post_comment"]["status"] == "succeeded"
    [posted] = api.requests
    assert posted["path"] == "/repos/shop/shop/issues/7/comments"
    assert posted["headers"]["authorization"] == "Bearer review-token-123"
    assert posted["body"] == {"body": Path(first["outputs"]["review"]).read_text()}
    assert "review-token-123" not in json.dumps(first)  # masked wherever it is recorded
    assert_cached("code-review", first, second)
    assert review.calls() == calls
    assert second["steps"]["post_comment"]["status"] == "skipped"
    assert (quiet.path / "review.json").exists()


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_deployment_validation(catalog: MakeCatalog, moto_endpoint: str) -> None:
    import boto3

    aws = {"AWS_ENDPOINT_URL": moto_endpoint, "AWS_DEFAULT_REGION": "us-east-1"}
    cloudformation = boto3.client(
        "cloudformation",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    template = {"Resources": {"Assets": {"Type": "AWS::S3::Bucket"}}, "Outputs": {"Version": {"Value": "1.4.0"}}}
    cloudformation.create_stack(StackName="shop-staging", TemplateBody=json.dumps(template))
    with ShopService("1.4.0") as shop:
        deploy = catalog("deployment-validation", **aws)
        inputs = (f"base_url={shop.url}", "stack_name=shop-staging", "version=1.4.0")

        approved = deploy.project()
        waiting = deploy.run(approved, *inputs)
        assert (waiting["status"], shop.switches) == ("waiting", [10]), waiting["error"]
        assert "3 passed" in waiting["steps"]["smoke"]["outputs"]["stdout"]
        done = approved.run_json("approve", waiting["execution_id"], "promote_approval", "--comment", "looks good")

        rejected = deploy.project()
        second = deploy.run(rejected, *inputs)
        assert second["status"] == "waiting", second["error"]
        rolled_back = rejected.run_json("approve", second["execution_id"], "promote_approval", "--reject", expect=1)

    assert done["status"] == "succeeded", done["error"]
    assert done["outputs"]["stack_status"] == "CREATE_COMPLETE"
    assert done["steps"]["serving"]["status"] == "succeeded"
    assert rolled_back["status"] == "failed"
    assert rolled_back["steps"]["canary"]["status"] == "compensated"
    assert rolled_back["steps"]["promote"]["status"] in ("skipped", "pending")
    assert rolled_back["steps"]["report_rollback"]["status"] == "succeeded"
    assert shop.switches == [10, 100, 10, 0]  # canary, promote; canary, rolled back
    assert deploy.calls() == 0


def test_every_reference_workflow_is_tested_and_documented() -> None:
    tested = {
        name.removeprefix("test_").replace("_", "-")
        for name in globals()
        if name.startswith("test_") and name.replace("_", "-").removeprefix("test-") in _stems()
    } | {"run-tests-with-coverage"}
    readme = (CATALOG / "README.md").read_text()
    for stem in _stems():
        assert stem in tested, f"{stem}.yaml has no test here"
        assert f"({stem}.yaml)" in readme, f"{stem}.yaml is not in workflows/reference/README.md"
        header = (CATALOG / f"{stem}.yaml").read_text().split("\nname:")[0]
        assert re.search(r"^# Needs: ", header, re.MULTILINE), f"{stem}.yaml: its header says what it needs"
        assert re.search(r"^# Run: ", header, re.MULTILINE), f"{stem}.yaml: its header says how to run it"


def _stems() -> set[str]:
    return {path.stem for path in CATALOG.glob("*.yaml")}
