// The state of one render: variable scopes, the output being written, and
// the bounds every render is held to (output size, loop iterations, nesting
// depth, time). Exceeding a bound is a chat_template_limit error.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "engine/jinja/value.hpp"

namespace llmd::engine::jinja {

struct Limits {
  size_t max_output_bytes = 4u << 20;        // also the largest string or list a render may build
  uint64_t max_iterations = 1'000'000;       // loop iterations and macro calls, all together
  int max_depth = 400;                       // nesting of expressions, statements and macro calls
  std::chrono::milliseconds max_time{2000};  // wall time of one render
  // Bytes of strings and list items a render may create in all (what it
  // builds and drops counts too), so that no template holds much memory.
  size_t max_allocated_bytes = 256u << 20;
};

// One scope: the top level, a loop iteration or a macro call. Lookups walk
// to the parent, then to the render's globals.
struct Frame {
  std::vector<std::pair<std::string, Value>> vars;
  std::shared_ptr<Frame> parent;

  const Value* find(std::string_view name) const;
  void set(const std::string& name, Value v);
};

struct Context {
  Context(std::string name, const Limits& limits, std::shared_ptr<Dict> globals);
  ~Context();  // breaks reference cycles among the namespaces it created

  std::string template_name;
  Limits limits;
  std::shared_ptr<Dict> globals;
  std::shared_ptr<Frame> root;
  std::shared_ptr<Frame> frame;  // current scope
  std::vector<Str> outputs;      // the output, and a buffer per capture (set block, macro, filter block)
  std::function<std::string(const std::string& format)> strftime_now;

  enum class Flow { normal, break_loop, continue_loop } flow = Flow::normal;
  bool error_located = false;  // the error already names its line
  int depth = 0;
  uint64_t iterations = 0;
  std::chrono::steady_clock::time_point deadline;
  std::vector<std::weak_ptr<Dict>> namespaces;

  Value lookup(const std::string& name) const;

  // Appends to the current output, within max_output_bytes.
  Status write(const Str& s);
  Status write(std::string_view text);
  void begin_capture() { outputs.emplace_back(); }
  Str end_capture();

  // One loop iteration or macro call: counts against max_iterations and
  // checks the time now and then.
  Status tick();
  // The time bound alone, for long single operations (unique, sort).
  Status check_time() const;
  // A string or list of `size` bytes/items about to be built.
  Status check_size(size_t size) const;
  // A string of `bytes` (or list of that many bytes of items) was built:
  // counts against max_allocated_bytes, and checks check_size.
  Status allocate(size_t bytes);
  size_t allocated = 0;

  Error limit_error(const std::string& what) const;
};

// An error in the template's evaluation (not located yet).
Error eval_error(std::string what);

// RAII depth counter for eval/exec recursion.
class DepthGuard {
 public:
  explicit DepthGuard(Context& c) : c_(c) { ++c_.depth; }
  ~DepthGuard() { --c_.depth; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;
  bool exceeded() const { return c_.depth > c_.limits.max_depth; }

 private:
  Context& c_;
};

}  // namespace llmd::engine::jinja
