"""train.data and train.config: readers on the real proofstep files, cleaning, split by theorem, miniF2F check."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from prover.config import ConfigError
from train.config import DataSection, DataSource, load_train_config, parse_train_config
from train.data import (
    ContaminationError,
    DataError,
    MiniF2FIndex,
    ProofStep,
    check_contamination,
    clean,
    collapse_ws,
    prepare_data,
    read_hf,
    read_jsonl,
    read_leandojo,
    read_proofpile,
    read_source,
    split_by_theorem,
    statement_body,
    theorem_groups,
)

FILES = {
    "lean_workbook_plasma_converter.jsonl": 633,
    "leandojo_benchmark4_random_test_sample100.jsonl": 469,
    "leanstar_leandojo_state_tactic.jsonl": 501,
}


@pytest.fixture(scope="module")
def proofsteps_dir(shared: Path) -> Path:
    return shared / "data" / "proofsteps"


@pytest.fixture(scope="module")
def all_steps(proofsteps_dir: Path) -> list[ProofStep]:
    return list(read_jsonl(proofsteps_dir))


def _raw_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ----------------------------------------------------------------------------------------- readers


@pytest.mark.parametrize("name,count", sorted(FILES.items()))
def test_jsonl_reader_reads_every_real_row(proofsteps_dir: Path, name: str, count: int) -> None:
    steps = list(read_jsonl(proofsteps_dir / name))
    raw = _raw_rows(proofsteps_dir / name)
    assert len(steps) == count == len(raw)
    assert [s.state for s in steps] == [r["state_before"] for r in raw]
    assert [s.tactic for s in steps] == [r["tactic"] for r in raw]
    assert [s.theorem for s in steps] == [r["theorem"] or None for r in raw]


def test_jsonl_reader_on_a_folder_reads_all_files(all_steps: list[ProofStep]) -> None:
    assert len(all_steps) == sum(FILES.values())
    workbook = [s for s in all_steps if s.source.startswith("lean_workbook")]
    assert all(s.formal_statement and s.formal_statement.startswith("theorem ") for s in workbook)


def test_leandojo_benchmark_reader(tmp_path: Path, proofsteps_dir: Path) -> None:
    """Real rows regrouped into the Benchmark 4 layout (one entry per theorem with traced_tactics)."""
    raw = _raw_rows(proofsteps_dir / "leandojo_benchmark4_random_test_sample100.jsonl")
    by_thm: dict[str, list[dict]] = defaultdict(list)
    for row in raw:
        by_thm[row["theorem"]].append(row)
    theorems = []
    for i, (name, rows) in enumerate(by_thm.items()):
        traced = [
            {
                "tactic": r["tactic"],
                "annotated_tactic": [r["tactic"], []],
                "state_before": r["state_before"],
                "state_after": r["state_after"],
            }
            for r in rows
        ]
        entry = {
            "url": "u",
            "commit": "c",
            "file_path": rows[0]["file"],
            "full_name": name,
            "start": [1, 1],
            "end": [2, 1],
        }
        # Some public copies store traced_tactics as a Python repr string.
        entry["traced_tactics"] = repr(traced) if i % 2 else traced
        theorems.append(entry)
    (tmp_path / "train.json").write_text(json.dumps(theorems), encoding="utf-8")
    steps = list(read_leandojo(tmp_path))
    assert len(steps) == len(raw)
    assert {(s.state, s.tactic) for s in steps} == {(r["state_before"], r["tactic"]) for r in raw}
    assert {s.theorem.split(":", 1)[1] for s in steps if s.theorem} == set(by_thm)


def test_leandojo_split_folder_reads_train_json_only(tmp_path: Path) -> None:
    """A Benchmark 4 split folder holds train/val/test.json; the benchmark's top level has metadata.json."""

    def theorem(state: str) -> dict:
        return {"file_path": "F.lean", "full_name": state, "traced_tactics": [{"state_before": state, "tactic": "rfl"}]}

    for split in ("train", "val", "test"):
        (tmp_path / f"{split}.json").write_text(json.dumps([theorem(f"⊢ {split}")]), encoding="utf-8")
    (tmp_path / "metadata.json").write_text(json.dumps({"commit": "c", "traced_at": "t"}), encoding="utf-8")
    assert [s.state for s in read_leandojo(tmp_path)] == ["⊢ train"]
    assert [s.state for s in read_leandojo(tmp_path, "val")] == ["⊢ val"]
    assert [s.state for s in read_leandojo(tmp_path / "test.json")] == ["⊢ test"]  # a named file is read
    source = DataSource(format="leandojo", path=str(tmp_path))
    assert [s.state for s in read_source(source)] == ["⊢ train"]
    (tmp_path / "train.json").unlink()
    with pytest.raises(DataError, match="no train.json"):
        list(read_leandojo(tmp_path))


