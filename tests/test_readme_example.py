"""The README's Python round trip (section "From Python"), run as written in a temporary folder, so it cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

README = Path(__file__).resolve().parents[1] / "README.md"


def python_block(section: str) -> str:
    """The first ```python block of the README section titled ``section``."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    match = re.search(r"```python\n(.*?)```", text[start:end if end != -1 else None], re.S)
    assert match, f"no python block in README section {section!r}"
    return match.group(1)


def test_readme_round_trip_runs_from_python(tmp_path, monkeypatch, capsys):
    from rsmodel.convert import load_tokenizer

    try:
        load_tokenizer(None)
    except Exception as error:  # noqa: BLE001 - the tiny recipe's tokenizer comes from open_clip's vocabulary
        pytest.skip(f"the tiny recipe's CLIP tokenizer is unavailable: {error}")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-datasets"))
    monkeypatch.setenv("RSCLIP_CACHE", str(tmp_path / "rsclip-cache"))
    namespace: dict = {}
    exec(compile(python_block("From Python"), str(README), "exec"), namespace)  # noqa: S102 - our own README

    dataset, run, results = namespace["dataset"], namespace["run"], namespace["results"]
    assert dataset.report.images == 24 and (tmp_path / "demo" / "dataset" / "README.md").is_file()
    assert run.global_step == 10 and run.record["status"] == "complete"
    assert (run.run_dir / "model.safetensors").is_file() and run.run_dir == Path("demo/run")
    assert results.records and results.records[0]["task"] == "retrieval"
    assert set(results.metrics) == {"demo"} and results.main_metrics()
    assert (results.output / "summary.md").is_file()
    printed = capsys.readouterr().out
    assert "step 10" in printed and "demo/retrieval/" in printed
