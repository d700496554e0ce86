"""A BERT encoder's forward pass in NumPy (the architecture of all-MiniLM-L6-v2), from safetensors weights.

Pure computation: weights are memory-mapped, activations are float32, and the work is arranged so that BLAS sees
large matrix products (see the block sizes below). `bedside.index.embedder` tokenises, batches and pools.
"""

from __future__ import annotations

import json
import math
import mmap
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["F32", "I64", "Encoder", "build_encoder", "forward", "gelu_", "normalise_", "read_safetensors"]

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

# --- MiniLM: weights ---------------------------------------------------------------------------------------------


# (weight, bias) of a linear layer, weight in PyTorch's (out, in) layout; or (gain, bias) of a LayerNorm.
Affine = tuple[F32, F32]


@dataclass(frozen=True, slots=True)
class _Layer:
    """One BERT encoder layer."""

    qkv: Affine  # query, key and value stacked into one (3H, H) projection; query pre-scaled by 1/sqrt(head_dim)
    attn_out: Affine
    ln1: Affine
    ffn_in: Affine
    ffn_out: Affine
    ln2: Affine


# Safetensors prefixes of _Layer's fields after qkv, in field order.
_LAYER_PARTS = (
    "attention.output.dense attention.output.LayerNorm intermediate.dense output.dense output.LayerNorm".split()
)


@dataclass(frozen=True, slots=True)
class Encoder:
    word: F32
    position: F32
    token_type0: F32
    ln: Affine
    layers: tuple[_Layer, ...]
    heads: int
    eps: float


