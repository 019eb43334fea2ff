"""The contrastive loss over the global batch: two CPU processes (torchrun, gloo) against one process.

``WORKER`` is one script for both sides. Under torchrun each of the two processes builds the same tiny CLIPModel
and the same 8-sample batch, takes its half, wraps the model in DistributedDataParallel through the Trainer's own
accelerator, computes :meth:`ContrastiveTrainer.compute_loss` and calls backward; rank 0 saves the mean of the two
losses and the (DDP-averaged) gradients. Run without torchrun, it computes the same on the whole batch in one
process. Loss and every gradient must agree to 1e-5.

A second test runs the real ``rsmodel train`` on the tiny recipe with two processes and with one process at the
same global batch, and compares the logged loss of every step and the final weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

ROOT = Path(__file__).resolve().parents[1]

WORKER = textwrap.dedent("""\
    import os, sys
    import torch
    from transformers import CLIPConfig, CLIPModel
    from rsmodel.data import PixelNormalizer

    NORMALIZER = PixelNormalizer((0.5, 0.4, 0.3), (0.2, 0.25, 0.3))


    def build():
        \"\"\"The tiny model and the 8-sample batch, identical in every process.\"\"\"
        torch.manual_seed(0)
        config = CLIPConfig(projection_dim=16,
                            text_config=dict(vocab_size=99, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                             num_attention_heads=2, max_position_embeddings=16, eos_token_id=98),
                            vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                               num_attention_heads=2, image_size=32, patch_size=8))
        model = CLIPModel(config)
        with torch.no_grad():
            model.logit_scale.fill_(3.0)  # a sharper softmax than the initial 2.66: larger gradients
        generator = torch.Generator().manual_seed(1)
        pixels = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8, generator=generator)
        input_ids = torch.randint(1, 98, (8, 12), generator=generator)
        input_ids[:, -1] = 98  # end-of-text: the pooled position
        return model, {"pixel_values": pixels, "input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}


    def main(out):
        import torch.distributed as dist
        from transformers import TrainingArguments
        from rsmodel.training import ContrastiveTrainer

        world = int(os.environ.get("WORLD_SIZE", "1"))
        args = TrainingArguments(output_dir=os.path.join(out, f"args-{world}"), per_device_train_batch_size=8 // world,
                                 use_cpu=True, report_to="none", max_steps=1, ddp_find_unused_parameters=False)
        rank, local = args.process_index, 8 // world
        model, batch = build()
        inputs = {key: value[rank * local:(rank + 1) * local] for key, value in batch.items()}
        trainer = ContrastiveTrainer(model=model, args=args, normalizer=NORMALIZER, samples_per_step=8)
        wrapped = trainer.accelerator.prepare_model(model) if world > 1 else model
        assert world == 1 or type(wrapped).__name__ == "DistributedDataParallel", type(wrapped)
        loss = trainer.compute_loss(wrapped, inputs)
        loss.backward()
        mean_loss = loss.detach().clone()
        if world > 1:
            dist.all_reduce(mean_loss)
            mean_loss /= world
        if rank == 0:
            grads = {name: p.grad.detach().clone() for name, p in model.named_parameters()}
            torch.save({"loss": mean_loss, "grads": grads, "world": world}, os.path.join(out, f"result-{world}.pt"))
        if world > 1:  # leave together: a gloo group torn down at interpreter exit can abort the other process
            dist.barrier()
            dist.destroy_process_group()


    if __name__ == "__main__":
        main(sys.argv[1])
    """)


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false",
               # gloo talks over the loopback device only: never another interface of the machine
               GLOO_SOCKET_IFNAME="lo")
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    return env


def _run(command: list[str], cwd: Path, timeout: int = 240) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}")
    return done


def _torchrun(nproc: int) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)]


def _worker_module(tmp_path: Path):
    import importlib.util

    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    spec = importlib.util.spec_from_file_location("train_worker", script)
    worker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(worker)
    return script, worker


def test_two_processes_give_the_loss_and_gradients_of_one_process_on_the_whole_batch(tmp_path):
    script, worker = _worker_module(tmp_path)
    worker.main(str(tmp_path))  # one process, here
    _run(_torchrun(2) + [str(script), str(tmp_path)], tmp_path)
    single = torch.load(tmp_path / "result-1.pt", weights_only=True)
    double = torch.load(tmp_path / "result-2.pt", weights_only=True)
    assert double["world"] == 2
    # Had each process used only its local batch as negatives, the loss would be about log(4), not log(8)-ish.
    torch.testing.assert_close(double["loss"], single["loss"], atol=1e-5, rtol=0)
    assert single["grads"].keys() == double["grads"].keys()
    compared = 0
    for name, grad in single["grads"].items():
        torch.testing.assert_close(double["grads"][name], grad, atol=1e-5, rtol=1e-5,
                                   msg=lambda m, name=name: f"{name}: {m}")
        compared += int(grad.abs().sum() > 0)
    assert compared > 40, "most parameters must have a non-zero gradient for the comparison to mean something"
    assert single["grads"]["logit_scale"].abs() > 1e-4


def test_local_only_negatives_would_differ(tmp_path):
    """The comparison above can fail: the mean of each half's own loss (what CLIPModel's built-in loss gives under
    DDP, negatives from the local batch only) is far from the global-batch loss."""
    from rsmodel.loss import clip_contrastive_loss

    _, worker = _worker_module(tmp_path)
    model, batch = worker.build()

    def loss_of(part):
        out = model(input_ids=part["input_ids"], attention_mask=part["attention_mask"],
                    pixel_values=worker.NORMALIZER(part["pixel_values"]))
        return clip_contrastive_loss(out.image_embeds, out.text_embeds, model.logit_scale)

    with torch.no_grad():
        whole = loss_of(batch)
        halves = [loss_of({k: v[i * 4:(i + 1) * 4] for k, v in batch.items()}) for i in range(2)]
    assert abs(float(sum(halves) / 2 - whole)) > 0.1


@pytest.mark.parametrize("nproc, streaming", [(2, False), (2, True)])
def test_rsmodel_train_on_two_processes_matches_one(tmp_path, rsdata_demo_dataset, nproc, streaming):
    """The whole command: same global batch on 1 and 2 processes -> the same loss at every step, same weights;
    map-style, and streaming (accelerate reads the stream in the main process and sends each process its batch)."""
    from rsmodel.cli import main

    common = ["train", str(ROOT / "recipes/train/tiny-cpu.yaml"), "--no-progress",
              "-o", f"data.path={rsdata_demo_dataset}", "-o", f"data.cache_dir={tmp_path / 'cache'}",
              "-o", "training.max_steps=4", "-o", "training.logging_steps=1", "-o", "training.save_steps=100",
              "-o", "training.optim=sgd", "-o", "training.warmup_steps=0", "-o", "global_batch_size=8",
              "-o", "training.ddp_find_unused_parameters=false", "-o", f"data.streaming={str(streaming).lower()}"]
    assert main([*common, "--output-dir", str(tmp_path / "one")]) == 0  # one process, here
    _run(_torchrun(nproc) + ["-m", "rsmodel", *common, "--output-dir", str(tmp_path / "two")], tmp_path)
    one = json.loads((tmp_path / "one" / "rsmodel_train.json").read_text())
    two = json.loads((tmp_path / "two" / "rsmodel_train.json").read_text())
    assert (one["world_size"], two["world_size"]) == (1, nproc)
    assert (one["per_device_train_batch_size"], two["per_device_train_batch_size"]) == (8, 8 // nproc)
    assert one["status"] == two["status"] == "complete"
    losses = []
    for run in ("one", "two"):
        state = json.loads((tmp_path / run / "trainer_state.json").read_text())
        losses.append([entry["loss"] for entry in state["log_history"] if "loss" in entry])
        assert all(entry["samples_per_second_per_device"] > 0 for entry in state["log_history"][1:]
                   if "loss" in entry)
    assert len(losses[0]) == 4
    assert losses[1] == pytest.approx(losses[0], abs=1e-5)
    from safetensors.torch import load_file

    weights = [load_file(tmp_path / run / "model.safetensors") for run in ("one", "two")]
    for name, tensor in weights[0].items():
        torch.testing.assert_close(weights[1][name], tensor, atol=1e-5, rtol=1e-5,
                                   msg=lambda m, name=name: f"{name}: {m}")
