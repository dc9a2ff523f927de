#include "engine/cpu/packed_matrix.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/quant/block_types.hpp"
#include "engine/quant/fp16.hpp"

namespace llmd::engine::cpu {

using gguf::GgmlType;

namespace {

uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// One source row decoded to packed levels: u[cols] and per block scale/min.
struct RowLevels {
  std::vector<uint8_t> u;
  std::vector<uint16_t> scale_f16;
  std::vector<float> scale;
  std::vector<float> min;
  std::vector<int8_t> sc8;     // q6_K sub-scales, one per 16
  std::vector<float> dsuper;   // q6_K super-block scales, one per 256
};

void decode_row(GgmlType type, const uint8_t* src, int64_t cols, RowLevels* out) {
  using namespace quant;
  uint8_t* u = out->u.data();
  switch (type) {
    case GgmlType::Q8_0: {
      const auto* b = reinterpret_cast<const BlockQ8_0*>(src);
      for (int64_t i = 0; i < cols / 32; ++i) {
        out->scale_f16[static_cast<size_t>(i)] = b[i].d;
        for (int j = 0; j < 32; ++j) u[i * 32 + j] = static_cast<uint8_t>(b[i].qs[j] + 128);
      }
      break;
    }
    case GgmlType::Q4_0: {
      // value = d * (q - 8): affine with scale d and min -8 d.
      const auto* b = reinterpret_cast<const BlockQ4_0*>(src);
      for (int64_t i = 0; i < cols / 32; ++i) {
        const float d = f16_to_f32(b[i].d);
        out->scale[static_cast<size_t>(i)] = d;
        out->min[static_cast<size_t>(i)] = -8.0f * d;
        for (int j = 0; j < 16; ++j) {
          u[i * 32 + j] = static_cast<uint8_t>(b[i].qs[j] & 0x0f);
          u[i * 32 + j + 16] = static_cast<uint8_t>(b[i].qs[j] >> 4);
        }
      }
      break;
    }
    case GgmlType::Q6_K: {
      const auto* b = reinterpret_cast<const BlockQ6_K*>(src);
      for (int64_t i = 0; i < cols / kQK_K; ++i) {
        out->dsuper[static_cast<size_t>(i)] = f16_to_f32(b[i].d);
        for (int s = 0; s < 16; ++s) out->sc8[static_cast<size_t>(i * 16 + s)] = b[i].scales[s];
        uint8_t* y = u + i * kQK_K;
        for (int n = 0; n < 2; ++n, y += 128) {
          const uint8_t* ql = b[i].ql + 64 * n;
          const uint8_t* qh = b[i].qh + 32 * n;
          for (int l = 0; l < 32; ++l) {
            y[l] = static_cast<uint8_t>((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4));
            y[l + 32] = static_cast<uint8_t>((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4));
            y[l + 64] = static_cast<uint8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
            y[l + 96] = static_cast<uint8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
          }
        }
      }
      break;
    }
    case GgmlType::Q4_K:
    case GgmlType::Q5_K: {
      const bool five = type == GgmlType::Q5_K;
      const size_t bsz = five ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K);
      for (int64_t i = 0; i < cols / kQK_K; ++i) {
        const uint8_t* blk = src + static_cast<size_t>(i) * bsz;
        uint16_t dh, dminh;
        std::memcpy(&dh, blk, 2);
        std::memcpy(&dminh, blk + 2, 2);
        const uint8_t* scales = blk + 4;
        const uint8_t* qh = five ? blk + 16 : nullptr;
        const uint8_t* qs = blk + (five ? 48 : 16);
        const float d = f16_to_f32(dh), dmin = f16_to_f32(dminh);
        for (int j = 0; j < 8; ++j) {
          uint8_t sc, m;
          kquant_scale_min(j, scales, &sc, &m);
          out->scale[static_cast<size_t>(i * 8 + j)] = d * static_cast<float>(sc);
          out->min[static_cast<size_t>(i * 8 + j)] = -(dmin * static_cast<float>(m));
        }
        uint8_t* y = u + i * kQK_K;
        for (int c = 0; c < 4; ++c) {
          for (int l = 0; l < 32; ++l) {
            int q0 = qs[32 * c + l] & 0x0f, q1 = qs[32 * c + l] >> 4;
            if (five) {
              q0 += (qh[l] >> (2 * c) & 1) << 4;
              q1 += (qh[l] >> (2 * c + 1) & 1) << 4;
            }
            y[64 * c + l] = static_cast<uint8_t>(q0);
            y[64 * c + 32 + l] = static_cast<uint8_t>(q1);
          }
        }
      }
      break;
    }
    default:
      break;
  }
}

// Writes dst[k][lane] = row[lane][k] for 16 rows of `cols` elements of T
// (absent rows stay zero); rows may be unaligned.
template <typename T>
void transpose_rows(const uint8_t* const* rows, int64_t cols, uint8_t* dst) {
  T tile[kRowGroup][64];
  for (int64_t k0 = 0; k0 < cols; k0 += 64) {
    const int64_t n = std::min<int64_t>(64, cols - k0);
    for (int lane = 0; lane < kRowGroup; ++lane) {
      if (rows[lane]) {
        std::memcpy(tile[lane], rows[lane] + k0 * static_cast<int64_t>(sizeof(T)), static_cast<size_t>(n) * sizeof(T));
      } else {
        std::memset(tile[lane], 0, sizeof tile[lane]);
      }
    }
    T* out = reinterpret_cast<T*>(dst) + k0 * kRowGroup;
    for (int64_t k = 0; k < n; ++k)
      for (int lane = 0; lane < kRowGroup; ++lane) out[k * kRowGroup + lane] = tile[lane][k];
  }
}

}  // namespace

