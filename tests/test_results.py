"""The append-only results store, resume keys, summaries and pass@k."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.minif2f import BenchmarkError, StatementSource, category, load_problems, strip_proof
from benchmarks.results import AttemptRecord, ResultsStore, finished_keys, read_results
from benchmarks.summary import format_pass_rate, pass_at_k, pass_rate_by_budget, summarize
from benchmarks.sweep import load_sweep_config
from prover.config import ConfigError


def rec(problem: str, attempt: int = 0, proved: bool = False, status: str | None = None, **kw: object) -> AttemptRecord:
    return AttemptRecord(
        problem=problem,
        attempt=attempt,
        status=status or ("proved" if proved else "failed_exhausted"),
        proved=proved,
        category=category(problem),
        **kw,
    )


def test_store_appends_one_line_per_record_and_reads_them_back(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "results.jsonl"
    with ResultsStore(path) as store:
        assert store.open_for_append().records == []
        store.append(rec("a", proved=True, proof="ring"))
        store.append(rec("b"))
    assert len(path.read_text().splitlines()) == 2
    loaded = read_results(path)
    assert [(r.problem, r.proved, r.proof) for r in loaded.records] == [("a", True, "ring"), ("b", False, None)]
    assert finished_keys(loaded.records) == {("a", 0), ("b", 0)}


def test_a_truncated_last_line_is_ignored_and_cut_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text(rec("a").to_line() + rec("b").to_line()[:25])
    loaded = read_results(path)
    assert loaded.truncated_tail and [r.problem for r in loaded.records] == ["a"]
    with ResultsStore(path) as store:
        assert [r.problem for r in store.open_for_append().records] == ["a"]
        store.append(rec("b", proved=True))
    text = path.read_text()
    assert text.endswith("\n") and [json.loads(x)["problem"] for x in text.splitlines()] == ["a", "b"]
    assert read_results(path).truncated_tail is False


def test_duplicate_and_garbage_lines_never_count_twice(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text(rec("a", proved=True).to_line() + "not json\n" + rec("a").to_line())
    loaded = read_results(path)
    assert [(r.problem, r.proved) for r in loaded.records] == [("a", True)]
    assert loaded.bad_lines == [2]


def test_append_without_open_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        ResultsStore(tmp_path / "r.jsonl").append(rec("a"))


def brute_pass_at_k(n: int, c: int, k: int) -> float:
    outcomes = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(outcomes[i] for i in s) for s in subsets) / len(subsets)


@given(st.integers(1, 8).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_pass_at_k_is_the_unbiased_estimator(nck: tuple[int, int, int]) -> None:
    n, c, k = nck
    assert pass_at_k(n, c, k) == pytest.approx(brute_pass_at_k(n, c, k))


def test_pass_at_k_needs_enough_samples() -> None:
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)


def test_summary_puts_every_problem_in_the_denominator() -> None:
    records = [
        rec("mathd_algebra_1", 0, proved=True, started_at=0.0, finished_at=2.0, stats={"expansions": 3}),
        rec("mathd_algebra_1", 1, started_at=0.0, finished_at=4.0, stats={"expansions": 10}),
        rec("amc12a_2020_p1", 0, status="failed_start"),
        rec("amc12a_2020_p1", 1, status="crashed"),
        rec("imo_1960_p1", 0),
        rec("imo_1960_p1", 1, proved=True, started_at=0.0, finished_at=1.0, stats={"expansions": 1}),
    ]
    summary = summarize(records, expected=["mathd_algebra_1", "amc12a_2020_p1", "imo_1960_p1", "aime_1983_p1"])
    assert (summary.proved, summary.total) == (2, 4)
    assert summary.missing == ["aime_1983_p1"]
    assert summary.pass_rate_line() == "pass rate: 2/4 (50.0%)"
    assert summary.pass_at == {1: pytest.approx(0.25), 2: pytest.approx(0.5)}
    cats = {c.category: (c.proved, c.total) for c in summary.categories}
    assert cats == {"algebra": (1, 1), "AMC": (0, 1), "IMO": (1, 1), "AIME": (0, 1)}
    assert summary.statuses["failed_start"] == 1 and summary.statuses["crashed"] == 1
    assert summary.proved_expansions == [1, 3]
    assert pass_rate_by_budget(records, [0, 1, 3, 100], by="expansions", total=4) == [0.0, 0.25, 0.5, 0.5]


def test_pass_rate_line_format() -> None:
    assert format_pass_rate(64, 244) == "pass rate: 64/244 (26.2%)"
    assert format_pass_rate(0, 0) == "pass rate: 0/0 (0.0%)"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("mathd_algebra_10", "algebra"),
        ("algebra_2rootsintpoly_am10tap11eqasqpam110", "algebra"),
        ("mathd_numbertheory_24", "number theory"),
        ("numbertheory_4x3m7y3neq2003", "number theory"),
        ("induction_sum_odd", "induction"),
        ("amc12a_2019_p21", "AMC"),
        ("amc12_2000_p6", "AMC"),
        ("aimeII_2001_p3", "AIME"),
        ("aime_1983_p1", "AIME"),
        ("imo_1959_p1", "IMO"),
        ("imosl_2007_algebra_p6", "IMO"),
        ("foo", "other"),
    ],
)
def test_category_from_name_prefix(name: str, expected: str) -> None:
    assert category(name) == expected


def test_every_minif2f_problem_has_a_known_category_and_source(shared: Path) -> None:
    problems = load_problems(shared / "data" / "minif2f" / "minif2f.jsonl")
    assert len(problems) == 488
    assert all(p.category != "other" for p in problems)
    assert all(p.source.commit and p.source.repo for p in problems)
    llemma = load_problems(shared / "data" / "minif2f" / "minif2f.jsonl", statement="llemma", names=["imo_1959_p1"])
    assert llemma[0].source.commit == "0931a1e27ede893b14b30da601dbf97f2b3ab42d"


def test_bad_benchmark_input_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkError, match="not found"):
        load_problems(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"name": "x", "formal_statement": "theorem x : True := by sorry"}\n{oops\n')
    with pytest.raises(BenchmarkError, match=r"bad.jsonl:2: invalid JSON"):
        load_problems(bad)
    bad.write_text('{"name": "x", "formal_statement": "theorem x : True := by sorry"}\n')
    with pytest.raises(BenchmarkError, match="unknown problem 'y'"):
        load_problems(bad, names=["y"])
    assert load_problems(bad)[0].theorem.statement == "theorem x : True"


def test_leandojo_rows_become_dojo_theorems(tmp_path: Path) -> None:
    path = tmp_path / "dojo.jsonl"
    row = {"url": "https://github.com/o/r", "commit": "abc1234", "file_path": "R/A.lean", "full_name": "R.foo"}
    path.write_text(json.dumps(row) + "\n")
    (p,) = load_problems(path)
    assert p.theorem.dojo is not None and p.theorem.dojo.full_name == "R.foo"
    assert (p.source.repo, p.source.commit) == ("https://github.com/o/r", "abc1234")


def test_statement_helpers() -> None:
    assert strip_proof("theorem t : 1 = 1 := by\n") == "theorem t : 1 = 1"
    assert strip_proof("theorem t : 1 = 1 := by sorry") == "theorem t : 1 = 1"
    src = StatementSource.parse("github.com/a/b@0123abc:X/Y.lean (MIT)")
    assert (src.repo, src.commit, src.path) == ("github.com/a/b", "0123abc", "X/Y.lean")


def test_sweep_config_preset_toml_flags_and_hash(tmp_path: Path) -> None:
    cfg = load_sweep_config(preset="llemma")
    assert (cfg.search.num_tactics, cfg.search.max_expansions, cfg.search.time_s) == (32, 100, 600.0)
    toml = tmp_path / "s.toml"
    toml.write_text('[sweep]\nsplit = "valid"\nprover_actors = 3\n[search]\nmax_expansions = 50\n')
    cfg2 = load_sweep_config(toml, {"sweep": {"prover_actors": 5, "output": "x.jsonl"}}, preset="llemma")
    assert (cfg2.sweep.split, cfg2.sweep.prover_actors, cfg2.search.max_expansions) == ("valid", 5, 50)
    assert cfg2.search.num_tactics == 32  # the preset stays where nothing overrides it
    # Parallelism and paths do not change the hash; search settings do.
    a = load_sweep_config(overrides={"sweep": {"prover_actors": 1, "output": "a.jsonl"}})
    b = load_sweep_config(overrides={"sweep": {"prover_actors": 16, "output": "b.jsonl"}})
    c = load_sweep_config(overrides={"search": {"max_expansions": 7}})
    assert a.config_hash() == b.config_hash() != c.config_hash()
    toml.write_text("[sweep]\nactorz = 3\n")
    with pytest.raises(ConfigError, match="sweep.actorz"):
        load_sweep_config(toml)
    with pytest.raises(ConfigError, match="unknown preset"):
        load_sweep_config(preset="nope")
