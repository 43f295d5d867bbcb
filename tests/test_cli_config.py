"""The CLI root and the shared configuration model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from timeouts import SUBPROCESS_TIMEOUT_S

from prover.cli import COMMAND_MODULES
from prover.config import ConfigError, load_config
from search.types import Scoring


def test_help_lists_every_subcommand() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "prover.cli", "--help"], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S
    )
    assert proc.returncode == 0
    for name in ("prove", "suggest", "serve", "sweep", "report", "train", "parse", "cassette", "doctor", "setup"):
        assert f" {name} " in proc.stdout, name
    assert len(COMMAND_MODULES) >= 8


def test_help_does_not_import_heavy_packages() -> None:
    code = "import sys, prover.cli; print(sorted(m for m in ('torch', 'transformers', 'ray', 'lean_dojo') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr


def test_defaults_are_llemma_settings() -> None:
    cfg = load_config()
    assert cfg.generator.model == "EleutherAI/llemma_7b"
    assert cfg.lean.backend == "repl"
    search = cfg.search.to_search_config()
    assert search.num_tactics == 32 and search.budget.max_expansions == 100 and search.budget.time_s == 600
    assert search.scoring is Scoring.LENGTH_NORMALIZED


def test_toml_then_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[search]\nnum_tactics = 8\nscoring = "sum_logprob"\n[generator]\nkind = "fixed"\n', encoding="utf-8"
    )
    cfg = load_config(path, {"search": {"num_tactics": 4, "time_s": None}})
    assert cfg.search.num_tactics == 4  # the flag wins
    assert cfg.search.time_s == 600  # None means "not given"
    assert cfg.search.scoring is Scoring.SUM_LOGPROB and cfg.generator.kind == "fixed"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[serach]\nx = 1\n", "serach"),
        ("[search]\nnum_tactics = -1\n", "search.num_tactics"),
        ("[lean]\nbackend = 'coq'\n", "lean.backend"),
        ("[search\n", "invalid TOML"),
    ],
)
def test_invalid_config_is_one_line(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_missing_config_file() -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config("/no/such/config.toml")


def test_a_config_key_typo_gets_did_you_mean(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[generator]\nkindd = "fixed"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_config(bad)
    assert str(refused.value) == f"invalid config {bad}: generator.kindd: unknown key (did you mean generator.kind?)"


def test_a_training_config_typo_is_named_not_hidden_behind_field_required() -> None:
    from train.config import parse_train_config

    with pytest.raises(ConfigError) as refused:
        parse_train_config({"template": "proofsteps", "dta": {"sources": []}}, "t.toml")
    message = str(refused.value)
    assert message.startswith("invalid training config t.toml: dta: unknown key (did you mean data?)"), message
    assert "Field required" not in message
