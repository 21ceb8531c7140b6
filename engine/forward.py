"""The exact batched forward of emotion2vec: a padded batch of mixed lengths gives per-clip results.

It runs FunASR's own modules (the weights the loader assigned) but drives them itself, because
FunASR's padding mask is not enough (FACTS.md: padded frames leak through the positional convs):

1. Inputs are waveforms already normalized per clip (``clips.normalize``); they are zero-padded.
2. The conv feature extractor never mixes frames past a clip's end into its valid frames
   (frame t sees samples [320 t, 320 t + 400)), so valid frames are exact as they are.
3. Padded frames are set to zero at the input of every positional-conv layer: that is what a single
   clip sees there (the convs zero-pad), so the positional encoding of valid frames is exact.
4. Attention: ALiBi bias plus -inf on padded keys, through ``scaled_dot_product_attention`` (SDPA).
5. Pooling averages valid frames only.

In fp32 this matches per-clip FunASR ``generate`` to ~1e-7 (scores) and ~1e-6 (embeddings).
Everything runs on ``model.device`` in ``model.dtype``; pooling accumulates in fp32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.loader import LoadedModel


@dataclass(frozen=True)
class WindowOutput:
    """One input's result: mean of its valid frames, their count and (if asked) the frames."""

    embedding: np.ndarray  # float32 (D,)
    frames: np.ndarray | None  # float32 (T, D)
    n_frames: int


class Forward:
    def __init__(self, model: LoadedModel):
        module = model.module
        enc = module.modality_encoders["AUDIO"]
        cfg = enc.modality_cfg
        if enc.alibi_scale is not None and enc.alibi_scale.size(0) != 1:
            raise NotImplementedError("per-layer ALiBi scales are not supported")
        if enc.fixed_positional_encoder is not None or not cfg.use_alibi_encoder:
            raise NotImplementedError("only the emotion2vec+ audio encoder layout is supported")
        self.device = model.device
        self.dtype = model.dtype
        self.local_encoder = enc.local_encoder
        self.project = enc.project_features
        self.conv_layers = _channels_last_convs(enc.local_encoder, cfg.extractor_mode)
        self.pos_layers = list(enc.relative_positional_encoder)[1:-1]  # drop the two transposes
        if cfg.conv_pos_pre_ln or module.cfg.get("layer_norm_first"):
            raise NotImplementedError("only post-norm emotion2vec+ layouts are supported")
        self.extra_tokens = enc.extra_tokens
        self.alibi_scale = enc.alibi_scale
        self.heads = int(cfg.num_alibi_heads)
        self.prenet = enc.context_encoder
        self.blocks = list(enc.context_encoder.blocks) + list(module.blocks)
        self.conv_spec = [(k, s) for _, k, s in enc.feature_enc_layers]

    def frames_for(self, samples: int) -> int:
        """Valid frames for ``samples`` samples: the conv chain's output length."""
        n = samples
        for kernel, stride in self.conv_spec:
            n = (n - kernel) // stride + 1
        return max(0, n)

    def __call__(self, waves: list[np.ndarray], want_frames: list[bool]) -> list[WindowOutput]:
        import torch

        with torch.inference_mode():
            return self._forward(waves, want_frames)

    def _forward(self, waves, want_frames):
        import torch

        lengths = [len(w) for w in waves]
        counts = [self.frames_for(n) for n in lengths]
        if min(counts) < 1:
            raise ValueError("every input needs at least 400 samples")
        source = torch.zeros(len(waves), max(lengths), dtype=torch.float32)
        for row, wave in zip(source, waves):
            row[: len(wave)] = torch.from_numpy(np.asarray(wave, dtype=np.float32))
        if self.device.type == "cuda":
            source = source.pin_memory()
        source = source.to(self.device, non_blocking=True).to(self.dtype)

        if self.conv_layers is None:
            x = self.project(self.local_encoder(source))  # (B, T, D)
        else:  # same maths without the transposes' copies (the project's first step transposes)
            x = self.project[1:](_conv_features(self.conv_layers, source))
        batch, steps, _ = x.shape
        valid = torch.arange(steps, device=self.device)[None, :] < torch.tensor(
            counts, device=self.device
        )[:, None]  # (B, T)
        padded = not bool(valid.all())
        y = x.transpose(1, 2)
        keep = valid[:, None, :].to(x.dtype)
        for layer in self.pos_layers:
            y = layer(y * keep if padded else y)
        x = x + y.transpose(1, 2)

        mask = self._attention_mask(valid, padded)
        if self.extra_tokens is not None:
            x = torch.cat([self.extra_tokens.expand(batch, -1, -1), x], dim=1)
        if self.prenet.norm is not None:
            x = self.prenet.norm(x)  # post-norm layout: the context encoder normalizes first
        for block in self.blocks:
            x = _block(block, x, mask)
        extra = 0 if self.extra_tokens is None else self.extra_tokens.size(1)
        x = x[:, extra:]

        weights = valid.to(torch.float32) / torch.tensor(counts, device=self.device)[:, None]
        pooled = torch.einsum("bt,btd->bd", weights, x.float()).cpu().numpy()
        outputs = []
        for i, (count, frames) in enumerate(zip(counts, want_frames)):
            kept = x[i, :count].float().cpu().numpy() if frames else None
            outputs.append(WindowOutput(pooled[i], kept, count))
        return outputs

    def _attention_mask(self, valid, padded):
        """ALiBi bias (scaled per head) with -inf on padded keys, shape (B or 1, H, N, N)."""
        import torch
        import torch.nn.functional as F

        steps = valid.shape[1]
        pos = torch.arange(steps, device=self.device)
        distance = -(pos[None, :] - pos[:, None]).abs().to(torch.float32)  # (T, T)
        bias = self._slopes().to(self.device)[:, None, None] * distance  # (H, T, T)
        if self.alibi_scale is not None:
            bias = bias * self.alibi_scale.clamp_min(0).reshape(-1, 1, 1).float()
        extra = 0 if self.extra_tokens is None else self.extra_tokens.size(1)
        bias = F.pad(bias[None], (extra, 0, extra, 0))  # extra tokens: no bias, never padded
        if padded:  # no query (extra tokens included) may see a padded key
            keys = F.pad(valid, (extra, 0), value=True)
            bias = bias.masked_fill(~keys[:, None, None, :], float("-inf"))
        return bias.to(self.dtype)

    def _slopes(self):
        from funasr.models.emotion2vec.base import get_alibi

        # get_alibi(1, H) is slope * |i - j| on a 1 x 1 grid; its slopes come from a 2 x 2 grid.
        return -get_alibi(2, self.heads)[:, 0, 1]


