#!/usr/bin/python3
"""Float64 reference forward pass of a Llama-family GGUF model, for tests.

Written independently of the engine: its own GGUF parser, its own block
dequantizers (numpy, vectorized per block type) and a direct transcription of
the model. Usage:

    reference_forward.py MODEL.gguf OUT.bin TOKEN_ID...
    reference_forward.py --embed MODEL.gguf OUT.bin TOKEN_ID...

writes the logits of every position, float64 little-endian, [n_tokens][n_vocab];
with --embed, the text's embedding instead: the final hidden states after the
output norm, pooled as the model's pooling_type says (1 mean, 2 first token,
3 last token) and L2-normalised, [n_embd].
"""
import struct
import sys

import numpy as np

# ---------------------------------------------------------------- GGUF reader

SCALARS = {0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "<u1", 10: "<u8", 11: "<i8",
           12: "<f8"}


class Reader:
    def __init__(self, data):
        self.d = data
        self.p = 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.d, self.p)
        self.p += struct.calcsize(fmt)
        return v[0]

    def string(self):
        n = self.take("<Q")
        s = self.d[self.p:self.p + n].decode("utf-8")
        self.p += n
        return s

    def value(self, t):
        if t in SCALARS:
            dt = np.dtype(SCALARS[t])
            v = np.frombuffer(self.d, dt, 1, self.p)[0]
            self.p += dt.itemsize
            return v.item()
        if t == 8:
            return self.string()
        if t == 9:
            et = self.take("<I")
            n = self.take("<Q")
            return [self.value(et) for _ in range(n)]
        raise ValueError("bad value type %d" % t)


def read_gguf(path):
    data = open(path, "rb").read()
    r = Reader(data)
    assert r.take("<I") == 0x46554747, "not a GGUF file"
    version = r.take("<I")
    assert version in (2, 3)
    n_tensors = r.take("<Q")
    n_kv = r.take("<Q")
    meta = {}
    for _ in range(n_kv):
        k = r.string()
        meta[k] = r.value(r.take("<I"))
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        nd = r.take("<I")
        dims = [r.take("<Q") for _ in range(nd)]
        t = r.take("<I")
        off = r.take("<Q")
        infos.append((name, dims, t, off))
    align = meta.get("general.alignment", 32)
    start = (r.p + align - 1) // align * align
    tensors = {}
    for name, dims, t, off in infos:
        n = int(np.prod(dims))
        flat = dequantize(data, start + off, t, n)
        tensors[name] = flat.reshape(list(reversed(dims))) if len(dims) > 1 else flat
    return meta, tensors


# ---------------------------------------------------------------- dequantization

def f16(raw):
    return raw.astype(np.float64)


def kquant_scales_mins(s):
    """s: [nb, 12] uint8 -> scales, mins [nb, 8] (6-bit values)."""
    s = s.astype(np.int64)
    sc = np.zeros((s.shape[0], 8), np.int64)
    mn = np.zeros((s.shape[0], 8), np.int64)
    sc[:, :4] = s[:, 0:4] & 63
    mn[:, :4] = s[:, 4:8] & 63
    sc[:, 4:] = (s[:, 8:12] & 0xF) | ((s[:, 0:4] >> 6) << 4)
    mn[:, 4:] = (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)
    return sc, mn


