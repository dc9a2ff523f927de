#!/usr/bin/env python3
"""Writes the seed corpus of the gguf_reader fuzz target: small GGUF v2/v3
images with every metadata type, nested arrays, tokenizer metadata of both
tokenizer families and a few tensors. Usage: gguf_seeds.py OUT_DIR"""
import os
import struct
import sys

U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
PACK = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<?",
        U64: "<Q", I64: "<q", F64: "<d"}


def s(text):
    b = text.encode()
    return struct.pack("<Q", len(b)) + b


def value(t, v):
    if t == STR:
        return s(v)
    if t == ARR:
        et, items = v
        out = struct.pack("<IQ", et, len(items))
        return out + b"".join(value(et, i) for i in items)
    return struct.pack(PACK[t], v)


def gguf(kvs, tensors=(), version=3, alignment=32):
    out = b"GGUF" + struct.pack("<I", version)
    out += struct.pack("<QQ", len(tensors), len(kvs))
    for key, t, v in kvs:
        out += s(key) + struct.pack("<I", t) + value(t, v)
    data = b""
    for name, dims, ggml_type, payload in tensors:
        while len(data) % alignment:
            data += b"\0"
        out += s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", ggml_type, len(data))
        data += payload
    while len(out) % alignment:
        out += b"\0"
    return out + data


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    f32 = lambda n: struct.pack("<%df" % n, *[0.5 * i for i in range(n)])
    seeds = {}
    seeds["empty_v3.gguf"] = gguf([])
    seeds["empty_v2.gguf"] = gguf([], version=2)
    seeds["all_types.gguf"] = gguf([
        ("a.u8", U8, 7), ("a.i8", I8, -7), ("a.u16", U16, 65535), ("a.i16", I16, -1), ("a.u32", U32, 1 << 31),
        ("a.i32", I32, -5), ("a.f32", F32, 1.5), ("a.bool", BOOL, True), ("a.str", STR, "caf\u00e9"),
        ("a.u64", U64, 1 << 40), ("a.i64", I64, -(1 << 40)), ("a.f64", F64, 2.25),
        ("a.arr", ARR, (I32, [1, 2, 3])), ("a.nested", ARR, (ARR, [(STR, ["x", "y"]), (F32, [1.0])])),
    ])
    seeds["tensors.gguf"] = gguf([("general.architecture", STR, "llama"), ("general.alignment", U32, 64)], [
        ("token_embd.weight", [4, 3], 0, f32(12)),
        ("output_norm.weight", [4], 0, f32(4)),
        ("blk.0.attn_q.weight", [32, 2], 8, bytes(68)),  # Q8_0: 34 bytes per 32 values
    ], alignment=64)
    spm_tokens = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)] + ["\u2581the", "\u2581a", "he", "llo"]
    seeds["tokenizer_llama.gguf"] = gguf([
        ("general.architecture", STR, "llama"), ("tokenizer.ggml.model", STR, "llama"),
        ("tokenizer.ggml.tokens", ARR, (STR, spm_tokens)),
        ("tokenizer.ggml.scores", ARR, (F32, [0.0] * 259 + [-1.0, -2.0, -3.0, -4.0])),
        ("tokenizer.ggml.token_type", ARR, (I32, [2, 3, 3] + [6] * 256 + [1] * 4)),
        ("tokenizer.ggml.bos_token_id", U32, 1), ("tokenizer.ggml.eos_token_id", U32, 2),
        ("tokenizer.ggml.add_bos_token", BOOL, True),
    ])
    n = 0
    table = {}
    for b in range(256):
        if 33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + n)
            n += 1
    bpe_tokens = [table[b] for b in range(256)] + ["th", "the", "\u0120the", "<|endoftext|>"]
    seeds["tokenizer_gpt2.gguf"] = gguf([
        ("general.architecture", STR, "llama"), ("tokenizer.ggml.model", STR, "gpt2"),
        ("tokenizer.ggml.pre", STR, "qwen2"),
        ("tokenizer.ggml.tokens", ARR, (STR, bpe_tokens)),
        ("tokenizer.ggml.token_type", ARR, (I32, [1] * 259 + [3])),
        ("tokenizer.ggml.merges", ARR, (STR, ["t h", "th e", "\u0120 the"])),
        ("tokenizer.ggml.eos_token_id", U32, 259),
    ])
    # Metadata only, cut where the tensor data would start (no padding): the
    # aligned data offset lies past the end of the file.
    seeds["no-tensors-data-past-end.gguf"] = gguf([("general.architecture", STR, "llama"), ("a.u8", U8, 1)],
                                                  alignment=1)
    for name, data in seeds.items():
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main(sys.argv[1])
