// Global functions: range, namespace, dict, raise_exception (the template
// refuses the conversation) and strftime_now (the render's clock).
#include "engine/jinja/builtins.hpp"
#include "engine/jinja/evaluator.hpp"

namespace llmd::engine::jinja {
namespace {

Result<Value> g_range(Context& ctx, const Args& a) {
  int64_t start = 0, stop = 0, step = 1;
  for (const Value& v : a.positional) {
    if (!v.is_int()) return eval_error("range() takes integers");
  }
  if (a.positional.size() == 1) {
    stop = a.positional[0].as_int();
  } else if (a.positional.size() == 2 || a.positional.size() == 3) {
    start = a.positional[0].as_int();
    stop = a.positional[1].as_int();
    if (a.positional.size() == 3) step = a.positional[2].as_int();
  } else {
    return eval_error("range() takes 1 to 3 arguments");
  }
  if (step == 0) return eval_error("range() arg 3 must not be zero");
  // Its length in 128-bit arithmetic, so that no bound can overflow.
  const __int128 span = step > 0 ? static_cast<__int128>(stop) - start : static_cast<__int128>(start) - stop;
  const __int128 mag = step > 0 ? step : -static_cast<__int128>(step);
  const __int128 n = span <= 0 ? 0 : (span + mag - 1) / mag;
  if (n > static_cast<__int128>(ctx.limits.max_iterations)) {
    return ctx.limit_error("range() of " + std::to_string(static_cast<long long>(n > INT64_MAX ? INT64_MAX : n)) +
                           " items exceeds the iteration limit of " + std::to_string(ctx.limits.max_iterations));
  }
  List out;
  out.reserve(static_cast<size_t>(n));
  for (__int128 i = 0; i < n; ++i) out.push_back(Value(static_cast<int64_t>(start + i * step)));
  return Value(std::move(out));
}

Result<Value> g_namespace(Context& ctx, const Args& a) {
  auto ns = Dict::make();
  ns->is_namespace = true;
  for (const Value& v : a.positional) {
    if (!v.is_dict()) return eval_error("namespace() takes a mapping or keyword arguments");
    for (const auto& [k, x] : v.dict().entries) ns->set(k, x);
  }
  for (const auto& [k, v] : a.keyword) ns->set(k, v);
  ctx.namespaces.push_back(ns);
  return Value(ns);
}

Result<Value> g_dict(Context& ctx, const Args& a) {
  auto d = Dict::make();
  for (const Value& v : a.positional) {
    if (!v.is_dict()) return eval_error("dict() takes a mapping or keyword arguments");
    for (const auto& [k, x] : v.dict().entries) d->set(k, x);
  }
  for (const auto& [k, v] : a.keyword) d->set(k, v);
  return nested(ctx, Value(d));
}

Result<Value> g_raise_exception(Context&, const Args& a) {
  const Value* m = a.get(0, "message");
  return eval_error(m ? to_str(*m) : std::string("raise_exception() was called"));
}

Result<Value> g_strftime_now(Context& ctx, const Args& a) {
  const Value* f = a.get(0, "format");
  if (!f || !f->is_string()) return eval_error("strftime_now() takes a format string");
  if (!ctx.strftime_now) return eval_error("strftime_now() is not available");
  return Value(ctx.strftime_now(f->text()));
}

}  // namespace

std::shared_ptr<Dict> make_globals() {
  auto g = Dict::make();
  g->set("range", Value(make_callable("range", g_range)));
  g->set("namespace", Value(make_callable("namespace", g_namespace)));
  g->set("dict", Value(make_callable("dict", g_dict)));
  g->set("raise_exception", Value(make_callable("raise_exception", g_raise_exception)));
  g->set("strftime_now", Value(make_callable("strftime_now", g_strftime_now)));
  return g;
}

}  // namespace llmd::engine::jinja