def dequantize(data, off, t, n):
    if t == 0:  # f32
        return np.frombuffer(data, "<f4", n, off).astype(np.float64)
    if t == 1:  # f16
        return np.frombuffer(data, "<f2", n, off).astype(np.float64)
    if t == 30:  # bf16: the top half of a float32
        raw = np.frombuffer(data, "<u2", n, off).astype(np.uint32) << 16
        return raw.view(np.float32).astype(np.float64)
    if t == 8:  # q8_0
        dt = np.dtype([("d", "<f2"), ("qs", "i1", 32)])
        b = np.frombuffer(data, dt, n // 32, off)
        return (f16(b["d"])[:, None] * b["qs"].astype(np.float64)).reshape(-1)
    if t == 2:  # q4_0: byte j holds elements j (low nibble) and j + 16 (high nibble)
        dt = np.dtype([("d", "<f2"), ("qs", "u1", 16)])
        b = np.frombuffer(data, dt, n // 32, off)
        q = np.concatenate([b["qs"] & 0xF, b["qs"] >> 4], axis=1).astype(np.float64) - 8.0
        return (f16(b["d"])[:, None] * q).reshape(-1)
    if t in (12, 13):  # q4_K, q5_K
        five = t == 13
        fields = [("d", "<f2"), ("dmin", "<f2"), ("scales", "u1", 12)]
        if five:
            fields.append(("qh", "u1", 32))
        fields.append(("qs", "u1", 128))
        b = np.frombuffer(data, np.dtype(fields), n // 256, off)
        sc, mn = kquant_scales_mins(b["scales"])
        d = f16(b["d"])[:, None] * sc  # [nb, 8]
        m = f16(b["dmin"])[:, None] * mn
        qs = b["qs"].astype(np.int64)
        out = np.zeros((len(b), 256))
        for c in range(4):
            lo = qs[:, 32 * c:32 * c + 32] & 0xF
            hi = qs[:, 32 * c:32 * c + 32] >> 4
            if five:
                qh = b["qh"].astype(np.int64)
                lo = lo + ((qh >> (2 * c)) & 1) * 16
                hi = hi + ((qh >> (2 * c + 1)) & 1) * 16
            out[:, 64 * c:64 * c + 32] = d[:, 2 * c, None] * lo - m[:, 2 * c, None]
            out[:, 64 * c + 32:64 * c + 64] = d[:, 2 * c + 1, None] * hi - m[:, 2 * c + 1, None]
        return out.reshape(-1)
    if t == 14:  # q6_K
        dt = np.dtype([("ql", "u1", 128), ("qh", "u1", 64), ("scales", "i1", 16), ("d", "<f2")])
        b = np.frombuffer(data, dt, n // 256, off)
        ql = b["ql"].astype(np.int64)
        qh = b["qh"].astype(np.int64)
        q = np.zeros((len(b), 256), np.int64)
        for half in range(2):
            L = ql[:, 64 * half:64 * half + 64]
            H = qh[:, 32 * half:32 * half + 32]
            base = 128 * half
            q[:, base + 0:base + 32] = (L[:, :32] & 0xF) | ((H & 3) << 4)
            q[:, base + 32:base + 64] = (L[:, 32:] & 0xF) | (((H >> 2) & 3) << 4)
            q[:, base + 64:base + 96] = (L[:, :32] >> 4) | (((H >> 4) & 3) << 4)
            q[:, base + 96:base + 128] = (L[:, 32:] >> 4) | (((H >> 6) & 3) << 4)
        scale = np.repeat(b["scales"].astype(np.float64), 16, axis=1)  # one per 16 elements
        return (f16(b["d"])[:, None] * scale * (q - 32)).reshape(-1)
    raise ValueError("unsupported tensor type %d" % t)


# ---------------------------------------------------------------- model

def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope(x, pos, inv_freq, n_rot, neox):
    """x: [T, heads, head_dim] rotated in place by angle pos * inv_freq."""
    ang = pos[:, None] * inv_freq[None, :]  # [T, n_rot/2]
    c = np.cos(ang)[:, None, :]
    s = np.sin(ang)[:, None, :]
    half = n_rot // 2
    if neox:
        a, b = x[..., :half].copy(), x[..., half:n_rot].copy()
        x[..., :half] = a * c - b * s
        x[..., half:n_rot] = a * s + b * c
    else:
        a, b = x[..., 0:n_rot:2].copy(), x[..., 1:n_rot:2].copy()
        x[..., 0:n_rot:2] = a * c - b * s
        x[..., 1:n_rot:2] = a * s + b * c


def forward(meta, w, ids, embed=False):
    arch = meta["general.architecture"]
    p = arch + "."
    n_embd = meta[p + "embedding_length"]
    n_layer = meta[p + "block_count"]
    n_head = meta[p + "attention.head_count"]
    n_kv = meta.get(p + "attention.head_count_kv", n_head)
    hd = meta.get(p + "attention.key_length", n_embd // n_head)
    n_rot = meta.get(p + "rope.dimension_count", hd)
    eps = meta.get(p + "attention.layer_norm_rms_epsilon", 1e-5)
    base = meta.get(p + "rope.freq_base", 10000.0)
    inv_freq = base ** (-np.arange(0, n_rot, 2, dtype=np.float64) / n_rot)
    if "rope_freqs.weight" in w:
        inv_freq = inv_freq / w["rope_freqs.weight"]
    if meta.get(p + "rope.scaling.type") == "linear":
        inv_freq = inv_freq / meta[p + "rope.scaling.factor"]
    neox = arch in ("qwen2", "qwen3")
    T = len(ids)
    pos = np.arange(T, dtype=np.float64)
    x = w["token_embd.weight"][ids].copy()
    mask = np.triu(np.full((T, T), -np.inf), 1)
    g = n_head // n_kv
    for i in range(n_layer):
        b = "blk.%d." % i
        xn = rms_norm(x, w[b + "attn_norm.weight"], eps)
        q = xn @ w[b + "attn_q.weight"].T
        k = xn @ w[b + "attn_k.weight"].T
        v = xn @ w[b + "attn_v.weight"].T
        if b + "attn_q.bias" in w:
            q = q + w[b + "attn_q.bias"]
            k = k + w[b + "attn_k.bias"]
            v = v + w[b + "attn_v.bias"]
        q = q.reshape(T, n_head, hd)
        k = k.reshape(T, n_kv, hd)
        v = v.reshape(T, n_kv, hd)
        if b + "attn_q_norm.weight" in w:  # qwen3: RMSNorm over each head
            q = rms_norm(q, w[b + "attn_q_norm.weight"], eps)
            k = rms_norm(k, w[b + "attn_k_norm.weight"], eps)
        rope(q, pos, inv_freq, n_rot, neox)
        rope(k, pos, inv_freq, n_rot, neox)
        out = np.zeros((T, n_head, hd))
        for h in range(n_head):
            s = q[:, h, :] @ k[:, h // g, :].T / np.sqrt(hd) + mask
            s = np.exp(s - s.max(axis=1, keepdims=True))
            s /= s.sum(axis=1, keepdims=True)
            out[:, h, :] = s @ v[:, h // g, :]
        x = x + out.reshape(T, n_head * hd) @ w[b + "attn_output.weight"].T
        xn = rms_norm(x, w[b + "ffn_norm.weight"], eps)
        gate = xn @ w[b + "ffn_gate.weight"].T
        up = xn @ w[b + "ffn_up.weight"].T
        x = x + (gate / (1.0 + np.exp(-gate)) * up) @ w[b + "ffn_down.weight"].T
    hidden = rms_norm(x, w["output_norm.weight"], eps)
    if embed:
        pooling = meta.get(p + "pooling_type", 0)
        if pooling == 1:
            pooled = hidden.mean(axis=0)
        elif pooling == 2:
            pooled = hidden[0]
        elif pooling == 3:
            pooled = hidden[-1]
        else:
            raise ValueError("not an embedding model (pooling_type %r)" % pooling)
        return pooled / np.linalg.norm(pooled)
    out_w = w.get("output.weight", w["token_embd.weight"])
    return hidden @ out_w.T


def main():
    args = sys.argv[1:]
    embed = args[0] == "--embed"
    if embed:
        args = args[1:]
    meta, tensors = read_gguf(args[0])
    ids = [int(a) for a in args[2:]]
    result = forward(meta, tensors, ids, embed)
    result.astype("<f8").tofile(args[1])


if __name__ == "__main__":
    main()
