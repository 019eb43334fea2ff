"""benchmarks/train_throughput.py and benchmarks/device_gpu_throughput.sh on a machine without a GPU: the arguments
and their per-part defaults, the GPU part's refusal before any work, and the data set-up the GPU part times."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("datasets")

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "train_throughput.py"
DEVICE_SCRIPT = ROOT / "benchmarks" / "device_gpu_throughput.sh"
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("train_throughput_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_each_part_has_its_defaults_and_explicit_values_win(bench):
    gpu = bench.parse_args(["--part", "gpu"])
    assert (gpu.images, gpu.image_px, gpu.batch, gpu.steps, gpu.warmup_steps, gpu.workers) == (2048, 512, 256, 100,
                                                                                                20, 12)
    cpu = bench.parse_args([])
    assert (cpu.part, cpu.batch, cpu.workers) == ("cpu", 32, 0)
    assert bench.parse_args(["--part", "gpu", "--steps", "5", "--workers", "0"]).steps == 5
    assert bench.parse_args(["--part", "gpu", "--workers", "0"]).workers == 0  # 0 is a value, not "unset"
    with pytest.raises(SystemExit):
        bench.parse_args(["--batch", "0"])


@no_cuda
def test_gpu_part_refuses_before_building_anything(bench, tmp_path, capsys):
    work = tmp_path / "work"
    assert bench.main(["--part", "gpu", "--work-dir", str(work)]) == 2
    assert "the GPU part needs CUDA" in capsys.readouterr().err
    assert not work.exists(), "no data set is generated when the part cannot run"


def test_gpu_preflight_names_a_missing_package(bench, monkeypatch):
    monkeypatch.setattr(bench.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(bench, "GPU_MODULES", {"json": "", "no_such_module_for_rsclip": "pip install no-such-module"})
    problem = bench.gpu_preflight()
    assert problem is not None and "no_such_module_for_rsclip" in problem and "pip install no-such-module" in problem


def test_data_set_up_gives_what_the_gpu_part_trains_on(bench, tmp_path):
    dataset = bench.make_dataset(tmp_path, 6, 96)
    assert (dataset / "README.md").is_file()
    assert bench.make_dataset(tmp_path, 6, 96) == dataset  # generated once per size, then reused
    stream = bench.make_stream(dataset, 224, 8, tmp_path / "cache")
    assert len(stream) == 8
    sample = stream[0]
    assert sample["pixels"].shape == (3, 224, 224) and sample["pixels"].dtype == np.uint8
    assert isinstance(sample["caption"], str) and sample["caption"]
    batch = bench.ContrastiveCollator(bench.tokenizer())([stream[k] for k in range(4)])
    assert batch["pixel_values"].shape == (4, 3, 224, 224) and batch["input_ids"].shape[0] == 4


@no_cuda
@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None, reason="needs bash, timeout")
def test_device_script_stages_its_packages_and_refuses_without_cuda(tmp_path):
    site = tmp_path / "site"
    env = dict(os.environ, PYTHON=sys.executable, RSCLIP_DEVICE_SITE=str(site),
               RSCLIP_BENCH_DIR=str(tmp_path / "bench"))
    staged = subprocess.run(["bash", str(DEVICE_SCRIPT), "stage"], env=env, capture_output=True, text=True)
    if staged.returncode != 0 and "is not installed" in staged.stderr:
        pytest.skip(f"this environment lacks a package the GPU part needs: {staged.stderr.strip()}")
    assert staged.returncode == 0, staged.stderr
    assert (site / "datasets" / "__init__.py").is_file() and (site / "open_clip" / "__init__.py").is_file()
    run = subprocess.run(["bash", str(DEVICE_SCRIPT), "run"], env=env, capture_output=True, text=True)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "the GPU part needs CUDA" in run.stderr
    assert not (tmp_path / "bench").exists()
