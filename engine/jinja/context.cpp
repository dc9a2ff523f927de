#include "engine/jinja/context.hpp"

namespace llmd::engine::jinja {

const Value* Frame::find(std::string_view name) const {
  for (const Frame* f = this; f; f = f->parent.get()) {
    for (const auto& [k, v] : f->vars) {
      if (k == name) return &v;
    }
  }
  return nullptr;
}

void Frame::set(const std::string& name, Value v) {
  for (auto& [k, old] : vars) {
    if (k == name) {
      old = std::move(v);
      return;
    }
  }
  vars.emplace_back(name, std::move(v));
}

Context::Context(std::string name, const Limits& l, std::shared_ptr<Dict> g)
    : template_name(std::move(name)), limits(l), globals(std::move(g)) {
  root = std::make_shared<Frame>();
  frame = root;
  outputs.emplace_back();
  deadline = std::chrono::steady_clock::now() + limits.max_time;
}

Context::~Context() {
  // Namespaces may hold each other in cycles or long chains: all are kept
  // alive while every one is emptied, so none is freed from inside another.
  std::vector<std::shared_ptr<Dict>> alive;
  alive.reserve(namespaces.size());
  for (auto& w : namespaces) {
    if (auto ns = w.lock()) alive.push_back(std::move(ns));
  }
  std::vector<std::pair<std::string, Value>> dropped;
  for (auto& ns : alive) {
    for (auto& e : ns->entries) dropped.push_back(std::move(e));
    ns->entries.clear();
  }
  dropped.clear();
}

Value Context::lookup(const std::string& name) const {
  if (const Value* v = frame->find(name)) return *v;
  if (const Value* v = globals->find(name)) return *v;
  return Value::undefined("'" + name + "' is undefined");
}

Status Context::write(const Str& s) {
  Str& out = outputs.back();
  if (out.text.size() + s.text.size() > limits.max_output_bytes) {
    return limit_error("the output exceeds " + std::to_string(limits.max_output_bytes) + " bytes");
  }
  out.taint.append(s.taint, out.text.size());
  out.text += s.text;
  return {};
}

Status Context::write(std::string_view text) {
  Str& out = outputs.back();
  if (out.text.size() + text.size() > limits.max_output_bytes) {
    return limit_error("the output exceeds " + std::to_string(limits.max_output_bytes) + " bytes");
  }
  out.text += text;
  return {};
}

Str Context::end_capture() {
  Str s = std::move(outputs.back());
  outputs.pop_back();
  return s;
}

Status Context::tick() {
  if (++iterations > limits.max_iterations) {
    return limit_error("more than " + std::to_string(limits.max_iterations) + " loop iterations and macro calls");
  }
  if ((iterations & 63) == 0) return check_time();
  return {};
}

Status Context::check_time() const {
  if (std::chrono::steady_clock::now() > deadline) {
    return limit_error("rendering took longer than " + std::to_string(limits.max_time.count()) + " ms");
  }
  return {};
}

Status Context::check_size(size_t size) const {
  if (size > limits.max_output_bytes) {
    return limit_error("a value of " + std::to_string(size) + " bytes or items exceeds the limit of " +
                       std::to_string(limits.max_output_bytes));
  }
  return {};
}

Status Context::allocate(size_t bytes) {
  LLMD_TRY(check_size(bytes));
  allocated += bytes;
  if (allocated > limits.max_allocated_bytes) {
    return limit_error("the strings and lists built exceed " + std::to_string(limits.max_allocated_bytes) + " bytes");
  }
  return {};
}

Error Context::limit_error(const std::string& what) const { return Error(ErrorCode::chat_template_limit, what); }

Error eval_error(std::string what) { return Error(ErrorCode::chat_template_error, std::move(what)); }

}  // namespace llmd::engine::jinja
