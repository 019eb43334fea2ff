"""benchmarks/data_supply.py: the weighting arithmetic, the training-ready bytes, and a quick run end to end (its
printed table and JSON). The figures of a quick run are not measurements; only their structure is checked."""

from __future__ import annotations

import importlib.util
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "data_supply.py"


@pytest.fixture(scope="module")
def supply():
    spec = importlib.util.spec_from_file_location("data_supply_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the classes are created
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def _encoded(fmt: str, size: tuple[int, int]) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(0)
    picture = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize(size, Image.BICUBIC)
    buffer = io.BytesIO()
    picture.save(buffer, fmt)
    return buffer.getvalue()


def _described(data: bytes) -> tuple[str, tuple[int, int]]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.format, image.size


def test_weighted_rate_is_one_epoch_of_the_corpus_on_one_core(supply):
    seconds = {"big": 0.010, "small": 0.002}
    counts = {"big": 1, "small": 3}
    # One epoch: 1 x 10 ms + 3 x 2 ms = 16 ms for 4 images.
    assert supply.weighted_rate(seconds, counts) == pytest.approx(4 / 0.016)
    # The count-weighted harmonic mean of the rates, not their arithmetic mean (which would say 400 img/s).
    rates = {name: 1 / value for name, value in seconds.items()}
    harmonic = sum(counts.values()) / sum(counts[name] / rates[name] for name in rates)
    assert supply.weighted_rate(seconds, counts) == pytest.approx(harmonic)
    assert supply.weighted_rate({"big": 0.01}, {"big": 7, "unused": 5}) == pytest.approx(100)
    with pytest.raises(ValueError, match="no count for source"):
        supply.weighted_rate({"big": 0.01, "other": 0.01}, {"big": 1})
    with pytest.raises(ValueError, match="bad: big"):
        supply.weighted_rate({"big": 0.0}, {"big": 1})


def test_required_rate_per_core(supply):
    assert supply.required_per_core(2000, 14) == pytest.approx(142.857, abs=1e-3)
    assert supply.required_per_core(5600, 14) == pytest.approx(400)
    with pytest.raises(ValueError):
        supply.required_per_core(2000, 0)


@pytest.mark.parametrize("fmt, size, stored", [
    ("PNG", (300, 200), ("JPEG", (300, 200))),     # a small PNG passes through prepare_image: re-encoded here
    ("PNG", (1024, 1024), ("JPEG", (448, 448))),   # over 448: resized and re-encoded by prepare_image
    ("TIFF", (256, 256), ("JPEG", (256, 256))),    # not JPEG/PNG: re-encoded by prepare_image
    ("BMP", (1000, 600), ("JPEG", (448, 269))),
    ("JPEG", (1920, 1080), ("JPEG", (448, 252))),
])
def test_training_ready_bytes_are_jpeg_at_most_448(supply, fmt, size, stored):
    data = supply.training_ready_bytes(Path(f"image.{fmt.lower()}"), _encoded(fmt, size))
    assert _described(data) == stored


def test_small_jpeg_keeps_its_bytes(supply):
    original = _encoded("JPEG", (224, 224))
    assert supply.training_ready_bytes(Path("a.jpg"), original) == original


def test_published_bytes_follow_rsdata_convert(supply):
    tiff = _encoded("TIFF", (64, 64))
    source = next(source for source in supply.SOURCES if source.name == "ucm")
    assert _described(supply.published_bytes(source, Path("a.tif"), tiff)) == ("PNG", (64, 64))
    png = _encoded("PNG", (2000, 100))
    source = next(source for source in supply.SOURCES if source.name == "dota")
    assert supply.published_bytes(source, Path("a.png"), png) == png


def test_table_i_counts_add_up_to_the_paper(supply):
    # Table I sums to about 165.6k (../shared/specs/corpus.md); every source is one row of the benchmark.
    assert sum(source.count for source in supply.SOURCES) == 165_561
    assert len({source.name for source in supply.SOURCES}) == 17


def test_quick_run_prints_one_row_per_source_and_the_weighted_rate(supply, tmp_path, capsys):
    out_json = tmp_path / "supply.json"
    names = ["rsicd", "ucm", "potsdam"]
    code = supply.main(["--quick", "--sources", ",".join(names), "--json", str(out_json),
                        "--realdata", str(tmp_path / "absent")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "SYNTHETIC scenes" in printed and "QUICK RUN" in printed
    lines = printed.splitlines()
    header = next(index for index, line in enumerate(lines) if line.startswith("source "))
    assert "as published" in lines[header] and "training-ready" in lines[header]
    rows = lines[header + 2:header + 2 + len(names)]
    assert [row.split()[0] for row in rows] == names
    weighted_line = lines[header + 2 + len(names)]
    assert weighted_line.startswith("weighted") and "15,580" in weighted_line  # 8,483 + 1,676 + 5,421

    result = json.loads(out_json.read_text(encoding="utf-8"))
    assert [row["source"] for row in result["rows"]] == names
    assert result["quick"] is True and result["clock"] == "cpu"
    for build in ("published", "ready"):
        seconds = {row["source"]: 1 / row["images_per_s"][f"{build}@current"] for row in result["rows"]}
        counts = {row["source"]: row["count"] for row in result["rows"]}
        expected = sum(counts.values()) / sum(counts[name] * seconds[name] for name in names)
        assert result["weighted"][f"{build}@current"] == pytest.approx(expected)
    # The printed weighted rates are the JSON's.
    printed_rates = [float(value) for value in re.findall(r"\|\s+(\d+\.\d)", weighted_line)][:2]
    assert printed_rates == [round(result["weighted"]["published@current"], 1),
                             round(result["weighted"]["ready@current"], 1)]
    assert all(row["stored"]["ready"].startswith("JPEG") for row in result["rows"])
    assert result["needed_per_core"] == pytest.approx(2000 / 14)
    assert re.search(r"training-ready: \d+ images/s per core = [\d.]+x needed, target >= 400: (met|NOT met)",
                     printed)


def test_baseline_revision_is_timed_beside_the_current_code(supply, tmp_path, capsys):
    root = SCRIPT.parents[1]
    probe = subprocess.run(["git", "-C", str(root), "cat-file", "-e", "HEAD:rsmodel/data.py"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("not a git checkout with rsmodel/data.py at HEAD")
    out_json = tmp_path / "supply.json"
    assert supply.main(["--quick", "--sources", "ucm", "--baseline", "HEAD", "--json", str(out_json),
                        "--realdata", str(tmp_path / "absent")]) == 0
    assert "@HEAD" in capsys.readouterr().out
    result = json.loads(out_json.read_text(encoding="utf-8"))
    assert set(result["weighted"]) == {"published@current", "ready@current", "published@HEAD", "ready@HEAD"}


def test_unknown_source_names_the_known_ones(supply, capsys):
    with pytest.raises(SystemExit):
        supply.main(["--sources", "rsicd,nope"])
    assert "unknown source(s) nope; known: rsicd, rsitmd" in capsys.readouterr().err


def test_profile_times_every_stage_of_the_augmentation(supply, tmp_path, capsys):
    assert supply.main(["--quick", "--profile", "--sources", "potsdam", "--realdata", str(tmp_path / "absent")]) == 0
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    header = next(index for index, line in enumerate(lines) if line.strip().startswith("source ") and "decode" in line)
    for stage in ("decode", "resize (Pillow)", "resize (torch)", "flip + turn (Pillow)", "flip + turn (views)",
                  "to array"):
        assert stage in lines[header]
    row = lines[header + 1].split()
    assert row[:3] == ["potsdam", "JPEG", "448x448"] and all(float(value) > 0 for value in row[3:])


def test_unknown_baseline_revision_is_a_clear_error(supply, tmp_path):
    with pytest.raises(SystemExit, match="--baseline no-such-rev: cannot read rsmodel/data.py"):
        supply.main(["--quick", "--sources", "ucm", "--baseline", "no-such-rev", "--realdata", str(tmp_path)])
