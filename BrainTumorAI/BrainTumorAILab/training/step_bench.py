"""``python -m BrainTumorAILab.training.step_bench --config CONFIG``: seconds per training step of a segmentation
recipe in float32 and in bfloat16 autocast, measured in turn in one process (the recipe's network, loss, Adam and
patch size; random inputs and labels, since only the arithmetic is timed), with their ratio and whether this CPU has
native bfloat16 (without it a bfloat16 recipe trains in float32)."""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from BrainTumorAILib.core.device import native_bfloat16, seed_everything
from BrainTumorAILib.inference.networks import build_network
from .config import PRECISIONS, load_config
from .segmentation import make_loss, targets


def seconds_per_step(config_path: str, precision: str, steps: int, threads: int) -> float:
    """Median wall seconds of ``steps`` training steps (after one warm-up) of the recipe at ``precision``."""
    torch.set_num_threads(threads)
    seed_everything(0)
    config = load_config(config_path)
    network = build_network(config.architecture).train()
    optimiser = torch.optim.Adam(network.parameters(), lr=1e-4)
    loss_function = make_loss(config)
    size = [int(n) for n in config.augmentation["patch_size"]]
    image = torch.randn(1, len(config.inputs), *size)
    label = torch.randint(0, 4, (1, 1, *size))
    timings = []
    for _ in range(steps + 1):
        started = time.perf_counter()
        optimiser.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bfloat16"):
            logits = network(image)
        loss_function(logits.float(), targets(label, config.outputs)).backward()
        optimiser.step()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings[1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m BrainTumorAILab.training.step_bench",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="segmentation training config (JSON)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    arguments = parser.parse_args(argv)
    seconds = {precision: seconds_per_step(arguments.config, precision, arguments.steps, arguments.threads)
               for precision in PRECISIONS}
    for precision, value in seconds.items():
        print(f"{precision:9s} {value:7.2f} s per step")
    print(f"bfloat16 / float32: {seconds['bfloat16'] / seconds['float32']:.2f}")
    native = native_bfloat16(torch.device("cpu"))
    print(f"native bfloat16 on this CPU: {'yes' if native else 'no (training would use float32)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
