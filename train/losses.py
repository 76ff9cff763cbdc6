"""The JRC training loss: ``BCE(logit, y) + λ_rec·L_rec + λ_mask·BCE(mask) [+ λ_distill·BCE(logit, p_t)]``.

* ``bce``: the classifier's logit against the label (1 = fake).
* ``rec``: the decoder's reconstruction (RGB in [0, 1]) against the de-normalised input; MSE
  (``rec_loss: mse``, default) or L1. Unsupervised, so by default over every input, real or fake,
  as in the paper (``rec_on: all``); ``rec_on: real`` reconstructs reals only.
* ``mask``: per-pixel BCE of the mask head against the blend mask, averaged over the samples whose
  mask is known (``mask_valid``): SBI fakes (their blend mask) and reals (all zeros). Fakes whose
  manipulated region is unknown (e.g. FF++ crops) are left out of this term.
* ``distill`` (optional): BCE of the logit against a teacher model's probability for the same
  image (knowledge distillation), when ``teacher_logit`` is given and ``lambda_distill > 0``.

Every weight comes from ``cfg``; the components come back as floats for logging.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

LOSS_DEFAULTS = {"lambda_rec": 1.0, "lambda_mask": 1.0, "rec_loss": "mse", "rec_on": "all",
                 "lambda_distill": 0.0}


def _denormalize(x: torch.Tensor, model) -> torch.Tensor:
    """``model`` is a TwoBranchCAE (has ``denormalize``) or a ``(mean, std)`` pair."""
    if hasattr(model, "denormalize"):
        return model.denormalize(x)
    mean, std = model
    view = (1, -1, 1, 1)
    return x * torch.as_tensor(std, dtype=x.dtype, device=x.device).view(view) + \
        torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(view)


def reconstruction_loss(recon: torch.Tensor, target: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    if kind == "mse":
        return F.mse_loss(recon, target)
    if kind == "l1":
        return F.l1_loss(recon, target)
    raise ValueError(f"rec_loss must be 'mse' or 'l1', got {kind!r}")


def jrc_loss(outputs: Mapping[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
             model: torch.nn.Module | tuple[Sequence[float], Sequence[float]],
             mask_target: torch.Tensor | None = None, cfg: Mapping | None = None,
             mask_valid: torch.Tensor | None = None,
             teacher_logit: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its components ``{"loss", "bce", "rec", "mask", "distill"}`` (floats,
    unweighted).

    ``outputs``: the model's forward dict (``logit [N]``, ``reconstruction [N,3,S,S]``,
    ``mask_logit [N,S,S]``; the last two optional). ``x``: the normalised input ``[N,3,S,S]``.
    ``y``: labels ``[N]`` (1 = fake). ``model``: the model, or its ``(mean, std)``, to de-normalise
    ``x``. ``mask_target``: ``[N,S,S]`` in [0, 1] or None. ``mask_valid``: bool ``[N]``, which
    samples have a known mask; default: all when ``mask_target`` is given. ``teacher_logit``:
    ``[N]``, a teacher's logits for the same images (soft targets for ``distill``).
    """
    c = {**LOSS_DEFAULTS, **(cfg or {})}
    if c["rec_on"] not in ("all", "real"):
        raise ValueError(f"rec_on must be 'all' or 'real', got {c['rec_on']!r}")
    y = y.to(outputs["logit"].dtype)
    bce = F.binary_cross_entropy_with_logits(outputs["logit"], y)
    total = bce
    zero = bce.new_zeros(())

    rec = zero
    recon = outputs.get("reconstruction")
    if recon is not None:
        keep = y < 0.5 if c["rec_on"] == "real" else torch.ones_like(y, dtype=torch.bool)
        if keep.any():
            target = _denormalize(x, model).to(recon.dtype)
            rec = reconstruction_loss(recon[keep], target[keep], c["rec_loss"])
        if c["lambda_rec"]:
            total = total + c["lambda_rec"] * rec
        else:
            rec = rec.detach()
    elif c["lambda_rec"]:
        raise ValueError("lambda_rec > 0 but the outputs have no 'reconstruction' (decode=False?)")

    mask = zero
    if mask_target is not None and c["lambda_mask"]:
        logit = outputs.get("mask_logit")
        if logit is None:
            raise ValueError("lambda_mask > 0 and mask targets given, but the model has no mask head "
                             "(set mask_head: true, or lambda_mask: 0)")
        if mask_target.shape != logit.shape:
            raise ValueError(f"mask target {tuple(mask_target.shape)} does not match the mask head "
                             f"output {tuple(logit.shape)}")
        valid = (torch.ones_like(y, dtype=torch.bool) if mask_valid is None
                 else mask_valid.to(device=logit.device, dtype=torch.bool))
        if valid.any():
            mask = F.binary_cross_entropy_with_logits(logit[valid], mask_target[valid].to(logit.dtype))
            total = total + c["lambda_mask"] * mask

    distill = zero
    if c["lambda_distill"]:
        if teacher_logit is None:
            raise ValueError("lambda_distill > 0 but no teacher logits were given (set teacher:)")
        soft = torch.sigmoid(teacher_logit.detach().to(outputs["logit"].dtype))
        distill = F.binary_cross_entropy_with_logits(outputs["logit"], soft)
        total = total + c["lambda_distill"] * distill

    parts = {"loss": total, "bce": bce, "rec": rec, "mask": mask, "distill": distill}
    return total, {k: float(v.detach()) for k, v in parts.items()}


def consistency_loss(logit: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between the logits of the first half of a batch and of their
    re-saved twins, the second half (``PairedData.batch(twins=True)``)."""
    n = logit.shape[0] // 2
    return (logit[:n] - logit[n:2 * n]).pow(2).mean()


__all__ = ["LOSS_DEFAULTS", "consistency_loss", "jrc_loss", "reconstruction_loss"]
