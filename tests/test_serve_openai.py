"""OpenAI-compatible and Ollama endpoints answering LLMLean's requests, built and parsed as LLMLean does
(tests/llmlean_client.py, cmu-l3/llmlean@13ab390)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from cli_support import wait_until_served
from fastapi import FastAPI
from fastapi.testclient import TestClient

import tests.llmlean_client as llmlean
from prover.llm_prompts import ParsedPrompt, PromptKind, Task, parse_prompt
from prover.serve_openai import ModelCatalog, register_llm_routes
from search.types import Candidate, GenRequest

STATE = "x y : ℕ\nh : x = y\n⊢ y = x"
CONTEXT = "import Mathlib\n\ntheorem swap (x y : ℕ) (h : x = y) : y = x := by\n  "
TACTICS = ["exact h.symm", "rw [h]", "simp [h]", "omega", "exact Eq.symm h", "linarith"]


class RankedGenerator:
    """Proposes TACTICS (best first) that start with the request's prefix; records what it was asked."""

    def __init__(self) -> None:
        self.seen: list[GenRequest] = []

    def __call__(self, requests: Sequence[GenRequest], k: int) -> list[list[Candidate]]:
        self.seen.extend(requests)
        out = []
        for r in requests:
            ranked = [t for t in TACTICS if t.startswith(r.prefix)]
            out.append([Candidate(t, -0.1 * (i + 1)) for i, t in enumerate(ranked[:k])])
        return out


PROOFS = ["exact h.symm", "subst h\n  rfl", "omega"]


def write_proofs(parsed: ParsedPrompt, n: int) -> list[str]:
    assert parsed.task is Task.PROOF and "theorem swap" in parsed.context
    return PROOFS[:n]


@pytest.fixture
def setup() -> tuple[TestClient, RankedGenerator]:
    gen = RankedGenerator()
    app = FastAPI()
    catalog = ModelCatalog("reprover", "kaiyuy/leandojo-lean4-tacgen-byt5-small", gen, None, lambda name: write_proofs)
    register_llm_routes(app, catalog, k_default=8)
    return TestClient(app), gen


