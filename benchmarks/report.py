"""Sweep reports: Markdown plus a self-contained HTML page (matplotlib plots embedded as base64 PNG)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.results import AttemptRecord, ResultsError, read_manifest, read_results
from benchmarks.summary import Distribution, Summary, pass_rate_by_budget, summarize


@dataclass(frozen=True)
class Report:
    summary: Summary
    markdown: Path
    html: Path


def load_summary(results_path: str | Path) -> tuple[Summary, list[AttemptRecord], dict[str, object] | None]:
    """Summary of a results file; the sweep's manifest (if present) puts every planned problem in the denominator."""
    loaded = read_results(results_path)
    manifest = read_manifest(results_path)
    expected = manifest.get("problems") if manifest else None
    names = [str(n) for n in expected] if isinstance(expected, list) else None
    return summarize(loaded.records, expected=names), loaded.records, manifest


def _fmt_dist(d: Distribution, unit: str) -> str:
    return f"n={d.count}, mean {d.mean:.2f}{unit}, median {d.median:.2f}{unit}, p90 {d.p90:.2f}{unit}, max {d.max:.2f}{unit}"


def _budgets(values: Sequence[float], upper: float) -> list[float]:
    """41 budgets from 0 to the largest value in the data (a small run's axis ends at its data, not at 1)."""
    top = max([upper, *values]) or 1.0
    steps = 40
    return [top * i / steps for i in range(steps + 1)]


def _png(fig: object) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")  # type: ignore[attr-defined]
    return base64.b64encode(buf.getvalue()).decode("ascii")


# Budget and time axes end this far past the largest value in the data (a little room for the last step).
AXIS_HEADROOM = 0.05


