// A weight matrix converted from its GGUF type into the CPU kernels' packed
// layout (kernels.hpp). Several matrices of one packed format and row length
// can be stacked into one (Q, K and V; gate and up) so one pass computes them.
//
//   GGUF type        packed format   exact?
//   f32 / f16 / bf16 same element    yes
//   q8_0             i8_b32_f16      yes (levels and f16 scales kept)        8.5 bits/weight
//   q6_K             i6_b16          yes (d and the int8 sub-scales kept)    6.6 bits/weight
//   q5_K             u5_b32_aff      yes (d * sc and dmin * m are exact)     7 bits/weight
//   q4_K, q4_0       u4_b32_aff      yes (q4_0: scale d, min -8 d)          6 bits/weight
#pragma once

#include <span>

#include "base/result.hpp"
#include "engine/cpu/aligned_buffer.hpp"
#include "engine/cpu/kernels.hpp"
#include "engine/cpu/thread_pool.hpp"
#include "engine/model/model.hpp"

namespace llmd::engine::cpu {

PackFormat pack_format_for(gguf::GgmlType type);
const char* pack_format_name(PackFormat f);

// The layout (everything but data) of `rows` x `cols` weights packed as
// `fmt`; group_bytes * groups is the buffer size. `name` is for the error.
Result<PackedView> packed_layout(PackFormat fmt, int64_t rows, int64_t cols, const std::string& name);

class PackedMatrix {
 public:
  PackedMatrix() = default;
  PackedMatrix(PackedMatrix&&) = default;
  PackedMatrix& operator=(PackedMatrix&&) = default;

  // Stacks `parts` (all with the same cols and packed format) row-wise.
  static Result<PackedMatrix> pack(std::span<const WeightView* const> parts, ThreadPool* pool);

  const PackedView& view() const { return view_; }
  int64_t rows() const { return view_.rows; }
  int64_t cols() const { return view_.cols; }
  uint64_t bytes() const { return buf_.size(); }

 private:
  PackedView view_;
  AlignedBuffer buf_;
};

}  // namespace llmd::engine::cpu
