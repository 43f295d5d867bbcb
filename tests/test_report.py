"""`prover report` and the sweep command's input handling (no Ray needed here)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
import typer

from benchmarks.report import write_report
from benchmarks.results import AttemptRecord, ResultsStore, write_manifest
from prover.commands import sweep as sweep_command
from tests.cli_support import run_app


@pytest.fixture()
def app() -> typer.Typer:
    # Only this module's commands: the test does not depend on the other subcommands importing.
    application = typer.Typer()
    sweep_command.register(application)
    return application


def write_results(path: Path, with_manifest: bool = True) -> None:
    rows = [
        ("mathd_algebra_10", "algebra", True, 1.5, 2),
        ("mathd_numbertheory_24", "number theory", False, 9.0, 100),
        ("imo_1959_p1", "IMO", False, 30.0, 40),
    ]
    with ResultsStore(path) as store:
        store.open_for_append()
        for name, cat, proved, secs, exp in rows:
            store.append(
                AttemptRecord(
                    problem=name,
                    attempt=0,
                    category=cat,
                    status="proved" if proved else "failed_expansions",
                    proved=proved,
                    verdict="verified" if proved else None,
                    checker="replay" if proved else None,
                    started_at=100.0,
                    finished_at=100.0 + secs,
                    stats={"expansions": exp},
                    config_hash="abc",
                    model="fixed",
                )
            )
    if with_manifest:
        names = [r[0] for r in rows] + ["aime_1983_p1"]  # planned but never finished
        write_manifest(path, {"config_hash": "abc", "model": "fixed", "benchmark": "b.jsonl", "problems": names})


def test_report_writes_markdown_and_self_contained_html(tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    write_results(results)
    rep = write_report(results, tmp_path / "out")
    md = rep.markdown.read_text()
    assert "pass rate: 1/4 (25.0%)" in md  # the unfinished planned problem is in the denominator
    assert "| algebra | 1 | 1 | 100.0% |" in md and "| AIME | 0 | 1 | 0.0% |" in md
    assert "| 1 | 25.0% |" in md  # pass@1
    assert "aime_1983_p1 | - | 0 | 0 | missing" in md
    page = rep.html.read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 2
    assert all(base64.b64decode(img).startswith(b"\x89PNG") for img in images)
    assert not re.search(r'(src|href)="(?!data:)', page)  # nothing loaded from elsewhere
    assert "<table>" in page and "pass rate: 1/4 (25.0%)" in page


def test_report_command_prints_pass_rate_last(app: typer.Typer, tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    write_results(results, with_manifest=False)
    result = run_app(app, ["report", str(results), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "pass rate: 1/3 (33.3%)"
    assert (tmp_path / "r" / "report.html").is_file() and (tmp_path / "r" / "report.md").is_file()


def test_report_command_rejects_a_missing_file(app: typer.Typer, tmp_path: Path) -> None:
    result = run_app(app, ["report", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2
    assert "no such results file" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--split", "nope"], "sweep.split"),
        (["--benchmark", "/does/not/exist.jsonl", "--generator", "fixed"], "benchmark file not found"),
        (["--preset", "gpt"], "unknown preset"),
        (["--names", "not_a_problem", "--generator", "fixed"], "unknown problem 'not_a_problem'"),
        (["--mode", "whole", "--generator", "fixed"], "whole"),
    ],
)
def test_sweep_command_bad_input_is_one_line_exit_2(
    app: typer.Typer, args: list[str], message: str, tmp_path: Path
) -> None:
    result = run_app(app, ["sweep", "--output", str(tmp_path / "r.jsonl"), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and result.output.count("error:") == 1


def test_sweep_refuses_to_overwrite_results_without_resume(app: typer.Typer, tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    write_results(results, with_manifest=False)
    before = results.read_bytes()
    result = run_app(app, ["sweep", "--generator", "fixed", "--split", "valid", "--output", str(results)])
    assert result.exit_code == 2 and "--resume" in result.output
    assert results.read_bytes() == before


@pytest.mark.parametrize("content", ["import Mathlib\n\ntheorem t : True := by\n  sorry\n", ""])
def test_report_that_fails_writes_nothing(app: typer.Typer, tmp_path: Path, content: str) -> None:
    """`prover report demo.lean` (not a results file) and an empty .jsonl failed with rc 2 but left
    report.md and report.html next to the input."""
    results = tmp_path / "input.jsonl"
    results.write_text(content, encoding="utf-8")
    result = run_app(app, ["report", str(results)])
    assert result.exit_code == 2 and "holds no finished attempt" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.jsonl"]
    if content:
        assert "3 lines are not result records" in result.output  # blank lines are no lines


def test_report_out_naming_a_file_is_refused(app: typer.Typer, tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    write_results(results, with_manifest=False)
    before = results.read_bytes()
    result = run_app(app, ["report", str(results), "--out", str(results)])
    assert result.exit_code == 2 and "is a file" in result.output and len(result.output.strip().splitlines()) == 1
    assert results.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["results.jsonl"]


@pytest.mark.parametrize("where", ["/proc/x/r.jsonl", "{tmp}/file/r.jsonl", "{tmp}"])
def test_sweep_output_that_cannot_be_written_is_one_line_before_ray(
    app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """`prover sweep ... -o /proc/x/r.jsonl` was a FileNotFoundError traceback, rc 1."""
    import benchmarks.sweep.driver as driver

    def no_ray(*args: object, **kwargs: object) -> bool:
        raise AssertionError("Ray started")

    monkeypatch.setattr(driver, "ensure_ray", no_ray)
    (tmp_path / "file").write_text("", encoding="utf-8")
    output = where.format(tmp=tmp_path)
    cassette = Path(__file__).resolve().parents[1] / "examples/demo.cassette.jsonl"
    args = ["sweep", "--backend", "replay", "--cassette", str(cassette), "-g", "fixed"]
    args += ["--names", "mathd_algebra_182", "--split", "all", "-o", output]
    result = run_app(app, args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: --output ") and len(result.output.strip().splitlines()) == 1


def _small_run(path: Path) -> None:
    """A small run: three attempts of a few expansions each, all well under a second."""
    with ResultsStore(path) as store:
        store.open_for_append()
        for name, proved, secs, exp in (("a", True, 0.31, 2), ("b", False, 0.42, 3), ("c", True, 0.12, 1)):
            store.append(
                AttemptRecord(
                    problem=name,
                    attempt=0,
                    category="algebra",
                    status="proved" if proved else "failed_expansions",
                    proved=proved,
                    verdict="verified" if proved else None,
                    checker="replay" if proved else None,
                    started_at=100.0,
                    finished_at=100.0 + secs,
                    stats={"expansions": exp},
                    config_hash="abc",
                    model="fixed",
                )
            )


def test_every_list_item_of_the_html_report_is_inside_a_list(tmp_path: Path) -> None:
    from html.parser import HTMLParser

    results = tmp_path / "results.jsonl"
    write_results(results)
    page = write_report(results, tmp_path / "out").html.read_text(encoding="utf-8")

    class Items(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.open: list[str] = []
            self.items = self.orphans = 0

        def handle_starttag(self, tag: str, attrs: object) -> None:
            if tag == "li":
                self.items += 1
                self.orphans += not any(t in ("ul", "ol") for t in self.open)
            if tag not in ("img", "meta", "br"):
                self.open.append(tag)

        def handle_endtag(self, tag: str) -> None:
            if tag in self.open:
                del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]

    parser = Items()
    parser.feed(page)
    assert parser.items >= 5 and parser.orphans == 0


def test_plots_of_a_small_run_have_integer_counts_and_axes_that_end_at_the_data(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    from benchmarks.report import load_summary, make_figures

    results = tmp_path / "results.jsonl"
    _small_run(results)
    summary, records, _ = load_summary(results)
    figures = make_figures(summary, records)
    try:
        budget, time_budget = figures["pass_rate_vs_budget"].axes
        histogram = figures["time_histogram"].axes[0]
        for ax, largest in ((budget, 3.0), (time_budget, 0.42), (histogram, 0.42)):
            low, high = ax.get_xlim()
            assert low == 0 and largest <= high <= 1.1 * largest, (ax.get_xlabel(), high)
        for ticks in (budget.get_xticks(), histogram.get_yticks()):  # expansions and attempts are counts
            assert all(float(t).is_integer() for t in ticks), ticks
    finally:
        for fig in figures.values():
            plt.close(fig)
