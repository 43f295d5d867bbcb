"""`--backend replay` reads each input once: the cassette file once for the backend and its verifier, each
theorem's header once for every comparison of that theorem with its record."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from lean_env.backends import replay
from lean_env.backends.replay import ReplayEnv, ReplayVerifier
from lean_env.source.declarations import parse_lean_source
from prover.backends import make_env, make_verifier
from prover.config import LeanConfig
from tests.cli_support import EXAMPLES


def test_env_and_verifier_share_one_loaded_cassette(tmp_path: Path) -> None:
    path = tmp_path / "demo.cassette.jsonl"
    shutil.copyfile(EXAMPLES / "demo.cassette.jsonl", path)
    cfg = LeanConfig(backend="replay", cassette=str(path))
    env, verifier = make_env(cfg), make_verifier(cfg)
    assert isinstance(env, ReplayEnv) and isinstance(verifier, ReplayVerifier)
    assert env.cassette is verifier.cassette
    assert env.cassette.theorems  # the demo's records, read from the file

    # A cassette rewritten on disk is read again, not served from the earlier copy.
    text = path.read_text(encoding="utf-8")
    first_theorem = next(line for line in text.splitlines() if '"kind":"theorem"' in line.replace(" ", ""))
    path.write_text(text.replace(first_theorem + "\n", ""), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    reloaded = make_env(cfg)
    assert isinstance(reloaded, ReplayEnv) and reloaded.cassette is not env.cassette
    assert len(reloaded.cassette.theorems) == len(env.cassette.theorems) - 1


def test_each_header_of_a_file_is_parsed_once_per_run() -> None:
    """A run compares every theorem's header when its search starts and again when its proof is verified."""
    source = "import Mathlib\nopen Nat\n\n" + "".join(
        f"theorem t{i} : {i} + 0 = {i} := by\n  sorry\n\n" for i in range(12)
    )
    headers = [decl.to_theorem().header for decl in parse_lean_source(source, "many.lean").theorems]
    assert len(set(headers)) == 12
    replay._header_context.cache_clear()
    first = [replay._header_context(h) for h in headers]  # the searches
    second = [replay._header_context(h) for h in headers]  # the verifications
    assert first == second and replay._header_context.cache_info().misses == 12
