# Common compile flags for every llmd target.
add_library(llmd_flags INTERFACE)
target_compile_options(llmd_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-missing-field-initializers>)
target_include_directories(llmd_flags INTERFACE ${PROJECT_SOURCE_DIR})

if(LLMD_SANITIZE)
  target_compile_options(llmd_flags INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -D_GLIBCXX_ASSERTIONS>)
  target_link_options(llmd_flags INTERFACE -fsanitize=address,undefined)
endif()

if(LLMD_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "LLMD_FUZZ needs clang (libFuzzer): -DCMAKE_CXX_COMPILER=clang++")
  endif()
  if(LLMD_SANITIZE OR LLMD_TSAN)
    message(FATAL_ERROR "LLMD_FUZZ brings its own sanitizers: build it in a separate tree")
  endif()
  # Coverage instrumentation everywhere; libFuzzer's main is linked into the
  # fuzz executables only (fuzz/CMakeLists.txt).
  target_compile_options(llmd_flags INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
      -fno-sanitize-recover=undefined -D_GLIBCXX_ASSERTIONS>)
  target_link_options(llmd_flags INTERFACE -fsanitize=address,undefined)
endif()

if(LLMD_TSAN)
  if(LLMD_SANITIZE)
    message(FATAL_ERROR "LLMD_TSAN and LLMD_SANITIZE cannot be combined: build them in separate trees")
  endif()
  # -Wno-tsan: Boost.Asio's fenced blocks use atomic_thread_fence, which the
  # sanitizer does not model; its handler hand-offs also go through mutexes.
  target_compile_options(llmd_flags INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=thread -fno-omit-frame-pointer -Wno-tsan>)
  target_link_options(llmd_flags INTERFACE -fsanitize=thread)
endif()

# GCC 12 at -O2/-O3 reports -Wrestrict and -Wstringop-overflow inside
# libstdc++'s own std::string code for plain concatenations ("a" + s); these
# are compiler false positives (fixed in GCC 13), not findings in our code.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12 AND
   CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(llmd_flags INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Wno-restrict -Wno-stringop-overflow>)
endif()

