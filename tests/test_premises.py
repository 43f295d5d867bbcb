"""Premises from the user's project: the dump's parser (on a constructed dump in the REPL's recorded message
format, tests/fixtures/premise_dump/SOURCE.md), the cached index, `prover index`, `prover premises`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from prover.premises.dump import (
    DUMP_SOURCE,
    Declaration,
    DumpError,
    ModuleDump,
    dump_commands,
    parse_module_answer,
    read_recorded_dump,
)
from prover.premises.index import PremiseIndex
from tests.cli_support import run_cli
from tests.seq2seq_models import save_tiny_byt5

FIXTURES = Path(__file__).parent / "fixtures" / "premise_dump"
DUMP = FIXTURES / "constructed_v4.24.0.jsonl"

MAIN = """import MyProj.Basic

theorem main_helper (n : ℕ) : n + 0 = n := by simp

theorem main_target (n : ℕ) : n + 0 + 0 = n := by
  sorry

theorem later_lemma : True := trivial
"""


def test_dump_answers_parse_into_modules() -> None:
    dumps = read_recorded_dump(DUMP)
    assert [d.module for d in dumps] == [
        "Init.Core",
        "Mathlib.Data.Nat.Basic",
        "Other.Unrelated",
        "MyProj.Basic",
        "MyProj.Main",
    ]
    nat = dumps[1]
    assert nat.imports == ("Init.Core",)
    assert nat.declarations[0] == Declaration("Nat.add_zero", "∀ (n : ℕ), n + 0 = n", "theorem", nat.module)
    assert nat.declarations[0].code() == "theorem Nat.add_zero : ∀ (n : ℕ), n + 0 = n"


def test_dump_failures_are_one_line_errors() -> None:
    error = {"messages": [{"severity": "error", "pos": {"line": 1, "column": 0}, "data": "unknown module X\nmore"}]}
    with pytest.raises(DumpError, match="failed in Lean: unknown module X$"):
        parse_module_answer(error)
    with pytest.raises(DumpError, match="refused"):
        parse_module_answer({"message": "Lean error:\nboom"})
    with pytest.raises(DumpError, match="not the dump's JSON"):
        parse_module_answer({"messages": [{"severity": "info", "data": "Try this: exact rfl"}]})


def test_dump_command_ships_the_lean_source() -> None:
    first, per_module = dump_commands(["MyProj.Main"])
    assert first.startswith("import Lean\nimport MyProj.Main\n")
    assert "#premise_dump" in first and "#premise_modules" in first
    assert DUMP_SOURCE.read_text(encoding="utf-8") in first
    assert per_module.format(module="A.B") == "#premise_dump A.B"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "MyProj").mkdir(parents=True)
    (root / "lean-toolchain").write_text("leanprover/lean4:v4.24.0\n")
    (root / "MyProj" / "Basic.lean").write_text("def MyProj.double (n : ℕ) := n + n\n")
    (root / "MyProj" / "Main.lean").write_text(MAIN)
    return root


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_byt5(tmp_path_factory.mktemp("enc") / "retriever", seed=7)


def _index(project: Path, cache: Path, encoder_dir: Path, dump: Path, *extra: str) -> Any:
    args = ["index", "--lean-project", str(project), "--dump", str(dump), "--retriever", str(encoder_dir)]
    return run_cli([*args, "--cache", str(cache), "--device", "cpu", *extra])


def test_index_embeds_own_modules_on_cpu_and_reuses_unchanged_ones(
    project: Path, encoder_dir: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    result = _index(project, cache, encoder_dir, DUMP, "--revision", "r1")
    assert result.exit_code == 0, result.stderr
    assert "embedding 5 premises of 2 modules" in result.stderr  # MyProj.Basic and MyProj.Main only
    assert "embedded MyProj.Basic" in result.stderr and "Mathlib" not in result.stderr.split("modules:")[-1]
    assert (cache / "v4.24.0" / "r1.json").exists()
    again = _index(project, cache, encoder_dir, DUMP, "--revision", "r1")
    assert "nothing to embed" in again.stderr
    # Revision r2 changes one module: only it is embedded again.
    lines = DUMP.read_text(encoding="utf-8").splitlines()
    answer = json.loads(lines[3])
    data = json.loads(answer["messages"][0]["data"])
    data["decls"].append({"name": "MyProj.triple", "type": "ℕ → ℕ", "kind": "def"})
    answer["messages"][0]["data"] = json.dumps(data, ensure_ascii=False)
    changed = tmp_path / "r2.jsonl"
    changed.write_text("\n".join([*lines[:3], json.dumps(answer, ensure_ascii=False), lines[4]]) + "\n")
    result = _index(project, cache, encoder_dir, changed, "--revision", "r2")
    assert result.exit_code == 0, result.stderr
    assert "embedding 3 premises of 1 modules" in result.stderr and "embedded MyProj.Basic" in result.stderr
    # Mathlib's part on request (a GPU in real use): --modules.
    result = _index(project, cache, encoder_dir, DUMP, "--revision", "r1", "--modules", "Mathlib", "--modules", "Init")
    assert "embedding 5 premises of 2 modules" in result.stderr


def test_a_killed_build_resumes_with_the_modules_left(tmp_path: Path) -> None:
    dumps = read_recorded_dump(DUMP)
    store = PremiseIndex(tmp_path, "v4.24.0")
    manifest = store.store("r1", dumps)

    class DiesAfterOneModule:
        calls = 0

        def encode(self, texts: Any) -> list[list[float]]:
            self.calls += 1
            if self.calls > 1:
                raise KeyboardInterrupt  # a kill between modules
            return [[1.0, 0.0] for _ in texts]

    plan = store.plan(manifest, lambda m: True)
    assert len(plan.to_embed) == 5
    with pytest.raises(KeyboardInterrupt):
        store.embed(manifest, plan, DiesAfterOneModule(), batch_size=64)
    left = store.plan(manifest, lambda m: True)
    assert left.to_embed == plan.to_embed[1:]


def test_retrieval_ranks_by_dot_product_over_accessible_modules(tmp_path: Path) -> None:
    store = PremiseIndex(tmp_path, "v4.24.0")
    dumps = [
        ModuleDump("A", (), (Declaration("a1", "P", "theorem", "A"), Declaration("a2", "Q", "theorem", "A"))),
        ModuleDump("B", ("A",), (Declaration("b1", "R", "theorem", "B"),)),
        ModuleDump("C", (), (Declaration("c1", "S", "theorem", "C"),)),
    ]
    manifest = store.store("r", dumps)
    vectors = {"P": [1.0, 0.0], "Q": [0.6, 0.8], "R": [0.0, 1.0], "S": [1.0, 0.0]}

    class ByType:
        def encode(self, texts: Any) -> list[list[float]]:
            return [vectors[t.rsplit(" : ", 1)[-1]] for t in texts]

    store.embed(manifest, store.plan(manifest, lambda m: True), ByType())
    modules = store.accessible(manifest, ["B"])
    assert modules == ["A", "B"]
    hits, skipped = store.retrieve(manifest, modules, [0.0, 1.0], k=3)
    assert [h.declaration.name for h in hits] == ["b1", "a2", "a1"] and not skipped
    assert [round(h.score, 3) for h in hits] == [1.0, 0.8, 0.0]


def test_premises_command_returns_only_accessible_declarations(
    project: Path, encoder_dir: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    built = _index(
        project,
        cache,
        encoder_dir,
        DUMP,
        "--revision",
        "r1",
        *(f"--modules={m}" for m in ("Init", "Mathlib", "MyProj", "Other")),
    )
    assert built.exit_code == 0, built.stderr
    main = project / "MyProj" / "Main.lean"
    common = ["--retriever", str(encoder_dir), "--cache", str(cache), "--revision", "r1", "--json", "-k", "50"]
    result = run_cli(["premises", str(main), "--theorem", "main_target", *common])
    assert result.exit_code == 0, result.stderr
    names = {p["name"] for p in json.loads(result.stdout)["premises"]}
    dumped = {"Eq.symm", "id", "Nat.add_zero", "Nat.succ_ne_zero", "Nat.le_refl", "MyProj.double", "MyProj.double_eq"}
    assert names == dumped | {"main_helper"}  # not Other.*, not main_target itself, not later_lemma
    before_helper = run_cli(["premises", str(main), "--theorem", "main_target", "--line", "2", *common])
    assert {p["name"] for p in json.loads(before_helper.stdout)["premises"]} == dumped
    missing = run_cli(["premises", str(main), "--theorem", "nope", *common])
    assert missing.exit_code == 2 and "no theorem" in missing.stderr
    other_revision = ["--retriever", str(encoder_dir), "--cache", str(cache), "--revision", "zz"]
    unindexed = run_cli(["premises", str(main), "-t", "main_target", *other_revision])
    assert unindexed.exit_code == 2 and "prover index" in unindexed.stderr


@pytest.mark.lean
def test_live_dump_of_a_core_module() -> None:
    from conftest import live_lean_project

    from lean_env.backends.repl_process import ReplProcess
    from lean_env.project.lake_project import default_repl_binary
    from prover.premises.dump import dump_with_repl

    project = live_lean_project()
    assert project is not None
    lake = shutil.which("lake")
    assert lake is not None
    proc = ReplProcess([lake, "env", str(default_repl_binary(project))], project)
    proc.start()
    try:
        [prelude] = list(dump_with_repl(proc, [], ["Init.Prelude"], timeout=600))
    finally:
        proc.close()
    by_name = {d.name: d for d in prelude.declarations}
    assert by_name["Eq.symm"].kind == "theorem" and "=" in by_name["Eq.symm"].type


def test_premises_endpoint_and_retrieval_input(project: Path, encoder_dir: Path, tmp_path: Path) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from prover.premises.index import RetrieverEncoder
    from prover.premises.query import RetrievalInput
    from prover.serve_openai import PremiseService, register_premise_routes
    from search.types import GenRequest

    cache = tmp_path / "cache"
    modules = (f"--modules={m}" for m in ("Init", "Mathlib", "MyProj", "Other"))
    assert _index(project, cache, encoder_dir, DUMP, "--revision", "worktree", *modules).exit_code == 0
    encoder = RetrieverEncoder.from_pretrained(str(encoder_dir))
    app = FastAPI()
    register_premise_routes(app, PremiseService(project, cache, lambda: encoder))
    client = TestClient(app)
    main = str(project / "MyProj" / "Main.lean")
    resp = client.post("/premises", json={"file": main, "theorem": "main_target", "k": 3})
    assert resp.status_code == 200, resp.text
    rows = resp.json()["premises"]
    assert len(rows) == 3 and [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert all(r["name"] not in ("later_lemma", "Other.unrelated_fact") for r in rows)
    bad = client.post("/premises", json={"file": main, "theorem": "nope"})
    assert bad.status_code == 400 and "no theorem" in bad.json()["error"]
    unconfigured = FastAPI()
    register_premise_routes(unconfigured, None)
    assert TestClient(unconfigured).post("/premises", json={"file": main, "theorem": "t"}).status_code == 501
    # reprover-retrieval's input: the best premises above the state, within ReProver's byte budget.
    build = RetrievalInput(PremiseIndex(cache, "v4.24.0"), "worktree", encoder, k=2)
    text = build(GenRequest("n : ℕ\n⊢ n + 0 = n"))
    assert text.endswith("\n\nn : ℕ\n⊢ n + 0 = n") and text.count("\n\n") == 2
