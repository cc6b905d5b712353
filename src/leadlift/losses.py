"""Losses of the aligned per-lead masked autoencoders (paper 1).

* :func:`masked_reconstruction_loss` — MSE on the masked patches only (ViT-MAE), optionally
  against per-patch normalised targets.
* :func:`triplet_alignment_loss` — cross-lead token alignment: a lead's token should be closer
  (1 − cosine similarity) to the same token position of the other leads of the same ECG than
  to that position in another ECG.
* :func:`cross_lead_info_nce` — content alignment of the corrected objective: InfoNCE between
  the CLS embeddings of different leads of the same ECG taken from two *different* time crops,
  against every other ECG of the batch (it cannot be met by token position or beat phase, and
  its denominator keeps the embeddings from collapsing).
* :func:`cross_decoding_loss` — trained cross-lead decoding: MSE of all 12 leads decoded, at
  every patch, from the tokens of a random subset of source leads.
* :func:`curriculum_weights` / :func:`combine_losses` — the epoch curriculum that moves the
  weight from reconstruction to alignment. ``kind="code"`` (the authors' code) is the default;
  ``kind="paper"`` is the formula printed in the paper.

All losses are dimensionless (inputs are z-scored signals or embeddings).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from leadlift.errors import InputError

__all__ = [
    "combine_losses",
    "cosine_distance",
    "cross_decoding_loss",
    "cross_lead_info_nce",
    "curriculum_weights",
    "masked_reconstruction_loss",
    "triplet_alignment_loss",
]

CurriculumKind = Literal["paper", "code", "constant"]


def masked_reconstruction_loss(
    pred: Tensor,
    target_patches: Tensor,
    mask: Tensor,
    norm_target: bool = True,
    eps: float = 1e-6,
    unbiased: bool = False,
) -> Tensor:
    """Mean squared error over the masked patches only.

    Args:
        pred: predicted patches ``[B, C, N, P]`` (C leads/channels, N patches of P samples;
            any number of middle dims is accepted: ``[B, ..., N, P]``).
        target_patches: the true patches, same shape, z-scored signal units.
        mask: ``[B, N]`` (shared by all leads) or ``[B, ..., N]``; 1 = masked, 0 = visible.
        norm_target: normalise each target patch to zero mean / unit variance over its P
            samples, ``(t - mean) / sqrt(var + eps)``, as in ViT-MAE's ``norm_pix_loss``; with
            False the raw targets are used.
        eps: variance floor of the per-patch normalisation.
        unbiased: use the unbiased (N-1) patch variance, as the ViT-MAE reference code does;
            the default is the population variance.

    Returns:
        Scalar: ``sum(mse_patch · mask) / sum(mask)`` with the mask broadcast over leads
        (0 when nothing is masked).
    """
    if pred.shape != target_patches.shape or pred.dim() < 3:
        raise InputError(
            f"pred {tuple(pred.shape)} and target_patches {tuple(target_patches.shape)} must have the same "
            "shape [B, ..., n_patches, patch_size]; pass the model output's pred and target_patches"
        )
    lead_shape = pred.shape[:-1]  # [B, ..., N]
    if mask.dim() == 2 and len(lead_shape) > 2:
        mask = mask.view(mask.shape[0], *([1] * (len(lead_shape) - 2)), mask.shape[1])
    try:
        mask = mask.to(pred.dtype).expand(lead_shape)
    except RuntimeError:
        raise InputError(
            f"mask of shape {tuple(mask.shape)} does not fit patches {tuple(lead_shape)}; pass [B, n_patches]"
        ) from None
    target = target_patches
    if norm_target:
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True, correction=1 if unbiased else 0)
        target = (target - mean) / torch.sqrt(var + eps)
    per_patch = (pred - target).pow(2).mean(dim=-1)
    return (per_patch * mask).sum() / mask.sum().clamp_min(1.0)


def cosine_distance(a: Tensor, b: Tensor, eps: float = 1e-8) -> Tensor:
    """``1 - cos(a, b)`` over the last dimension (broadcasting), in ``[0, 2]``."""
    a_n = a / a.norm(dim=-1, keepdim=True).clamp_min(eps)
    b_n = b / b.norm(dim=-1, keepdim=True).clamp_min(eps)
    return 1.0 - (a_n * b_n).sum(-1)


def triplet_alignment_loss(
    tokens: Tensor,
    margin: float = 0.5,
    negatives: Literal["roll", "all"] = "roll",
    detach_others: bool = True,
    tokens_used: Literal["all", "cls"] = "all",
    eps: float = 1e-8,
    include_self: bool = False,
) -> Tensor:
    """Cross-lead triplet loss on aligned tokens, distance ``d = 1 - cosine similarity``.

    For every sample ``b``, anchor lead ``c``, other lead ``k != c`` and token position ``t``:
    anchor ``a = tokens[b, c, t]``, positive ``p = tokens[b, k, t]``, negative
    ``n = tokens[b', k, t]`` with ``b' = b - 1`` (previous sample, cyclic: ``negatives="roll"``,
    as in the authors' code) or every ``b' != b`` (``negatives="all"``, hinge averaged over
    them). Loss = mean of ``max(0, d(a, p) - d(a, n) + margin)`` over all (b, c, k, t).

    Args:
        tokens: ``[B, L, T, D]`` encoder tokens of L leads, same mask for all leads (so that
            position ``t`` is the same time span in every lead); CLS at ``t = 0``.
        margin: triplet margin (0.5 in the paper's code).
        negatives: ``"roll"`` or ``"all"``. "all" needs ``B·L²·T·B`` distances in memory.
        detach_others: positives and negatives are detached, so the gradient flows only
            through the anchor (each lead's encoder is pulled towards the others, as when the
            lead models are trained in separate processes).
        tokens_used: ``"all"`` tokens or only the ``"cls"`` token.
        eps: norm floor of the cosine similarity.
        include_self: also count the pair ``k = c`` (the authors' code, ``repeat(1, 12)``): a
            lead's token is its own positive at distance 0, so the pair only pushes negatives away.

    Returns:
        Scalar loss.
    """
    if tokens.dim() != 4:
        raise InputError(f"tokens have shape {tuple(tokens.shape)}; expected [B, n_leads, n_tokens, dim]")
    b, n_l = tokens.shape[:2]
    if b < 2 or n_l < 2:
        raise InputError(
            f"the alignment loss needs at least 2 samples and 2 leads, got B={b}, leads={n_l}; "
            "use a larger batch / more leads or turn the alignment loss off"
        )
    if tokens_used == "cls":
        tokens = tokens[:, :, :1]
    elif tokens_used != "all":
        raise InputError(f"tokens_used={tokens_used!r}; use 'all' or 'cls'")
    u = tokens / tokens.norm(dim=-1, keepdim=True).clamp_min(eps)  # unit vectors [B, L, T, D]
    other = u.detach() if detach_others else u
    # d_pos[b, c, k, t] = 1 - <u[b,c,t], other[b,k,t]>
    d_pos = 1.0 - torch.einsum("bctd,bktd->bckt", u, other)
    off_diag = ~torch.eye(n_l, dtype=torch.bool, device=tokens.device)  # k != c
    if include_self:
        off_diag = torch.ones_like(off_diag)
    if negatives == "roll":
        d_neg = 1.0 - torch.einsum("bctd,bktd->bckt", u, other.roll(1, dims=0))
        hinge = torch.relu(d_pos - d_neg + margin)  # [B, L, L, T]
        return hinge[:, off_diag].mean()
    if negatives == "all":
        # d_neg[b, c, k, t, e] = 1 - <u[b,c,t], other[e,k,t]>, e ranging over the batch
        d_neg = 1.0 - torch.einsum("bctd,ektd->bckte", u, other)
        hinge = torch.relu(d_pos.unsqueeze(-1) - d_neg + margin)  # [B, L, L, T, B]
        not_self = ~torch.eye(b, dtype=torch.bool, device=tokens.device)  # e != b
        weight = not_self.view(b, 1, 1, 1, b).to(hinge.dtype) / (b - 1)
        per_pos = (hinge * weight).sum(-1)  # mean over negatives, [B, L, L, T]
        return per_pos[:, off_diag].mean()
    raise InputError(f"negatives={negatives!r}; use 'roll' or 'all'")


def cross_lead_info_nce(
    emb_a: Tensor,
    emb_b: Tensor,
    temperature: float = 0.1,
    include_same_lead: bool = True,
    eps: float = 1e-8,
    queue: Tensor | None = None,
    queue_leads_b: Tensor | list[int] | None = None,
    ids: Tensor | None = None,
    queue_ids: Tensor | None = None,
    symmetric: bool = True,
) -> Tensor:
    """Symmetric InfoNCE across leads and crops (content alignment).

    ``emb_a[b, c]`` is lead c of ECG b in one time crop, ``emb_b[e, k]`` lead k of ECG e in
    another crop of the same records. For every lead pair (c, k), the anchor ``emb_a[b, c]``
    must find ``emb_b[b, k]`` among ``emb_b[:, k]`` (cross-entropy over the B candidates of
    cosine similarity / ``temperature``), and the reverse. Because the two crops start at
    different times, neither token position nor beat phase identifies the positive: only what
    the two leads share about the ECG does. The B − 1 negatives of every row keep the
    embeddings spread out (no collapse).

    Args:
        emb_a, emb_b: ``[B, La, D]`` and ``[B, Lb, D]`` embeddings (e.g. the CLS tokens at mask
            0), B ≥ 2; with La ≠ Lb (the second view encodes a subset of the leads) every pair
            (c, k) is used.
        temperature: softmax temperature (> 0).
        include_same_lead: also use the pairs ``k = c`` (same lead, other crop; La = Lb only).
        eps: norm floor.
        queue: optional ``[K, La, D]`` extra negatives (detached embeddings of earlier batches,
            all La leads of ``emb_a``): lead k's candidates become ``emb_b[:, k]`` plus
            ``queue[:, queue_leads_b[k]]`` and lead c's reverse candidates ``emb_a[:, c]`` plus
            ``queue[:, c]``, so every anchor must tell its ECG from B − 1 + K others.
        queue_leads_b: for each of the Lb leads of ``emb_b``, its row in the queue's lead axis
            (default: ``range(Lb)``, i.e. the same leads as ``emb_a``).
        ids, queue_ids: ``[B]`` and ``[K]`` record ids; queue entries of the batch's own records
            are not used as negatives.
        symmetric: also the reverse direction (``emb_b`` anchors, ``emb_a`` candidates); False
            when ``emb_b`` are keys without gradient (a momentum encoder, MoCo-style).

    Returns:
        Scalar loss (nats); ``log(B)`` at chance (``log(B + K)`` with a full queue).
    """
    if emb_a.dim() != 3 or emb_b.dim() != 3 or emb_a.shape[0] != emb_b.shape[0] or emb_a.shape[2] != emb_b.shape[2]:
        raise InputError(f"embeddings have shapes {tuple(emb_a.shape)} and {tuple(emb_b.shape)}; "
                         "expected two [B, n_leads, dim] tensors with the same B and dim")
    b, n_l, _ = emb_a.shape
    n_k = emb_b.shape[1]
    if b < 2:
        raise InputError("the contrastive loss needs at least 2 ECGs per batch; use a larger batch")
    if temperature <= 0:
        raise InputError(f"temperature={temperature} must be > 0")
    ua = emb_a / emb_a.norm(dim=-1, keepdim=True).clamp_min(eps)
    ub = emb_b / emb_b.norm(dim=-1, keepdim=True).clamp_min(eps)
    logits = torch.einsum("bcd,ekd->ckbe", ua, ub) / temperature  # [L, L, B, B]
    target = torch.arange(b, device=emb_a.device)
    pairs = torch.ones(n_l, n_k, dtype=torch.bool, device=emb_a.device)
    if not include_same_lead and n_l == n_k:
        pairs &= ~torch.eye(n_l, dtype=torch.bool, device=emb_a.device)
    sel = logits[pairs]  # [P, B, B]
    fwd_logits, bwd_logits = sel, sel.transpose(1, 2)
    if queue is not None and queue.shape[0] > 0:
        if queue.dim() != 3 or queue.shape[1] != n_l or queue.shape[2] != emb_a.shape[2]:
            raise InputError(f"queue has shape {tuple(queue.shape)}; expected [K, {n_l}, {emb_a.shape[2]}]")
        rows_b = torch.as_tensor(list(range(n_k)) if queue_leads_b is None else queue_leads_b,
                                 device=emb_a.device, dtype=torch.long)
        uq = (queue / queue.norm(dim=-1, keepdim=True).clamp_min(eps)).to(ua.dtype)
        q_fwd = torch.einsum("bcd,qkd->ckbq", ua, uq[:, rows_b]) / temperature  # [La, Lb, B, K]
        q_bwd = torch.einsum("ekd,qcd->ckeq", ub, uq) / temperature  # [La, Lb, B, K]
        if ids is not None and queue_ids is not None:
            own = (ids.view(-1, 1) == queue_ids.view(1, -1)).view(1, 1, b, -1)
            q_fwd = q_fwd.masked_fill(own, float("-inf"))
            q_bwd = q_bwd.masked_fill(own, float("-inf"))
        fwd_logits = torch.cat([sel, q_fwd[pairs]], dim=-1)
        bwd_logits = torch.cat([sel.transpose(1, 2), q_bwd[pairs]], dim=-1)
    n_c = fwd_logits.shape[-1]
    fwd = torch.nn.functional.cross_entropy(fwd_logits.reshape(-1, n_c), target.repeat(sel.shape[0]))
    if not symmetric:
        return fwd
    bwd = torch.nn.functional.cross_entropy(bwd_logits.reshape(-1, n_c), target.repeat(sel.shape[0]))
    return 0.5 * (fwd + bwd)


def cross_decoding_loss(pred: Tensor, target: Tensor) -> Tensor:
    """MSE over every lead and every patch of a cross-lead decoding (no mask).

    Args:
        pred, target: ``[B, L, n_patches, patch_size]`` (z-scored signals).
    """
    if pred.shape != target.shape:
        raise InputError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    return ((pred - target) ** 2).mean()


def curriculum_weights(
    epoch: float,
    max_epochs: int,
    kind: CurriculumKind = "code",
    recon_weight: float = 1.0,
    align_weight: float = 1.0,
) -> tuple[float, float]:
    """Weights ``(w_recon, w_align)`` of the two losses at ``epoch`` of ``max_epochs``.

    With ``s = clamp(epoch / max_epochs, 0, 1)``:

    * ``"paper"``: ``w_r = cos(s·π/2)``, ``w_a = sin(s·π/2)`` (paper text).
    * ``"code"`` (default, the authors' code): ``w_r' = cos(s·π/2) + 1``, ``w_a' = sin(s·π/2)``
      and the loss is ``(w_r'·L_r + w_a'·L_a) / (w_r' + w_a')``; the weights returned are
      already divided by ``w_r' + w_a'`` so that ``L = w_r·L_r + w_a·L_a``. They go from
      (1, 0) at epoch 0 to (0.5, 0.5) at the end.
    * ``"constant"``: ``(recon_weight, align_weight)`` at every epoch.

    Args:
        epoch: current epoch (fractional epochs allowed, e.g. ``step / steps_per_epoch``).
        max_epochs: N (> 0).
        kind: ``"paper"``, ``"code"`` or ``"constant"``.
        recon_weight, align_weight: the fixed weights of ``"constant"``.
    """
    if kind == "constant":
        return float(recon_weight), float(align_weight)
    if not max_epochs or max_epochs <= 0:
        raise InputError(f"max_epochs={max_epochs!r} must be a positive number of epochs")
    s = min(max(float(epoch) / float(max_epochs), 0.0), 1.0)
    angle = s * math.pi / 2.0
    if kind == "paper":
        return math.cos(angle), math.sin(angle)
    if kind == "code":
        w_r, w_a = math.cos(angle) + 1.0, math.sin(angle)
        total = w_r + w_a
        return w_r / total, w_a / total
    raise InputError(f"curriculum kind={kind!r}; use 'paper', 'code' or 'constant'")


def combine_losses(
    l_recon: Tensor,
    l_align: Tensor,
    epoch: float,
    max_epochs: int,
    kind: CurriculumKind = "code",
    recon_weight: float = 1.0,
    align_weight: float = 1.0,
) -> Tensor:
    """``w_r·l_recon + w_a·l_align`` with the weights of :func:`curriculum_weights`."""
    w_r, w_a = curriculum_weights(epoch, max_epochs, kind, recon_weight, align_weight)
    return w_r * l_recon + w_a * l_align


# ------------------------------------------------------------------------------------------------
# Paper 2 (pathology-aware reconstruction): supervised contrastive loss and the mV reconstruction loss.
def label_similarity(labels: Tensor) -> Tensor:
    """Pairwise positive weights from labels, ``[N, N]`` in ``[0, 1]``.

    * 1-D integer labels ``[N]`` (single-label): ``w_ij = 1`` if ``labels[i] == labels[j]`` else 0.
    * 2-D multi-hot labels ``[N, C]`` (multi-label, e.g. PTB-XL superclasses): the Jaccard index
      ``|L_i ∩ L_j| / |L_i ∪ L_j|`` of the two label sets; two **empty** sets count as identical
      (``w = 1``: "no diagnostic label" is treated as a class of its own). With one-hot rows this
      reduces to the single-label case.
    """
    if labels.dim() == 1:
        return (labels[:, None] == labels[None, :]).to(torch.float32)
    if labels.dim() == 2:
        m = (labels > 0).to(torch.float32)
        inter = m @ m.T
        union = m.sum(1, keepdim=True) + m.sum(1)[None, :] - inter
        return torch.where(union > 0, inter / union.clamp_min(1.0), torch.ones_like(inter))
    raise InputError(f"labels have shape {tuple(labels.shape)}; pass [N] class ids or [N, C] multi-hot labels")


def supervised_contrastive_loss(features: Tensor, labels: Tensor, temperature: float = 0.07) -> Tensor:
    """Supervised contrastive loss (Khosla et al. 2020, the "L_out" form), multi-label aware.

    Every row is an anchor ``i``; every other row ``j`` is weighted as a positive by
    ``w_ij`` from :func:`label_similarity` (1/0 for single labels, Jaccard for label sets).
    With ``s_ij = <f_i, f_j> / τ`` (features L2-normalised here) and
    ``log p_ij = s_ij - log Σ_{k≠i} exp(s_ik)``::

        L_i  = - Σ_{j≠i} w_ij · log p_ij / Σ_{j≠i} w_ij
        loss = mean of L_i over anchors with Σ_{j≠i} w_ij > 0

    The views of one sample always share its labels, so they are positives of each other.

    Args:
        features: ``[N, D]`` (views stacked along the batch, e.g. ``cat([view1, view2])`` with
            ``N = 2B``) or ``[B, V, D]`` (V views per sample; flattened view-major internally).
        labels: ``[N]`` / ``[N, C]`` for 2-D features, or ``[B]`` / ``[B, C]`` for 3-D features.
        temperature: τ (0.07 in the paper).
    Returns:
        Scalar loss (dimensionless); 0 when no anchor has a positive.
    """
    if temperature <= 0:
        raise InputError(f"temperature={temperature} must be positive")
    if features.dim() == 3:
        b, v, d = features.shape
        features = features.transpose(0, 1).reshape(v * b, d)
        labels = labels.repeat(v) if labels.dim() == 1 else labels.repeat(v, 1)
    if features.dim() != 2 or labels.shape[0] != features.shape[0]:
        raise InputError(f"features {tuple(features.shape)} and labels {tuple(labels.shape)} do not match; pass "
                         "[N, D] with [N] or [N, C] labels, or [B, V, D] with [B] or [B, C] labels")
    n = features.shape[0]
    if n < 2:
        raise InputError("the contrastive loss needs at least 2 rows (2 views of 1 sample)")
    f = torch.nn.functional.normalize(features, dim=-1)
    logits = f @ f.T / temperature
    eye = torch.eye(n, dtype=torch.bool, device=f.device)
    logits = logits.masked_fill(eye, float("-inf"))
    log_p = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    w = label_similarity(labels.to(f.device)).to(f.dtype).masked_fill(eye, 0.0)
    w_sum = w.sum(1)
    has_pos = w_sum > 0
    if not bool(has_pos.any()):
        return features.sum() * 0.0
    per_anchor = -(w * log_p.masked_fill(eye, 0.0)).sum(1) / w_sum.clamp_min(1e-12)
    return per_anchor[has_pos].mean()


def mse_l1_loss(pred: Tensor, target: Tensor, mse_weight: float = 0.8, l1_weight: float = 0.2) -> Tensor:
    """``mse_weight·MSE + l1_weight·L1`` of ``pred`` vs ``target`` (same shape, in mV, so the
    loss is in mV² / mV); the reconstruction loss of paper 2 (0.8 and 0.2)."""
    if pred.shape != target.shape:
        raise InputError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    mse = torch.nn.functional.mse_loss(pred, target)
    return mse_weight * mse + l1_weight * torch.nn.functional.l1_loss(pred, target)


__all__ += ["label_similarity", "mse_l1_loss", "supervised_contrastive_loss"]