def read_safetensors(path: Path) -> dict[str, F32]:
    """Map the float32 tensors of a safetensors file read-only, without copying (the format is an 8-byte
    little-endian header length, a JSON header of dtype/shape/byte offsets, then raw little-endian data)."""
    with path.open("rb") as f:
        # The map outlives the file object: numpy views keep it alive, and the OS shares its pages across processes.
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    header_len = int.from_bytes(buf[:8], "little")
    header: dict[str, Any] = json.loads(buf[8 : 8 + header_len])
    base = 8 + header_len
    tensors: dict[str, F32] = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue  # position_ids (I64) is just arange(512)
        begin, end = info["data_offsets"]
        flat = np.frombuffer(buf, dtype="<f4", count=(end - begin) // 4, offset=base + begin)
        tensors[name] = flat.reshape(info["shape"])
    return tensors


def build_encoder(tensors: dict[str, F32], config: dict[str, Any]) -> Encoder:
    """Assemble the model from safetensors names (HF BertModel layout); raises KeyError if a tensor is missing."""
    heads = int(config["num_attention_heads"])
    scale = np.float32(1.0 / math.sqrt(int(config["hidden_size"]) // heads))

    def pair(prefix: str) -> Affine:
        return tensors[f"{prefix}.weight"], tensors[f"{prefix}.bias"]

    layers = []
    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}."
        (qw, qb), (kw, kb), (vw, vb) = (pair(p + f"attention.self.{n}") for n in ("query", "key", "value"))
        qkv = (np.concatenate([qw * scale, kw, vw]), np.concatenate([qb * scale, kb, vb]))
        layers.append(_Layer(qkv, *(pair(p + part) for part in _LAYER_PARTS)))
    return Encoder(
        word=tensors["embeddings.word_embeddings.weight"],
        position=tensors["embeddings.position_embeddings.weight"],
        token_type0=tensors["embeddings.token_type_embeddings.weight"][0],
        ln=pair("embeddings.LayerNorm"),
        layers=tuple(layers),
        heads=heads,
        eps=float(config["layer_norm_eps"]),
    )


# --- MiniLM: forward pass ----------------------------------------------------------------------------------------

# Eigen's float32 erf, x*P(x^2)/Q(x^2) on [-4, 4] (|error| < 1e-7 against math.erf; erf(4) is 1 in float32),
# with x/sqrt(2) folded into the coefficients so GELU feeds x straight in. Lowest order first.
_ERF_P = (-1.60960333262415e-02, -2.95459980854025e-03, -7.34990630326855e-04, -5.69250639462346e-05,
          -2.10102402082508e-06, 2.77068142495902e-08, -2.72614225801306e-10)  # fmt: skip
_ERF_Q = (-1.42647390514189e-02, -7.37332916720468e-03, -1.68282697438203e-03, -2.13374055278905e-04,
          -1.45660718464996e-05)  # fmt: skip
_GELU_P = tuple(np.float32(0.5 * c / (math.sqrt(2.0) * 2.0**k)) for k, c in enumerate(_ERF_P))  # 0.5 from GELU too
_GELU_Q = tuple(np.float32(c / 2.0**k) for k, c in enumerate(_ERF_Q))
_GELU_CLIP = np.float32(4.0 * math.sqrt(2.0))
_GELU_CHUNK = 65536  # elements per pass: big enough to amortise call overhead, small enough for L2 cache
_SCORES_BUDGET = 2_000_000  # floats of attention scores per group of sequences (8 MB)
_BLAS_SERIAL = 65536 * 4  # OpenBLAS runs a gemm single-threaded when m*n*k <= this (its default)
_FFN_ROWS = 1024  # token rows per feed-forward block: a 6 MB intermediate, still a large, efficient matmul


def _horner(t: F32, coeffs: tuple[np.float32, ...], out: F32) -> F32:
    np.multiply(t, coeffs[-1], out=out)
    for c in coeffs[-2:0:-1]:
        out += c
        out *= t
    out += coeffs[0]
    return out


def gelu_(x: F32) -> None:
    """In place: x * Phi(x), the exact (erf) GELU BERT uses. Works in cache-sized chunks because the two
    polynomials take ~25 elementwise passes, which would otherwise each stream the whole activation from memory."""
    flat = x.reshape(-1)
    n = min(_GELU_CHUNK, flat.size)
    z, t, p, q = (np.empty(n, dtype=np.float32) for _ in range(4))
    for start in range(0, flat.size, n):
        c = flat[start : start + n]
        m = c.size
        zc = np.clip(c, -_GELU_CLIP, _GELU_CLIP, out=z[:m])
        tc = np.multiply(zc, zc, out=t[:m])
        pc = _horner(tc, _GELU_P, p[:m])
        pc *= zc
        pc /= _horner(tc, _GELU_Q, q[:m])  # now 0.5 * erf(x / sqrt(2))
        pc += np.float32(0.5)
        c *= pc


def _linear(x: F32, affine: Affine) -> F32:
    out = x @ affine[0].T  # a transposed view: BLAS reads it as is, no copy
    out += affine[1]
    return out


def _layer_norm_(x: F32, ln: Affine, eps: float) -> F32:
    """In place over the last axis of a 2-D array; returns x."""
    x -= x.mean(axis=1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x) / np.float32(x.shape[1])  # einsum: no squared temporary
    x *= (np.float32(1.0) / np.sqrt(var + np.float32(eps)))[:, None]
    x *= ln[0]
    x += ln[1]
    return x


def _attend_(qkv: F32, key_bias: F32, context: F32) -> None:
    """Scaled dot-product attention for a group of sequences: qkv (n, 3, heads, L, d) views and key_bias (n, L);
    writes (n, heads, L, d) into context. Query rows go in slices small enough (m*n*k <= _BLAS_SERIAL) that
    OpenBLAS runs each of these many tiny products on the calling thread: woken for them, its thread pool costs
    more than it saves (2-3x slower attention on 2 cores). Parallelism comes from running groups concurrently."""
    q, k, v = qkv[:, 0], qkv[:, 1], qkv[:, 2]
    length, d = q.shape[2], q.shape[3]
    rows = max(1, _BLAS_SERIAL // (length * d))
    scores = np.empty((*q.shape[:3], length), dtype=np.float32)
    k_t = k.transpose(0, 1, 3, 2)
    for i in range(0, length, rows):
        np.matmul(q[:, :, i : i + rows], k_t, out=scores[:, :, i : i + rows])  # 1/sqrt(d) folded into query
    scores += key_bias[:, None, None, :]
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores *= np.float32(1.0) / scores.sum(axis=-1, keepdims=True)
    for i in range(0, length, rows):
        np.matmul(scores[:, :, i : i + rows], v, out=context[:, :, i : i + rows])


def _attention_block(model: Encoder, layer: _Layer, hidden: F32, key_bias: F32, pool: Executor | None) -> F32:
    """Self-attention with output projection and residual, before LayerNorm: (B, L, H) -> (B*L, H).

    The projections run on the whole batch (large, BLAS-threaded matmuls); attention itself runs a few sequences
    at a time, sized so each group's (group, heads, L, L) scores stay ~8 MB, spread over `pool` when given."""
    b, length, h = hidden.shape
    flat = hidden.reshape(b * length, h)
    qkv = _linear(flat, layer.qkv)
    split = qkv.reshape(b, length, 3, model.heads, h // model.heads).transpose(0, 2, 3, 1, 4)  # (B, 3, heads, L, d)
    context = np.empty((b, length, model.heads, h // model.heads), dtype=np.float32)
    per_head = context.transpose(0, 2, 1, 3)  # a (B, heads, L, d) view, so heads land interleaved per token
    group = max(1, _SCORES_BUDGET // (model.heads * length * length))
    starts = range(0, b, group)
    jobs = [(split[s : s + group], key_bias[s : s + group], per_head[s : s + group]) for s in starts]
    if pool is None or len(jobs) == 1:
        for job in jobs:
            _attend_(*job)
    else:
        for future in [pool.submit(_attend_, *job) for job in jobs]:
            future.result()
    out = _linear(context.reshape(b * length, h), layer.attn_out)
    out += flat
    return out


def _feed_forward_(layer: _Layer, hidden: F32) -> None:
    """In place on (N, H): hidden += W2 gelu(W1 hidden + b1) + b2, over row blocks so the 4x-wide intermediate
    activation stays small (it would otherwise be the largest array of the pass)."""
    for s in range(0, hidden.shape[0], _FFN_ROWS):
        x = hidden[s : s + _FFN_ROWS]
        inner = _linear(x, layer.ffn_in)
        gelu_(inner)
        x += _linear(inner, layer.ffn_out)


def forward(model: Encoder, ids: I64, mask: F32, pool: Executor | None = None) -> F32:
    """BERT encoder plus masked mean pooling: (B, L) token ids and 0/1 mask -> (B, H) unnormalised embeddings."""
    b, length = ids.shape
    x = model.word[ids]  # a fresh array: the in-place steps below never write to the mapped weights
    x += model.position[:length]
    x += model.token_type0
    hidden = _layer_norm_(x.reshape(b * length, -1), model.ln, model.eps)
    # Large but finite, so a fully padded row (never produced here) could not turn into NaN.
    key_bias = (np.float32(1.0) - mask) * np.float32(-1e9)
    for layer in model.layers:
        hidden = _attention_block(model, layer, hidden.reshape(b, length, -1), key_bias, pool)
        _layer_norm_(hidden, layer.ln1, model.eps)
        _feed_forward_(layer, hidden)
        _layer_norm_(hidden, layer.ln2, model.eps)
    summed = np.einsum("bld,bl->bd", hidden.reshape(b, length, -1), mask)
    pooled: F32 = summed / np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
    return pooled


def normalise_(x: F32) -> F32:
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), np.float32(1e-12))
    return x


# --- MiniLM: public class ----------------------------------------------------------------------------------------
