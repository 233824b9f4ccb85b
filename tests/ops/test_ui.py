"""The Dagster UI an operator opens after a monthly close, driven in a real Chromium.

A demo instance is built in a temp folder through the CLI, `dagster dev` serves it on
127.0.0.1 (started and stopped by the fixtures in conftest.py), and Playwright opens the
pages an operator looks at. Every page is saved as a screenshot under test-output/ui/
(git-ignored), also when its assertions fail, so a reviewer can look at what was seen.

Expected groups, assets, checks and partitions come from the definitions, so a new group
(or asset) is asserted without editing this file.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest

from tests.support.closed_month import FIRST

# one worker holds the module's dagster dev and browser (with --dist loadgroup under -n)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ops_ui")]

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "test-output" / "ui"
END = "2026-06"
PARTITION = f"{END}-01"
CHECKED_ASSET = "marts/portfolio_monthly"
PARTITIONED_ASSET = "marts/account_monthly"
NUX_TEXT = "Join the Dagster community"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
WIDTH, HEIGHT = 1600, 1000
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def expected():
    """What the definitions say the UI must show (built with the demo's settings)."""
    from pipeline.definitions import build_definitions
    from pipeline.settings import load_settings

    with pytest.MonkeyPatch.context() as mp:
        for name in [k for k in os.environ if k.startswith("PIPELINE_")]:
            mp.delenv(name)
        mp.setenv("PIPELINE_FIRST_MONTH", FIRST)  # the closed month's
        graph = build_definitions(load_settings()).resolve_asset_graph()
    assets = sorted(graph.materializable_asset_keys, key=lambda k: k.to_user_string())
    checked = next(k for k in assets if k.to_user_string() == CHECKED_ASSET)
    partitioned = next(k for k in assets if k.to_user_string() == PARTITIONED_ASSET)
    return {
        "groups": sorted({graph.get(k).group_name for k in assets}),
        "assets": {k.to_user_string(): graph.get(k).group_name for k in assets},
        "checks": sorted(c.name for c in graph.asset_check_keys if c.asset_key == checked),
        "description": (graph.get(checked).description or "").strip(),
        "partitions": graph.get(partitioned).partitions_def.get_partition_keys(),
    }


@pytest.fixture(scope="module")
def server(chromium, closed_demo, start_dagster_dev):
    """`dagster dev` on a demo instance with one successful monthly close (a copy of the
    session's closed sample month), NUX dismissed."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    demo = closed_demo("ui")
    log = demo.root / "dagster-dev.log"
    with start_dagster_dev(demo.env, log) as dev:
        print(f"demo instance {demo.seconds:.1f}s, dagster dev ready in {dev.startup_seconds:.1f}s ({dev.url})")
        # The "Join the Dagster community" dialog opens over every page until this is set.
        assert dev.graphql("mutation { setNuxSeen }")["setNuxSeen"] is True
        yield dev


@pytest.fixture(scope="module")
def browser_page(server, chromium):
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="pipeline-chromium-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,  # a fresh --user-data-dir
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": WIDTH, "height": HEIGHT},
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        errors: list[str] = []  # uncaught exceptions in the UI's JavaScript
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            yield page, errors
        finally:
            context.close()


class Ui:
    """One page of the UI: open it, wait for what proves it loaded, screenshot it."""

    def __init__(self, page, errors: list[str], url: str):
        self.page, self.errors, self.url = page, errors, url

    def open(self, path: str, height: int = HEIGHT) -> None:
        """Dagster's pages scroll inside panels, so a full-page screenshot is the viewport:
        long lists get a taller viewport instead."""
        self.page.set_viewport_size({"width": WIDTH, "height": height})
        self.page.goto(self.url + path)

    def visible_text(self, text: str, exact: bool = True):
        # Dagster renders names twice (a hidden copy measures truncation): keep visible ones.
        return self.page.get_by_text(text, exact=exact).filter(visible=True)

    def row(self, *selectors: str, text: tuple[str, ...] = ()):
        """The innermost element holding all these links and texts: a table row, whatever
        markup the UI uses for rows."""
        loc = self.page.locator("div")
        for sel in selectors:
            loc = loc.filter(has=self.page.locator(sel))
        for t in text:
            loc = loc.filter(has_text=t)
        return loc.last

    def shot(self, name: str) -> Path:
        self.page.wait_for_timeout(700)  # let charts and counters settle for the picture
        path = SHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def assert_clean(self, errors_before: int) -> None:
        assert self.visible_text(NUX_TEXT, exact=False).count() == 0, "the community dialog is still open"
        assert self.errors[errors_before:] == [], f"JavaScript errors: {self.errors[errors_before:]}"


@pytest.fixture
def ui(server, browser_page):
    """Each test opens its page and saves its screenshot (in `finally`, so also on failure);
    after it, no community dialog and no JavaScript error may have appeared."""
    page, errors = browser_page
    ui = Ui(page, errors, server.url)
    before = len(errors)
    yield ui
    ui.assert_clean(before)


def pw_expect(locator):
    from playwright.sync_api import expect

    return expect(locator)


def expect(locator, what: str):
    try:
        pw_expect(locator.first).to_be_visible(timeout=TIMEOUT_MS)
    except AssertionError as exc:
        raise AssertionError(f"not visible: {what}") from exc


def test_global_lineage_shows_every_group(ui, expected):
    ui.open("/asset-groups")
    try:
        for group in expected["groups"]:
            # the group's box in the graph, not only its entry in the sidebar tree
            box = ui.page.locator('[class*="CollapsedGroupNode_collapsedGroupNodeBox"]').filter(
                has=ui.visible_text(group)
            )
            expect(box, f"group {group!r} in the global asset lineage")
        # the picture is taken once the group boxes show their asset statuses
        pw_expect(ui.visible_text("fetching statuses", exact=False)).to_have_count(0, timeout=TIMEOUT_MS)
    finally:
        ui.shot("01-lineage-groups")


def test_catalog_lists_every_asset_with_its_group(ui, expected):
    ui.open("/assets", height=400 + 60 * len(expected["assets"]))  # tall: the table is virtualised
    try:
        for key, group in expected["assets"].items():
            # the asset's row links to the asset and to its group in the lineage
            row = ui.row(f'a[href="/assets/{key}"]', f"a[href*='group%3A\"{group}\"/']")
            expect(row, f"asset {key} in group {group} in the catalog")
    finally:
        ui.shot("02-catalog")


@pytest.fixture(scope="module")
def location(server) -> str:
    data = server.graphql("{ repositoriesOrError { ... on RepositoryConnection { nodes { location { name } } } } }")
    (repo,) = data["repositoriesOrError"]["nodes"]
    return repo["location"]["name"]


def test_marts_lineage_shows_checks_and_partitions(ui, expected, location):
    """The lineage fits the whole group to the page: tall enough, every mart shows (as a
    name: at that zoom Dagster draws nodes small); zoomed in, a node shows its checks
    and partitions."""
    marts = [k for k, group in expected["assets"].items() if group == "marts"]
    ui.open(f"/locations/{location}/asset-groups/marts", height=600 + 200 * len(marts))
    try:
        for key in marts:
            expect(ui.visible_text(key.split("/")[-1]), f"{key} in the marts lineage")
    finally:
        ui.shot("03-lineage-marts")
    try:
        zoom_in = ui.page.get_by_role("img", name="zoom_in").first
        for _ in range(4):
            zoom_in.click()
        expect(ui.visible_text("Asset checks"), "the asset-checks row of the mart nodes")
        count = f"{len(expected['partitions'])} partitions"
        expect(ui.visible_text(count), f"the partitions row ({count}) of the mart nodes")
    finally:
        ui.shot("03b-lineage-marts-zoomed")


@pytest.fixture(scope="module")
def latest_close(server):
    data = server.graphql(
        """{ runsOrError(filter: {pipelineName: "monthly_close"}, limit: 1) {
               __typename ... on Runs { results { runId status tags { key value } } } } }"""
    )
    (run,) = data["runsOrError"]["results"]
    return run


def test_runs_page_shows_the_monthly_close_succeeded(ui, latest_close):
    assert latest_close["status"] == "SUCCESS"
    assert {"key": "dagster/partition", "value": PARTITION} in latest_close["tags"]
    ui.open("/runs")
    try:
        run_link = f'a[href^="/runs/{latest_close["runId"]}"]'
        expect(ui.page.locator(run_link), "the latest monthly_close run in the runs list")
        row = ui.row(run_link, text=("monthly_close", "Success", f"partition: {PARTITION}"))
        expect(row, f"monthly_close, Success and partition: {PARTITION} in the run's row")
    finally:
        ui.shot("04-runs")


def test_run_page_shows_the_run_succeeded(ui, latest_close):
    ui.open(f"/runs/{latest_close['runId']}")
    try:
        expect(ui.visible_text("Success"), "the run's Success status")
        expect(ui.visible_text("Errored (0)"), "no errored step")
        expect(ui.visible_text("RUN_SUCCESS"), "the RUN_SUCCESS event in the log")
    finally:
        ui.shot("05-run")


def test_asset_page_shows_description_and_metadata(ui, expected):
    ui.open(f"/assets/{CHECKED_ASSET}")
    try:
        first_words = expected["description"][:40]
        assert first_words, f"{CHECKED_ASSET} has no description"
        expect(ui.visible_text(first_words, exact=False), f"the description of {CHECKED_ASSET}")
        expect(ui.visible_text("Metadata"), "the Metadata section")
        expect(ui.visible_text(PARTITION), f"the latest materialization's partition {PARTITION}")
    finally:
        ui.shot("06-asset-overview")


def test_asset_checks_are_listed(ui, expected):
    assert "mrr_bridge" in expected["checks"]
    ui.open(f"/assets/{CHECKED_ASSET}?view=checks")
    try:
        expect(ui.visible_text(f"Checks ({len(expected['checks'])})"), "the checks count")
        for name in expected["checks"]:
            expect(ui.visible_text(name), f"check {name}")
        expect(ui.visible_text("Passed"), "the selected check's latest result")
    finally:
        ui.shot("07-asset-checks")


def test_partitions_of_a_mart_are_shown(ui, expected, latest_close):
    keys = expected["partitions"]
    assert PARTITION in keys
    ui.open(f"/assets/{PARTITIONED_ASSET}?view=partitions", height=600 + 32 * len(keys))
    try:
        expect(ui.visible_text(f"{len(keys)} Partitions Selected"), "the partition count")
        for key in (keys[0], keys[-1]):
            expect(ui.visible_text(key), f"partition {key}")
        # The close for PARTITION rewrote every earlier month too, and says so.
        expect(
            ui.page.get_by_text(re.compile(r"Materialized \(\d+\)")).filter(visible=True),
            "materialized partitions",
        )
        ui.visible_text(PARTITION).first.click()  # its details: the run that materialized it
        expect(ui.page.locator(f'a[href^="/runs/{latest_close["runId"]}"]'), f"the run that materialized {PARTITION}")
    finally:
        ui.shot("08-partitions")
