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
