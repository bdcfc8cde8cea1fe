"""Several trained networks of one architecture as one network that outputs their mean probabilities.

``{"name": "ensemble", "params": {"network": <member architecture>, "members": N, "activation": "softmax"}}``.
The forward pass returns logits whose activation is the members' mean probability: the log of the mean softmax
(softmax gives the mean back exactly), or the logit of the mean sigmoid. Sliding windows, flip TTA, the bench and
every caller therefore run an ensemble like any single network. State-dict keys are ``members.<i>.<member key>``.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ...core.errors import ModelError
from . import architecture, build_network

ACTIVATIONS = ("softmax", "sigmoid")


class MeanProbabilityEnsemble(torch.nn.Module):
    """(B, C_in, I, J, K) -> (B, C_out, I, J, K) logits of the members' mean probability."""

    def __init__(self, members: list[torch.nn.Module], activation: str):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ModelError(f"Unknown ensemble activation '{activation}' (known: {', '.join(ACTIVATIONS)})")
        if not members:
            raise ModelError("An ensemble needs at least one member network")
        self.members = torch.nn.ModuleList(members)
        self.activation = activation

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        logits = [member(batch).float() for member in self.members]
        log_count = math.log(len(logits))
        if self.activation == "softmax":
            return _log_mean_exp([torch.log_softmax(z, dim=1) for z in logits], log_count)
        positive = _log_mean_exp([torch.nn.functional.logsigmoid(z) for z in logits], log_count)
        negative = _log_mean_exp([torch.nn.functional.logsigmoid(-z) for z in logits], log_count)
        return positive - negative


def _log_mean_exp(logs: list[torch.Tensor], log_count: float) -> torch.Tensor:
    """log(mean(exp(x))) over the list, without leaving log space."""
    return torch.logsumexp(torch.stack(logs), dim=0) - log_count


@architecture("ensemble")
def ensemble(network: dict[str, Any], members: int, activation: str = "softmax") -> torch.nn.Module:
    """``members`` copies of ``network`` (a card's architecture entry), to be loaded with one state dict."""
    return MeanProbabilityEnsemble([build_network(network) for _ in range(int(members))], activation)