def _attention(attn, x, mask):
    import torch.nn.functional as F

    batch, steps, dim = x.shape
    qkv = attn.qkv(x).reshape(batch, steps, 3, attn.num_heads, dim // attn.num_heads)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=attn.scale)
    return attn.proj(out.transpose(1, 2).reshape(batch, steps, dim))


def _block(block, x, mask):
    """FunASR's post-norm ``AltBlock.forward`` in eval mode, with SDPA attention."""
    x = x + _attention(block.attn, x, mask)
    r = block.norm1(x)
    return block.norm2(r + block.mlp(r))


def _channels_last_convs(local_encoder, mode: str):
    """The feature extractor's conv layers as channels-last 2-D convs, or None to use FunASR's.

    FunASR's extractor (``layer_norm`` mode) transposes around every LayerNorm, and those copies
    cost a third of the extractor's time. A 1 x k conv2d in channels-last memory writes (B, T, C)
    directly, where LayerNorm over channels needs no copy. Same weights, same maths; only the
    summation order inside the convolution differs (~1e-6).
    """
    import torch

    if mode != "layer_norm":
        return None
    layers = []
    for block in local_encoder.conv_layers:
        conv, norm = block[0], block[2][1]
        weight = conv.weight.detach()[:, :, None, :].contiguous(memory_format=torch.channels_last)
        layers.append((weight, conv.stride[0], norm.weight, norm.bias, norm.eps))
    return layers


def _conv_features(layers, source):
    """(B, N) samples -> (B, T, C) features, as FunASR's ConvFeatureExtractionModel computes them."""
    import torch
    import torch.nn.functional as F

    x = source[:, None, None, :].contiguous(memory_format=torch.channels_last)  # (B, 1, 1, N)
    for weight, stride, gamma, beta, eps in layers:
        y = F.conv2d(x, weight, stride=(1, stride)).permute(0, 2, 3, 1)  # (B, 1, T, C)
        if y.dtype == torch.float32:
            y = F.gelu(F.layer_norm(y, (y.shape[-1],), gamma, beta, eps))
        else:  # FunASR's Fp32LayerNorm: normalise in fp32 whatever the compute dtype
            y = F.gelu(F.layer_norm(y.float(), (y.shape[-1],), gamma.float(), beta.float(),
                                    eps).type_as(y))
        x = y.permute(0, 3, 1, 2)  # (B, C, 1, T) with channels-last strides: no copy
    return x[:, :, 0, :].transpose(1, 2)  # (B, T, C), contiguous