KINDS = ["fewshot", "instruction", "reasoning", "markdown"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("pre", ["", "exact "])
def test_prompt_kinds_give_back_goal_and_prefix(kind: str, pre: str) -> None:
    first = llmlean.make_prompts(kind, CONTEXT, STATE, pre)[0]
    parsed = parse_prompt(first)
    assert (parsed.task, parsed.kind, parsed.state, parsed.prefix) == (Task.TACTIC, PromptKind(kind), STATE, pre)
    qed = parse_prompt(llmlean.make_qed_prompts(kind, CONTEXT, STATE)[0])
    assert qed.task is Task.PROOF and "theorem swap" in qed.context
    if kind in ("reasoning", "markdown"):
        assert qed.state == STATE


@pytest.mark.parametrize("kind", ["fewshot", "instruction", "reasoning"])
@pytest.mark.parametrize("pre", ["", "rw"])
def test_openai_llmstep_replies_parse_to_the_ranked_tactics(setup: Any, kind: str, pre: str) -> None:
    client, gen = setup
    results: set[str] = set()
    for prompt in llmlean.make_prompts(kind, CONTEXT, STATE, pre):  # tacticGenerationOpenAI
        resp = client.post(
            "/v1/chat/completions", json=llmlean.openai_request("reprover", prompt, 4, llmlean.STOP_TACTIC)
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["id"] and all(c["message"]["role"] == "assistant" for c in body["choices"])
        results |= {pre + llmlean.split_tac(c["message"]["content"]) for c in body["choices"]}
    # splitTac trims the reply, so LLMLean glues the prefix to the rest: `rw` + `[h]` (still `rw [h]` to Lean).
    expected = {pre + t[len(pre) :].strip() for t in [t for t in TACTICS if t.startswith(pre)][:4]}
    assert {r for r in results if llmlean.keep(r)} == expected
    assert gen.seen and all(r.state == STATE and r.prefix == pre for r in gen.seen)


@pytest.mark.parametrize("kind", ["fewshot", "instruction", "reasoning"])
def test_ollama_identical_requests_get_distinct_candidates(setup: Any, kind: str) -> None:
    client, _ = setup
    results: list[str] = []
    prompt = llmlean.make_prompts(kind, CONTEXT, STATE, "")[0]
    for i, req in enumerate(
        llmlean.ollama_requests("reprover", prompt, 4, llmlean.STOP_TACTIC)
    ):  # tacticGenerationOllama
        resp = client.post("/api/generate", json=req)
        assert resp.status_code == 200, resp.text
        results.append(llmlean.split_tac(resp.json()["response"]))
        if i == 1:  # the temperature-0 request gets the best candidate
            assert results[-1] == TACTICS[0]
    assert len(set(results)) == 4 and set(results) <= set(TACTICS[:4])


def test_ollama_markdown_tactics_are_whole_lines_of_a_lean4_block(setup: Any) -> None:
    client, _ = setup
    [prompt] = llmlean.make_prompts("markdown", CONTEXT, STATE, "simp")
    found = set()
    for req in llmlean.ollama_requests("reprover", prompt, 4, ["</think>"]):  # tacticGenerationOllamaMarkdown
        found |= set(llmlean.markdown_tactics(client.post("/api/generate", json=req).json()["response"]))
    assert found == {"simp [h]"}


@pytest.mark.parametrize("kind", KINDS)
def test_llmqed_with_a_whole_proof_preset(setup: Any, kind: str) -> None:
    client, _ = setup
    [prompt] = llmlean.make_qed_prompts(kind, CONTEXT, STATE)
    if kind == "markdown":  # qedOllamaMarkdown
        got = set()
        for req in llmlean.ollama_requests("deepseek-prover-v1.5", prompt, 3, llmlean.STOP_PROOF, 256):
            got.add(llmlean.markdown_proof(CONTEXT, client.post("/api/generate", json=req).json()["response"]))
        assert got == set(PROOFS)
        return
    req = llmlean.openai_request("deepseek-prover-v1.5", prompt, 3, llmlean.STOP_PROOF, 2048)  # qedOpenAI
    body = client.post("/v1/chat/completions", json=req).json()
    assert {llmlean.split_proof(c["message"]["content"]) for c in body["choices"]} == set(PROOFS)


def test_unknown_model_is_one_line_listing_presets(setup: Any) -> None:
    client, _ = setup
    prompt = llmlean.make_prompts("instruction", CONTEXT, STATE, "")[0]
    resp = client.post("/v1/chat/completions", json=llmlean.openai_request("gpt-4o", prompt, 2, llmlean.STOP_TACTIC))
    assert resp.status_code == 404
    message = resp.json()["error"]["message"]
    assert "\n" not in message and "reprover" in message and "bfs-prover-v2" in message
    resp = client.post("/api/generate", json=llmlean.ollama_requests("wellecks/ntpctx-llama3-8b", prompt, 1, [])[0])
    assert resp.status_code == 404 and "reprover" in resp.json()["error"]


def test_step_preset_refuses_llmqed_and_whole_preset_refuses_llmstep(setup: Any) -> None:
    client, _ = setup
    [qed] = llmlean.make_qed_prompts("instruction", CONTEXT, STATE)
    resp = client.post("/v1/chat/completions", json=llmlean.openai_request("reprover", qed, 1, llmlean.STOP_PROOF))
    assert resp.status_code == 400 and "whole-proof preset" in resp.json()["error"]["message"]
    step = llmlean.make_prompts("instruction", CONTEXT, STATE, "")[0]
    resp = client.post("/v1/chat/completions", json=llmlean.openai_request("kimina-prover", step, 1, []))
    assert resp.status_code == 400 and "step preset" in resp.json()["error"]["message"]


def test_legacy_completions_and_stop_sequences(setup: Any) -> None:
    client, _ = setup
    resp = client.post("/v1/completions", json={"model": "reprover", "prompt": STATE, "n": 3, "stop": ["."]})
    assert resp.status_code == 200
    texts = [c["text"] for c in resp.json()["choices"]]
    assert texts == ["exact h", "rw [h]", "simp [h]"]  # "exact h.symm" cut at the stop sequence
    assert client.get("/v1/models").json()["data"][0]["id"] == "reprover"


def test_serve_process_runs_a_seq2seq_model_for_lean_copilot_and_llmlean(repo_root: Any, tmp_path: Any) -> None:
    """`prover serve --model <ByT5 folder> --device cpu` end to end: /generate and an LLMLean Ollama request."""
    import os
    import signal
    import socket
    import subprocess
    import sys

    import httpx

    from tests.seq2seq_models import save_tiny_byt5

    folder = save_tiny_byt5(tmp_path / "byt5", seed=4)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = dict(os.environ, PYTHONPATH=str(repo_root), NO_COLOR="1", OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "prover.cli", "serve", "--port", str(port), "--model", str(folder), "--device", "cpu"]
    proc = subprocess.Popen(
        [*cmd, "-k", "3"], cwd=repo_root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_served(proc, url, 180)
        resp = httpx.post(f"{url}/generate", json={"name": "x", "input": STATE}, timeout=120)
        assert resp.status_code == 200 and all(o["score"] <= 0 for o in resp.json()["outputs"])
        prompt = llmlean.make_prompts("instruction", CONTEXT, STATE, "")[0]
        req = llmlean.ollama_requests(str(folder), prompt, 1, llmlean.STOP_TACTIC)[0]
        resp = httpx.post(f"{url}/api/generate", json=req, timeout=120)
        assert resp.status_code == 200 and isinstance(resp.json()["response"], str)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "torch: 1 CPU thread(s) (OMP_NUM_THREADS)" in err


def test_served_name_is_the_models_preset_or_its_id() -> None:
    from prover.config import GeneratorConfig, load_config
    from prover.serve_openai import preset_config, served_preset_name

    assert served_preset_name(GeneratorConfig(model="kaiyuy/leandojo-lean4-tacgen-byt5-small")) == "reprover"
    assert served_preset_name(GeneratorConfig(model="/ckpt/mine")) == "/ckpt/mine"
    assert served_preset_name(load_config(None, {"generator": {"template": "bfs-prover-v2"}}).generator) == (
        "bfs-prover-v2"
    )
    assert preset_config(GeneratorConfig(), "bfs-prover-v2").model == "ByteDance-Seed/BFS-Prover-V2-7B"
    assert preset_config(GeneratorConfig(), "reprover-retrieval").model == (
        "kaiyuy/leandojo-lean4-retriever-tacgen-byt5-small"
    )
