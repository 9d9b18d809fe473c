"""The HTML run and leaderboard pages, opened in a real headless Chromium.

Debian's /usr/bin/chromium (`make chromium`) driven by playwright; the tests skip, saying
why, where either is missing (`make test` installs both). The page must render with no
request leaving the file, no console error, and the elements each section promises.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from testbed.cli import main
from testbed.report.html_pages import run_page

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (`make chromium` installs Debian's package)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (pip, dev extra)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=ARGS,
            headless=True,
            viewport={"width": 1200, "height": 900},
        )
        yield context
        context.close()


def open_page(browser, path: Path):
    """The page at `path`, with every request that is not the file itself refused and
    recorded, and console errors collected."""
    page = browser.new_page()
    outside: list[str] = []
    errors: list[str] = []

    def refuse(route) -> None:
        if route.request.url == path.resolve().as_uri():
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", refuse)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.resolve().as_uri())
    return page, outside, errors


def test_run_page_in_chromium(finished_run, browser, tmp_path, capsys):
    html = tmp_path / "report.html"
    assert main(["report", str(finished_run / "run"), "--html", str(html)]) == 0
    page, outside, errors = open_page(browser, html)
    shot = tmp_path / "run.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000  # a real rendering, not a blank page
    assert outside == [] and errors == []
    assert page.locator("h1").inner_text() == "testbed run: html-page"
    assert page.locator("nav a").count() == 3  # one link per stage

    ladder = page.locator("#stage-0")
    assert ladder.locator("table.leaderboard tbody tr").count() == 4
    intervals = ladder.locator(".ratings-plot svg g.interval")
    assert intervals.count() == 4 and intervals.first.locator("line").count() == 3  # whiskers
    heat = ladder.locator(".payoff svg g.cell")
    assert heat.count() == 12  # 4 x 4 without the diagonal
    assert ladder.locator(".payoff svg").bounding_box()["width"] > 150
    assert ladder.locator(".mean-score svg g.cell").count() == 6  # forfeits are not scores
    games = json.loads((finished_run / "run" / "result.json").read_text())["stages"][0]["games"]
    assert ladder.locator("details.games table tbody tr").count() == len(games) == 24
    ladder.locator("details.games summary").click()  # collapsed until opened
    assert "--game 23" in ladder.locator("details.games").inner_text()
    forfeits = ladder.locator("table.forfeits tbody tr")
    assert forfeits.count() == 12 and "masked out" in forfeits.first.inner_text()

    # the added rating method, rendered by the generic rules: a table, intervals, a heat map
    added = ladder.locator("h3", has_text="Alpha rank")
    assert added.count() == 1
    section = ladder.locator("h3:has-text('Alpha rank') ~ table.generic").first
    assert section.locator("tbody tr").count() == 3
    assert ladder.locator("svg[aria-label^='pi: pi [pi_low, pi_high]'] g.interval").count() == 3
    assert ladder.locator("h4:has-text('Payoffs') + svg g.cell").count() == 9

    audit = page.locator("#stage-1")
    verdict = audit.locator(".audit-verdict .verdict").inner_text()
    assert verdict in ("PASS", "FAIL", "INCONCLUSIVE")
    assert audit.locator("table.verdicts tbody tr").count() == 3  # hazards, one per robot
    train = page.locator("#stage-2")
    assert train.locator("svg.curves").count() == 2  # the first seed's curves, every seed's
    assert (
        train.locator("h3:has-text('Evaluation return of every seed') + svg g.series").count() == 2
    )
    assert train.locator("table.sweep tbody tr").count() == 6  # IQM, median, mean x return, cost


def test_leaderboard_page_in_chromium(finished_run, browser, tmp_path, capsys):
    html = tmp_path / "board.html"
    code = main(["leaderboard", "html-page/ladder", "--db", str(finished_run / "lb.sqlite"),
                 "--html", str(html)])  # fmt: skip
    assert code == 0
    page, outside, errors = open_page(browser, html)
    page.screenshot(path=str(tmp_path / "board.png"), full_page=True)
    assert outside == [] and errors == []
    assert page.locator("h1").inner_text() == "testbed leaderboard: html-page/ladder"
    assert page.locator("table.leaderboard tbody tr").count() == 4
    assert page.locator(".payoff svg g.cell").count() == 12
    assert page.locator(".mean-score svg g.cell").count() == 6
    assert page.locator("table.runs tbody tr").count() == 1


def test_page_is_self_contained_and_escapes_names(finished_run):
    result = json.loads((finished_run / "run" / "result.json").read_text())
    result["scenario"] = "<script>alert(1)</script>"
    html = run_page(result, finished_run / "run")
    assert "<script>" not in html and "&lt;script&gt;" in html
    for outside in ("http://", "https://", "src=", "<link", "@import"):
        assert outside not in html


def test_bad_run_folder_is_one_clear_error(tmp_path, capsys):
    assert main(["report", str(tmp_path), "--html"]) == 2
    assert "is not a run directory" in capsys.readouterr().err
    (tmp_path / "result.json").write_text("{not json")
    assert main(["report", str(tmp_path), "--html"]) == 2
    assert "not a testbed result" in capsys.readouterr().err
    assert not any(name.endswith(".html") for name in os.listdir(tmp_path))
