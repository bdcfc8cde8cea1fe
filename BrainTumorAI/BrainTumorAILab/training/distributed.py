"""Distributed training when launched by ``torchrun --nproc_per_node N`` (WORLD_SIZE / RANK / LOCAL_RANK set).

gloo on CPU, nccl on CUDA (one GPU per local rank). Without those variables everything runs in one process.
"""

from __future__ import annotations

import dataclasses
import os

import torch
import torch.distributed as dist

from BrainTumorAILib.core.device import select_device


@dataclasses.dataclass(frozen=True)
class World:
    rank: int
    size: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def start(device: str = "auto") -> World:
    """Join the process group torchrun set up (if any) and pick this process's device."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    chosen = select_device(device)
    if size <= 1:
        return World(0, 1, chosen)
    if chosen.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        chosen = torch.device("cuda", local)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo")
    return World(dist.get_rank(), dist.get_world_size(), chosen)


def broadcast_flag(world: World, flag: bool) -> bool:
    """Rank 0's ``flag`` on every rank."""
    if not world.distributed:
        return flag
    tensor = torch.tensor([1 if flag else 0], device=world.device)
    dist.broadcast(tensor, src=0)
    return bool(tensor.item())


def stop(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