PackFormat pack_format_for(GgmlType type) {
  switch (type) {
    case GgmlType::F16: return PackFormat::f16;
    case GgmlType::BF16: return PackFormat::bf16;
    case GgmlType::Q8_0: return PackFormat::i8_b32_f16;
    case GgmlType::Q6_K: return PackFormat::i6_b16;
    case GgmlType::Q5_K: return PackFormat::u5_b32_aff;
    case GgmlType::Q4_0:
    case GgmlType::Q4_K: return PackFormat::u4_b32_aff;
    default: return PackFormat::f32;
  }
}

const char* pack_format_name(PackFormat f) {
  switch (f) {
    case PackFormat::f32: return "f32";
    case PackFormat::f16: return "f16";
    case PackFormat::bf16: return "bf16";
    case PackFormat::i8_b32_f16: return "i8/32/f16";
    case PackFormat::i6_b16: return "i6/16";
    case PackFormat::u4_b32_aff: return "u4/32/affine";
    case PackFormat::u5_b32_aff: return "u5/32/affine";
  }
  return "?";
}

Result<PackedView> packed_layout(PackFormat fmt, int64_t rows, int64_t cols, const std::string& name) {
  PackedView v;
  v.format = fmt;
  v.rows = rows;
  v.groups = (rows + kRowGroup - 1) / kRowGroup;
  v.cols = cols;
  const bool is_float = fmt == PackFormat::f32 || fmt == PackFormat::f16 || fmt == PackFormat::bf16;
  const bool affine = fmt == PackFormat::u4_b32_aff || fmt == PackFormat::u5_b32_aff;
  const bool nibbles = fmt == PackFormat::u4_b32_aff;
  const bool five = fmt == PackFormat::u5_b32_aff;
  const bool six = fmt == PackFormat::i6_b16;
  if (is_float) {
    const uint64_t elt = fmt == PackFormat::f32 ? 4 : 2;
    v.group_bytes = round_up(static_cast<uint64_t>(cols) * kRowGroup * elt, 64);
  } else {
    v.block = fmt == PackFormat::i6_b16 ? 16 : 32;
    if (cols % v.block != 0) return Error(ErrorCode::pack_bad_shape, name + ": row length is not a whole block");
    const uint64_t nb = static_cast<uint64_t>(cols / v.block);
    const uint64_t quants = five ? nb * 5 * 64 : six ? nb * 3 * 64 : nb * static_cast<uint64_t>(v.block) * kRowGroup / (nibbles ? 2 : 1);
    const uint64_t scale_elt = fmt == PackFormat::i8_b32_f16 ? 2 : six ? 1 : 4;
    v.scales_offset = round_up(quants, 64);
    v.mins_offset = round_up(v.scales_offset + nb * kRowGroup * scale_elt, 64);
    const uint64_t mins_bytes = affine ? nb * kRowGroup * 4 : six ? nb / 16 * kRowGroup * 4 : 0;
    v.group_bytes = round_up(v.mins_offset + mins_bytes, 64);
  }
  return v;
}

