# Per-file compile flags of the CPU kernel variants (included from
# engine/CMakeLists.txt, in the scope that defines llmd_engine). The library
# itself targets the baseline ISA; cpu_features.cpp picks a variant at run
# time. Kernels are optimized even in Debug builds so sanitizer runs stay fast;
# under ASan/UBSan at -O1, since the instrumented intrinsics take GCC minutes
# per file at -O3 and the sanitizer pass is there to check, not to be fast.
set(_llmd_cpu ${CMAKE_CURRENT_SOURCE_DIR}/cpu)
set(_llmd_opt -O3)
if(LLMD_SANITIZE)
  set(_llmd_opt -O1)
endif()
set_property(SOURCE ${_llmd_cpu}/kernels_scalar.cpp APPEND PROPERTY COMPILE_OPTIONS ${_llmd_opt})
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set_property(SOURCE ${_llmd_cpu}/kernels_avx2.cpp APPEND PROPERTY COMPILE_OPTIONS
    ${_llmd_opt} -mavx2 -mfma -mf16c)
  set_property(SOURCE ${_llmd_cpu}/kernels_avx512.cpp ${_llmd_cpu}/kernels_avx512_attention.cpp APPEND PROPERTY COMPILE_OPTIONS
    ${_llmd_opt} -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx2 -mfma -mf16c)
endif()
unset(_llmd_cpu)
unset(_llmd_opt)
