#include "engine/cpu/cpu_features.hpp"

#include <cstdlib>
#include <cstring>

namespace llmd::engine::cpu {

const char* isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::avx512: return "avx512";
    case CpuIsa::avx2: return "avx2";
    default: return "scalar";
  }
}

CpuIsa detect_isa() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  // __builtin_cpu_supports checks cpuid and that the OS saves the register state.
  if (kernel_table_avx512() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
    return CpuIsa::avx512;
  if (kernel_table_avx2() && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("f16c"))
    return CpuIsa::avx2;
#endif
  return CpuIsa::scalar;
}

std::vector<CpuIsa> available_isas() {
  std::vector<CpuIsa> out = {CpuIsa::scalar};
  const CpuIsa best = detect_isa();
  if (best == CpuIsa::avx2 || best == CpuIsa::avx512) out.push_back(CpuIsa::avx2);
  if (best == CpuIsa::avx512) out.push_back(CpuIsa::avx512);
  return out;
}

const KernelTable& kernels_for(CpuIsa isa) {
  const KernelTable* t = nullptr;
  if (isa == CpuIsa::avx512) t = kernel_table_avx512();
  if (isa == CpuIsa::avx2) t = kernel_table_avx2();
  return t ? *t : *kernel_table_scalar();
}

CpuIsa default_isa() {
  static const CpuIsa isa = [] {
    const CpuIsa best = detect_isa();
    if (const char* env = std::getenv("LLMD_CPU_ISA")) {
      for (CpuIsa cand : available_isas())
        if (std::strcmp(env, isa_name(cand)) == 0) return cand;
    }
    return best;
  }();
  return isa;
}

const KernelTable& default_kernels() { return kernels_for(default_isa()); }

}  // namespace llmd::engine::cpu