Result<PackedMatrix> PackedMatrix::pack(std::span<const WeightView* const> parts, ThreadPool* pool) {
  if (parts.empty()) return Error(ErrorCode::pack_empty, "no matrices to pack");
  const PackFormat fmt = pack_format_for(parts[0]->type);
  const int64_t cols = parts[0]->cols;
  int64_t rows = 0;
  for (const WeightView* p : parts) {
    if (pack_format_for(p->type) != fmt || p->cols != cols)
      return Error(ErrorCode::pack_mismatch, "cannot stack " + p->name + " with " + parts[0]->name);
    rows += p->rows;
  }
  auto layout = packed_layout(fmt, rows, cols, parts[0]->name);
  if (!layout) return layout.take_error();
  PackedMatrix m;
  PackedView& v = m.view_;
  v = *layout;
  const bool is_float = fmt == PackFormat::f32 || fmt == PackFormat::f16 || fmt == PackFormat::bf16;
  const bool affine = fmt == PackFormat::u4_b32_aff || fmt == PackFormat::u5_b32_aff;
  const bool nibbles = fmt == PackFormat::u4_b32_aff;
  const bool five = fmt == PackFormat::u5_b32_aff;
  const bool six = fmt == PackFormat::i6_b16;
  if (Status st = m.buf_.allocate(v.group_bytes * static_cast<uint64_t>(v.groups)); !st) return st.take_error();
  v.data = m.buf_.data();
  uint8_t* base = m.buf_.data();

  // Source row r of the stacked matrix.
  auto source_row = [&](int64_t r, GgmlType* type) -> const uint8_t* {
    for (const WeightView* p : parts) {
      if (r < p->rows) {
        *type = p->type;
        return p->row(r);
      }
      r -= p->rows;
    }
    return nullptr;
  };

  const int64_t nb = is_float ? 0 : cols / v.block;
  auto pack_group = [&](int64_t g, int) {
    uint8_t* group = base + static_cast<uint64_t>(g) * v.group_bytes;
    if (is_float) {
      // [cols][16] elements: gather one input column of the 16 rows at a time.
      const uint64_t elt = fmt == PackFormat::f32 ? 4 : 2;
      const uint8_t* src[kRowGroup] = {};
      for (int lane = 0; lane < kRowGroup; ++lane) {
        GgmlType type = GgmlType::F32;
        if (g * kRowGroup + lane < rows) src[lane] = source_row(g * kRowGroup + lane, &type);
      }
      if (elt == 4) {
        transpose_rows<uint32_t>(src, cols, group);
      } else {
        transpose_rows<uint16_t>(src, cols, group);
      }
      return;
    }
    // Decode the 16 rows, then write the group front to back.
    std::vector<RowLevels> lv(kRowGroup);
    for (int lane = 0; lane < kRowGroup; ++lane) {
      RowLevels& L = lv[static_cast<size_t>(lane)];
      L.u.assign(static_cast<size_t>(cols), affine ? 0 : six ? 32 : 128);  // padding rows: zero weights
      L.sc8.assign(static_cast<size_t>(nb), 0);
      L.dsuper.assign(static_cast<size_t>(cols / 256 + 1), 0.0f);
      L.scale_f16.assign(static_cast<size_t>(nb), 0);
      L.scale.assign(static_cast<size_t>(nb), 0.0f);
      L.min.assign(static_cast<size_t>(nb), 0.0f);
      const int64_t r = g * kRowGroup + lane;
      if (r >= rows) continue;
      GgmlType type = GgmlType::F32;
      const uint8_t* src = source_row(r, &type);
      decode_row(type, src, cols, &L);
    }
    uint8_t* dst = group;
    if (six) {
      // Per block of 16: pairs 0 and 1 as nibbles, then the line of top two bits.
      for (int64_t b = 0; b < nb; ++b) {
        for (int p = 0; p < 2; ++p) {
          for (int lane = 0; lane < kRowGroup; ++lane) {
            const uint8_t* u = lv[static_cast<size_t>(lane)].u.data() + b * 16 + p * 8;
            for (int e = 0; e < 4; ++e) *dst++ = static_cast<uint8_t>((u[e] & 15) | ((u[e + 4] & 15) << 4));
          }
        }
        for (int lane = 0; lane < kRowGroup; ++lane) {
          const uint8_t* u = lv[static_cast<size_t>(lane)].u.data() + b * 16;
          for (int e = 0; e < 4; ++e) {
            uint8_t bits = 0;
            for (int q = 0; q < 4; ++q) bits = static_cast<uint8_t>(bits | (((u[q * 4 + e] >> 4) & 3) << (2 * q)));
            *dst++ = bits;
          }
        }
      }
    } else if (five) {
      // Per block: pairs 0..3 as nibbles, then the fifth-bit line.
      for (int64_t b = 0; b < nb; ++b) {
        for (int p = 0; p < 4; ++p) {
          for (int lane = 0; lane < kRowGroup; ++lane) {
            const uint8_t* u = lv[static_cast<size_t>(lane)].u.data() + b * 32 + p * 8;
            for (int e = 0; e < 4; ++e) *dst++ = static_cast<uint8_t>((u[e] & 15) | ((u[e + 4] & 15) << 4));
          }
        }
        for (int lane = 0; lane < kRowGroup; ++lane) {
          const uint8_t* u = lv[static_cast<size_t>(lane)].u.data() + b * 32;
          for (int e = 0; e < 4; ++e) {
            uint8_t bits = 0;
            for (int q = 0; q < 8; ++q) bits = static_cast<uint8_t>(bits | (((u[q * 4 + e] >> 4) & 1) << q));
            *dst++ = bits;
          }
        }
      }
    } else if (nibbles) {
      // Pair p of 8 inputs, lane, byte e  ->  level(8p + e) | level(8p + 4 + e) << 4.
      for (int64_t p = 0; p < cols / 8; ++p) {
        for (int lane = 0; lane < kRowGroup; ++lane) {
          const uint8_t* u = lv[static_cast<size_t>(lane)].u.data() + p * 8;
          for (int e = 0; e < 4; ++e) *dst++ = static_cast<uint8_t>(u[e] | (u[e + 4] << 4));
        }
      }
    } else {
      // Quants: chunk k4 of 4 inputs, lane  ->  (k4 * 16 + lane) * 4.
      for (int64_t k4 = 0; k4 < cols / 4; ++k4) {
        for (int lane = 0; lane < kRowGroup; ++lane, dst += 4)
          std::memcpy(dst, lv[static_cast<size_t>(lane)].u.data() + k4 * 4, 4);
      }
    }
    if (six) {
      for (int64_t b = 0; b < nb; ++b)
        for (int lane = 0; lane < kRowGroup; ++lane)
          group[v.scales_offset + static_cast<uint64_t>(b * kRowGroup + lane)] =
              static_cast<uint8_t>(lv[static_cast<size_t>(lane)].sc8[static_cast<size_t>(b)]);
      for (int64_t sb = 0; sb < nb / 16; ++sb)
        for (int lane = 0; lane < kRowGroup; ++lane)
          std::memcpy(group + v.mins_offset + (sb * kRowGroup + lane) * 4,
                      &lv[static_cast<size_t>(lane)].dsuper[static_cast<size_t>(sb)], 4);
      return;
    }
    for (int64_t b = 0; b < nb; ++b) {
      for (int lane = 0; lane < kRowGroup; ++lane) {
        const RowLevels& L = lv[static_cast<size_t>(lane)];
        if (fmt == PackFormat::i8_b32_f16) {
          std::memcpy(group + v.scales_offset + (b * kRowGroup + lane) * 2, &L.scale_f16[static_cast<size_t>(b)], 2);
        } else {
          std::memcpy(group + v.scales_offset + (b * kRowGroup + lane) * 4, &L.scale[static_cast<size_t>(b)], 4);
        }
        if (affine)
          std::memcpy(group + v.mins_offset + (b * kRowGroup + lane) * 4, &L.min[static_cast<size_t>(b)], 4);
      }
    }
  };
  if (pool) {
    pool->run(v.groups, pack_group);
  } else {
    for (int64_t g = 0; g < v.groups; ++g) pack_group(g, 0);
  }
  return m;
}

}  // namespace llmd::engine::cpu