def make_figures(summary: Summary, records: Sequence[AttemptRecord]) -> dict[str, Any]:
    """The report's matplotlib figures by name: pass rate against expansion and time budgets, a time histogram.

    Counts (expansions, attempts) get integer ticks; budget and time axes end AXIS_HEADROOM past the data's
    largest value, so a small run's plot is not squeezed into a corner."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    figures: dict[str, Any] = {}
    total = summary.total
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, by, values, label in (
        (axes[0], "expansions", [float(v) for v in summary.proved_expansions], "expansion budget"),
        (axes[1], "time", summary.proved_time_s, "time budget (s)"),
    ):
        upper = summary.expansions.max if by == "expansions" else summary.time_s.max
        budgets = _budgets(values, upper)
        if by == "expansions":
            budgets = sorted({round(b) for b in budgets})  # whole expansions: a budget of 2.5 means nothing
        rates = pass_rate_by_budget(records, budgets, by=by, total=total)
        ax.step(budgets, [100 * r for r in rates], where="post")
        ax.set_xlabel(label)
        ax.set_ylabel("pass rate (%)")
        ax.set_xlim(0, budgets[-1] * (1 + AXIS_HEADROOM))
        if by == "expansions":
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(0, max(5.0, 100 * max(rates, default=0) * 1.15))
        ax.grid(alpha=0.3)
    fig.suptitle(f"pass rate against budget ({summary.proved}/{total} proved)")
    figures["pass_rate_vs_budget"] = fig

    fig, ax = plt.subplots(figsize=(6, 3.6))
    proved = [r.duration_s for r in records if r.proved]
    failed = [r.duration_s for r in records if not r.proved]
    longest = max([*proved, *failed], default=0.0) or 1.0
    ax.hist(
        [failed, proved],
        bins=20,
        range=(0.0, longest),
        stacked=True,
        label=["not proved", "proved"],
        color=["#c44e52", "#55a868"],
    )
    ax.set_xlabel("time per attempt (s)")
    ax.set_ylabel("attempts")
    ax.set_xlim(0, longest * (1 + AXIS_HEADROOM))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
    ax.grid(alpha=0.3)
    figures["time_histogram"] = fig
    return figures


def make_plots(summary: Summary, records: Sequence[AttemptRecord]) -> dict[str, str]:
    """Base64 PNGs of `make_figures`."""
    import matplotlib.pyplot as plt

    plots: dict[str, str] = {}
    for name, fig in make_figures(summary, records).items():
        plots[name] = _png(fig)
        plt.close(fig)
    return plots


def render_markdown(summary: Summary, manifest: dict[str, object] | None, title: str) -> str:
    lines = [f"# {title}", ""]
    if manifest:
        lines += [
            f"- model: `{manifest.get('model', '')}`",
            f"- config hash: `{manifest.get('config_hash', '')}`",
            f"- benchmark: `{manifest.get('benchmark', '')}`",
        ]
    else:
        lines += [
            f"- models: {', '.join(summary.models) or '-'}",
            f"- config hashes: {', '.join(summary.config_hashes) or '-'}",
        ]
    lines += [
        f"- problems: {summary.total} ({len(summary.missing)} without a finished attempt, counted as not proved)",
        f"- **{summary.pass_rate_line()}**" + (f" ({summary.checker_line()})" if summary.checkers else ""),
        "",
        "## pass@k",
        "",
        "| k | pass@k |",
        "|---|---|",
    ]
    lines += [f"| {k} | {100 * v:.1f}% |" for k, v in summary.pass_at.items()]
    lines += ["", "## By category", "", "| category | proved | total | rate |", "|---|---|---|---|"]
    lines += [f"| {c.category} | {c.proved} | {c.total} | {100 * c.rate:.1f}% |" for c in summary.categories]
    lines += ["", "## Attempt outcomes", "", "| status | attempts |", "|---|---|"]
    lines += [f"| {status} | {count} |" for status, count in summary.statuses.items()]
    lines += [
        "",
        "## Distributions",
        "",
        f"- time per attempt: {_fmt_dist(summary.time_s, ' s')}",
        f"- expansions per attempt: {_fmt_dist(summary.expansions, '')}",
        "",
        "## Problems",
        "",
        "| problem | category | attempts | proved | statuses |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {p.name} | {p.category} | {p.attempts} | {p.proved_attempts} | {', '.join(sorted(set(p.statuses)))} |"
        for p in summary.problems
    ]
    lines += [f"| {name} | - | 0 | 0 | missing |" for name in summary.missing]
    return "\n".join(lines) + "\n"


def render_html(markdown: str, plots: dict[str, str], title: str) -> str:
    """A self-contained page: the Markdown's tables as HTML and the plots inline."""
    body: list[str] = []
    table: list[list[str]] = []

    def flush_table() -> None:
        if not table:
            return
        head, *rows = [r for r in table if not set("".join(r)) <= set("-")]
        body.append("<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head) + "</tr>")
        body.extend("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
        body.append("</table>")
        table.clear()

    items: list[str] = []
    plots_pending = False

    def flush_list() -> None:
        # Every <li> inside a <ul>; the plots follow the list that holds the pass rate.
        nonlocal plots_pending
        if items:
            body.append("<ul>" + "".join(items) + "</ul>")
            items.clear()
        if plots_pending:
            body.append("<h2>Plots</h2>")
            body.extend(f'<img alt="{name}" src="data:image/png;base64,{data}"/>' for name, data in plots.items())
            plots_pending = False

    for line in markdown.splitlines():
        if line.startswith("- "):
            items.append(f"<li>{html.escape(line[2:].replace('**', '').replace('`', ''))}</li>")
            plots_pending = plots_pending or line.startswith("- **pass rate")
            continue
        flush_list()
        if line.startswith("|"):
            table.append([c.strip() for c in line.strip("|").split("|")])
            continue
        flush_table()
        if line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
    flush_list()
    flush_table()
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;}"
        "table{border-collapse:collapse;margin:1em 0;}td,th{border:1px solid #ccc;padding:2px 8px;}"
        "img{max-width:100%;display:block;margin:1em 0;}"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )


def write_report(results_path: str | Path, out_dir: str | Path | None = None) -> Report:
    """Write report.md and report.html for `results_path` (default: next to it).

    Nothing is written when the report cannot be made: ResultsError when the file holds no finished
    attempt (and its manifest plans no problem), e.g. a file that is not a results file; both pages are
    rendered before the first write, and each is written atomically (OSError when the folder is unwritable).
    """
    from prover.files import atomic_write

    path = Path(results_path)
    out = Path(out_dir) if out_dir is not None else path.parent
    summary, records, manifest = load_summary(path)
    if summary.total == 0:
        bad = read_results(path).bad_lines
        raise ResultsError(
            f"{path} holds no finished attempt"
            + (f" ({len(bad)} lines are not result records, e.g. line {bad[0]})" if bad else "")
            + "; nothing written"
        )
    title = f"Sweep report: {path.name}"
    markdown = render_markdown(summary, manifest, title)
    page = render_html(markdown, make_plots(summary, records), title)
    md_path = out / "report.md"
    html_path = out / "report.html"
    atomic_write(md_path, markdown)
    atomic_write(html_path, page)
    return Report(summary, md_path, html_path)