def test_leandojo_reader_rejects_wrong_layout(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text(json.dumps({"not": "a list"}), encoding="utf-8")
    with pytest.raises(DataError, match=r"x\.json.*list"):
        list(read_leandojo(bad))


def test_proofpile_reader_parses_goal_proofstep_blocks(tmp_path: Path, proofsteps_dir: Path) -> None:
    """Real pairs written in the `lake exe training_data --proofstep` text layout, one module per row."""
    raw = _raw_rows(proofsteps_dir / "leandojo_benchmark4_random_test_sample100.jsonl")[:60]
    modules: dict[str, list[dict]] = defaultdict(list)
    for row in raw:
        modules[row["file"]].append(row)
    with (tmp_path / "lean_proofsteps.jsonl").open("w", encoding="utf-8") as fh:
        for module, rows in modules.items():
            text = "\n".join(f"[GOAL]\n{r['state_before']}\n[PROOFSTEP]\n{r['tactic']}" for r in rows)
            fh.write(json.dumps({"text": text, "meta": {"mathlib_filename": module}}) + "\n")
    steps = list(read_proofpile(tmp_path / "lean_proofsteps.jsonl"))
    assert [(s.state, s.tactic) for s in steps] == [(r["state_before"], r["tactic"]) for r in raw]
    assert {s.theorem for s in steps} == {f"module:{m}" for m in modules}


def test_proofpile_reader_rejects_goal_without_proofstep(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_text("[GOAL]\n⊢ True\n", encoding="utf-8")
    with pytest.raises(DataError, match="without \\[PROOFSTEP\\]"):
        list(read_proofpile(tmp_path / "bad.txt"))


def test_hf_datasets_reader_streams_a_real_file(proofsteps_dir: Path) -> None:
    path = proofsteps_dir / "lean_workbook_plasma_converter.jsonl"
    source = DataSource(format="hf", path=str(path), streaming=True, max_rows=40)
    from train.data import read_source

    via_hf = list(read_source(source))
    direct = list(read_jsonl(path))[:40]
    assert [(s.state, s.tactic, s.theorem) for s in via_hf] == [(s.state, s.tactic, s.theorem) for s in direct]
    assert via_hf[0].formal_statement == direct[0].formal_statement


def test_hf_reader_unknown_dataset_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot load dataset"):
        list(read_hf(DataSource(format="hf", path=str(tmp_path / "missing"), split="train")))


def test_jsonl_reader_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"state_before": "⊢ True", "tactic": "trivial"}\n{oops\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.jsonl:2: invalid JSON"):
        list(read_jsonl(bad))
    bad.write_text('{"state_before": "⊢ True"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.jsonl:1: .*tactic"):
        list(read_jsonl(bad))
    with pytest.raises(DataError, match="not found"):
        list(read_jsonl(tmp_path / "nope.jsonl"))


# ----------------------------------------------------------------------------------------- cleaning


def test_clean_normalises_dedupes_and_drops_unusable_rows() -> None:
    rows = [
        ProofStep(state="x : ℕ\n⊢ x = x   \n", tactic="  rfl  "),
        ProofStep(state="x : ℕ\n⊢ x = x", tactic="rfl"),  # duplicate after normalisation
        ProofStep(state="no goals", tactic="rfl"),
        ProofStep(state="⊢ True", tactic="   "),
        ProofStep(state="⊢ False", tactic="sorry"),
        ProofStep(state="⊢ 1 = 1", tactic="norm_num"),
    ]
    kept, stats = clean(rows)
    assert [(s.state, s.tactic) for s in kept] == [("x : ℕ\n⊢ x = x", "rfl"), ("⊢ 1 = 1", "norm_num")]
    assert (stats.read, stats.kept, stats.duplicates, stats.empty, stats.refused) == (6, 2, 1, 2, 1)


def test_clean_on_real_data_keeps_almost_everything(all_steps: list[ProofStep]) -> None:
    kept, stats = clean(all_steps)
    assert stats.read == len(all_steps)
    assert len(all_steps) - 20 < stats.kept <= len(all_steps)
    assert len({(collapse_ws(s.state), collapse_ws(s.tactic)) for s in kept}) == len(kept)


# ----------------------------------------------------------------------------------------- split


def test_split_puts_no_theorem_in_both_parts(all_steps: list[ProofStep]) -> None:
    steps, _ = clean(all_steps)
    split = split_by_theorem(steps, 0.1, seed=3)
    assert len(split.train) + len(split.validation) == len(steps)
    assert 0.07 * len(steps) <= len(split.validation) <= 0.15 * len(steps)
    train_names = {s.theorem for s in split.train if s.theorem}
    val_names = {s.theorem for s in split.validation if s.theorem}
    assert val_names and not train_names & val_names
    # No identical state on both sides either (covers the nameless Lean-STaR rows).
    assert not {collapse_ws(s.state) for s in split.train} & {collapse_ws(s.state) for s in split.validation}
    # Every union-find group lies on one side.
    groups = theorem_groups(split.train + split.validation)
    side = ["t"] * len(split.train) + ["v"] * len(split.validation)
    seen: dict[int, str] = {}
    for g, s in zip(groups, side, strict=True):
        assert seen.setdefault(g, s) == s
    # All three sources are represented in validation.
    assert {s.source.split(":")[0] for s in split.validation} == set(FILES)


def test_split_is_seeded_and_deterministic(all_steps: list[ProofStep]) -> None:
    steps, _ = clean(all_steps)
    a = split_by_theorem(steps, 0.1, seed=1)
    b = split_by_theorem(steps, 0.1, seed=1)
    c = split_by_theorem(steps, 0.1, seed=2)
    assert [s.source for s in a.validation] == [s.source for s in b.validation]
    assert [s.source for s in a.validation] != [s.source for s in c.validation]


def test_nameless_rows_sharing_context_or_goal_are_one_group() -> None:
    rows = [
        ProofStep(state="a b : ℕ\nh : a = b\n⊢ b = a", tactic="symm"),
        ProofStep(state="a b : ℕ\nh : a = b\n⊢ a = b", tactic="exact h"),  # same hypotheses
        ProofStep(state="n : ℕ\n⊢ a = b", tactic="simp"),  # same target as row 2
        ProofStep(state="x : ℝ\n⊢ x ≤ x", tactic="le_refl x"),  # unrelated
    ]
    groups = theorem_groups(rows)
    assert groups[0] == groups[1] == groups[2] != groups[3]


def test_split_refuses_when_impossible() -> None:
    rows = [
        ProofStep(state="⊢ True", tactic="trivial", theorem="t"),
        ProofStep(state="⊢ 1 = 1", tactic="rfl", theorem="t"),
    ]
    with pytest.raises(DataError, match="cannot split"):
        split_by_theorem(rows, 0.5)


# ----------------------------------------------------------------------------------------- miniF2F check


@pytest.fixture(scope="module")
def minif2f_rows(shared: Path) -> list[dict]:
    return _raw_rows(shared / "data" / "minif2f" / "minif2f.jsonl")


def test_real_training_data_is_not_contaminated(all_steps: list[ProofStep]) -> None:
    check_contamination(all_steps, MiniF2FIndex.load())


def test_planted_minif2f_initial_goal_is_refused(all_steps: list[ProofStep], minif2f_rows: list[dict]) -> None:
    problem = minif2f_rows[5]
    # Re-wrapped whitespace must not hide it.
    goal = problem["initial_goal_deepseek"].replace(" : ", "  :  ").replace("\n", "\n ")
    planted = [*all_steps[:50], ProofStep(state=goal, tactic="norm_num", source="planted.jsonl:1")]
    with pytest.raises(ContaminationError, match=rf"planted\.jsonl:1 = {problem['name']}"):
        check_contamination(planted, MiniF2FIndex.load())


def test_planted_minif2f_statement_under_another_name_is_refused(minif2f_rows: list[dict]) -> None:
    problem = minif2f_rows[100]
    renamed = problem["formal_statement"].replace(problem["name"], "innocent_lemma", 1)
    step = ProofStep(
        state="⊢ True", tactic="trivial", formal_statement=renamed.replace(":= by sorry", ":= by"), source="w:7"
    )
    with pytest.raises(ContaminationError, match="1 row"):
        check_contamination([step], MiniF2FIndex.load())


def test_statement_body_drops_name_and_proof() -> None:
    assert statement_body("theorem foo (a : ℕ) :\n  a = a := by sorry") == "(a : ℕ) : a = a"
    assert statement_body("lemma bar : 1 = 1 :=  by\n") == ": 1 = 1"
    assert statement_body("example : True := trivial") == ": True"


def test_prepare_data_refuses_a_contaminated_source(
    tmp_path: Path, minif2f_rows: list[dict], proofsteps_dir: Path
) -> None:
    mixed = tmp_path / "mixed.jsonl"
    lines = (proofsteps_dir / "lean_workbook_plasma_converter.jsonl").read_text(encoding="utf-8").splitlines()[:100]
    planted = {"state_before": minif2f_rows[0]["initial_goal_deepseek"], "tactic": "norm_num", "theorem": "x"}
    mixed.write_text("\n".join([*lines, json.dumps(planted)]) + "\n", encoding="utf-8")
    cfg = DataSection(sources=[DataSource(path=str(mixed))])
    with pytest.raises(ContaminationError, match="refusing to train"):
        prepare_data(cfg)
    cfg.check_minif2f = False  # the check can be switched off explicitly
    assert len(prepare_data(cfg).train) > 0


# ----------------------------------------------------------------------------------------- config


def test_cpu_tiny_config_loads_with_the_model_table(repo_root: Path) -> None:
    cfg = load_train_config(repo_root / "train" / "configs" / "cpu-tiny.toml")
    assert cfg.model.name_or_path is None and cfg.template == "proofsteps"
    import tomllib

    table = tomllib.loads((repo_root / "train" / "configs" / "cpu-tiny.toml").read_text())["model"]
    for key in (
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
        "max_position_embeddings",
        "vocab_size",
    ):
        assert isinstance(table[key], int)
    assert cfg.model.max_position_embeddings >= cfg.data.max_length
    assert load_train_config("cpu-tiny").model == cfg.model  # packaged name works too


def test_gpu_example_config_loads(repo_root: Path) -> None:
    cfg = load_train_config(repo_root / "train" / "configs" / "llemma-7b-lora.toml")
    assert cfg.model.name_or_path == "EleutherAI/llemma_7b" and cfg.lora.enabled and cfg.training.bf16


def test_config_errors_are_one_line(tmp_path: Path) -> None:
    base = {"data": {"sources": [{"path": "x"}]}}
    with pytest.raises(
        ConfigError, match=r"training\.learnin_rate: unknown key \(did you mean training\.learning_rate\?\)"
    ):
        parse_train_config({**base, "training": {"learnin_rate": 1.0}})
    with pytest.raises(ConfigError, match="unknown template"):
        parse_train_config({**base, "template": "nope"})
    with pytest.raises(ConfigError, match="LoRA needs a pretrained model"):
        parse_train_config({**base, "lora": {"enabled": True}})
    bad = tmp_path / "bad.toml"
    bad.write_text("[data\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_train_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_train_config(tmp_path / "missing.toml")
