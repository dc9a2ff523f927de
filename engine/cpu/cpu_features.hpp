// Run-time selection of the CPU kernel variant. The binary is built for the
// baseline x86-64 (or any other target); AVX2 and AVX-512 kernels live in
// their own translation units and are used only when cpuid and the OS say the
// instructions and registers are available.
#pragma once

#include <string>
#include <vector>

#include "engine/cpu/kernels.hpp"

namespace llmd::engine::cpu {

enum class CpuIsa { scalar, avx2, avx512 };

const char* isa_name(CpuIsa isa);

// The best variant this machine supports.
CpuIsa detect_isa();

// Variants this machine can run (scalar first), for tests.
std::vector<CpuIsa> available_isas();

// The kernels for `isa` (must be available), or for the best one when the
// LLMD_CPU_ISA environment variable does not name another ("scalar", "avx2",
// "avx512"; a name this machine cannot run is ignored).
const KernelTable& kernels_for(CpuIsa isa);
const KernelTable& default_kernels();
CpuIsa default_isa();

}  // namespace llmd::engine::cpu
