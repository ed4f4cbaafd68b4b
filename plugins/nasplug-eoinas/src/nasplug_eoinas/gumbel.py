"""GDAS's straight-through hard Gumbel-softmax, the sampler of EoiNAS (Eq. 4–5)."""

from __future__ import annotations

import torch


def hard_gumbel_sample(
    logits: torch.Tensor, temperature: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw one choice per row of ``logits`` and its straight-through one-hot.

    ``logits`` is [decisions, choices] with ``-inf`` where a choice may not be
    drawn (pruned, or padding of a shorter decision). Returns ``(index, hard)``:
    ``index[d]`` is argmax of log_softmax(α)+g (Eq. 4, g = −log Exp(1)), and
    ``hard`` equals the one-hot of ``index`` in value while its gradient is that
    of softmax((log_softmax(α)+g)/T) (Eq. 5), so a supernet that runs only the
    drawn op, scaled by ``hard[d, index[d]]``, still sends a gradient to α.
    """
    exponential = torch.empty(logits.shape, dtype=logits.dtype).exponential_(generator=generator)
    # A draw of exactly 0 would make g infinite and the softmax NaN.
    gumbel = -exponential.clamp_min(torch.finfo(logits.dtype).tiny).log()
    probs = torch.softmax((torch.log_softmax(logits, dim=-1) + gumbel) / temperature, dim=-1)
    index = probs.argmax(dim=-1)
    one_hot = torch.zeros_like(probs).scatter_(-1, index.unsqueeze(-1), 1.0)
    return index, one_hot - probs.detach() + probs
