// Statement execution: output, if, for (with loop.* and else), set, macros,
// filter blocks, break/continue. Scopes follow Jinja2: a loop iteration and
// a macro call get their own frame; `if` does not; a macro sees the frame it
// was defined in as it is when called.
#include "engine/jinja/builtins.hpp"
#include "engine/jinja/evaluator.hpp"

namespace llmd::engine::jinja {
namespace {

// Assigns `v` to `targets`, unpacking when there are several.
Status assign(Context& ctx, const std::vector<std::string>& targets, const Value& v) {
  if (targets.size() == 1) {
    ctx.frame->set(targets[0], v);
    return {};
  }
  auto items = iterate(v);
  if (!items) return items.take_error();
  if (items->size() != targets.size()) {
    return eval_error("cannot unpack " + std::to_string(items->size()) + " values into " +
                      std::to_string(targets.size()) + " variables");
  }
  for (size_t i = 0; i < targets.size(); ++i) ctx.frame->set(targets[i], (*items)[i]);
  return {};
}

// Makes the frame current for the lifetime of the guard.
class FrameGuard {
 public:
  FrameGuard(Context& c, std::shared_ptr<Frame> f) : c_(c), saved_(std::move(c.frame)) { c_.frame = std::move(f); }
  ~FrameGuard() { c_.frame = std::move(saved_); }
  FrameGuard(const FrameGuard&) = delete;
  FrameGuard& operator=(const FrameGuard&) = delete;

 private:
  Context& c_;
  std::shared_ptr<Frame> saved_;
};

std::shared_ptr<Dict> loop_object(const List& items, size_t i, const std::shared_ptr<const Callable>& cycle) {
  auto d = Dict::make();
  d->is_loop = true;
  const auto n = static_cast<int64_t>(items.size());
  const auto k = static_cast<int64_t>(i);
  d->entries = {{"index", Value(k + 1)},
                {"index0", Value(k)},
                {"revindex", Value(n - k)},
                {"revindex0", Value(n - k - 1)},
                {"first", Value(i == 0)},
                {"last", Value(k == n - 1)},
                {"length", Value(n)},
                {"depth", Value(1)},
                {"depth0", Value(0)},
                {"previtem", i > 0 ? items[i - 1] : Value::undefined("there is no previous item")},
                {"nextitem", k + 1 < n ? items[i + 1] : Value::undefined("there is no next item")},
                {"cycle", Value(cycle)}};
  return d;
}

Status exec_for(Context& ctx, const Node& n) {
  auto seq = eval(ctx, *n.expr);
  if (!seq) return seq.take_error();
  auto all = iterate(*seq);
  if (!all) return all.take_error();
  List items;
  if (n.cond) {
    for (const Value& v : *all) {
      LLMD_TRY(ctx.tick());
      FrameGuard g(ctx, std::make_shared<Frame>(Frame{{}, ctx.frame}));
      LLMD_TRY(assign(ctx, n.targets, v));
      auto keep = eval(ctx, *n.cond);
      if (!keep) return keep.take_error();
      if (keep->truthy()) items.push_back(v);
    }
  } else {
    items = std::move(*all);
  }
  if (items.empty()) return exec(ctx, n.else_body);
  // An outer loop's `loop` is hidden by this one's.
  for (size_t i = 0; i < items.size(); ++i) {
    LLMD_TRY(ctx.tick());
    const int64_t index = static_cast<int64_t>(i);
    auto cycle = make_callable("cycle", [index](Context&, const Args& a) -> Result<Value> {
      if (a.positional.empty()) return eval_error("loop.cycle() needs at least one argument");
      return a.positional[static_cast<size_t>(index) % a.positional.size()];
    });
    auto frame = std::make_shared<Frame>(Frame{{}, ctx.frame});
    frame->vars.emplace_back("loop", Value(loop_object(items, i, cycle)));
    FrameGuard g(ctx, frame);
    LLMD_TRY(assign(ctx, n.targets, items[i]));
    LLMD_TRY(exec(ctx, n.body));
    if (ctx.flow == Context::Flow::break_loop) {
      ctx.flow = Context::Flow::normal;
      break;
    }
    ctx.flow = Context::Flow::normal;
  }
  return {};
}

Status exec_set(Context& ctx, const Node& n) {
  auto v = eval(ctx, *n.expr);
  if (!v) return v.take_error();
  if (n.text.empty()) return assign(ctx, n.targets, *v);
  const Value ns = ctx.lookup(n.targets[0]);
  if (!ns.is_dict() || !ns.dict().is_namespace) {
    return eval_error("cannot assign attribute '" + n.text + "' on '" + n.targets[0] + "' (" + ns.type_name() +
                      "): only a namespace() can be changed");
  }
  ns.dict().set(n.text, std::move(*v));
  return {};
}

Status exec_macro(Context& ctx, const Node& n) {
  const Node* def = &n;
  std::weak_ptr<Frame> home = ctx.frame;
  auto fn = [def, home](Context& c, const Args& args) -> Result<Value> {
    LLMD_TRY(c.tick());
    DepthGuard guard(c);
    if (guard.exceeded()) return c.limit_error("macro calls nested deeper than " + std::to_string(c.limits.max_depth));
    if (args.positional.size() > def->params.size()) {
      return eval_error("macro '" + def->text + "' takes not more than " + std::to_string(def->params.size()) +
                        " argument(s)");
    }
    for (const auto& [k, v] : args.keyword) {
      bool known = false;
      for (const auto& p : def->params) known = known || p.first == k;
      if (!known) return eval_error("macro '" + def->text + "' takes no keyword argument '" + k + "'");
    }
    std::shared_ptr<Frame> parent = home.lock();
    auto frame = std::make_shared<Frame>(Frame{{}, parent ? parent : c.root});
    FrameGuard g(c, frame);
    for (size_t i = 0; i < def->params.size(); ++i) {
      const auto& [name, default_expr] = def->params[i];
      if (const Value* given = args.get(i, name)) {
        frame->set(name, *given);
      } else if (default_expr) {
        auto v = eval(c, *default_expr);
        if (!v) return v;
        frame->set(name, std::move(*v));
      } else {
        frame->set(name, Value::undefined("parameter '" + name + "' of macro '" + def->text + "' was not given"));
      }
    }
    c.begin_capture();
    Status st = exec(c, def->body);
    Str out = c.end_capture();
    if (!st) return st.take_error();
    LLMD_TRY(c.allocate(out.text.size()));
    return Value(std::move(out));
  };
  ctx.frame->set(n.text, Value(make_callable(n.text, std::move(fn))));
  return {};
}

Status exec_node(Context& ctx, const Node& n) {
  switch (n.kind) {
    case Node::data:
      return ctx.write(n.text);
    case Node::output: {
      auto v = eval(ctx, *n.expr);
      if (!v) return v.take_error();
      if (v->is_string()) return ctx.write(v->str());
      return ctx.write(to_str_tainted(*v));
    }
    case Node::if_:
      for (const auto& [cond, body] : n.branches) {
        auto c = eval(ctx, *cond);
        if (!c) return c.take_error();
        if (c->truthy()) return exec(ctx, body);
      }
      return exec(ctx, n.else_body);
    case Node::for_:
      return exec_for(ctx, n);
    case Node::set:
      return exec_set(ctx, n);
    case Node::set_block:
    case Node::filter_block: {
      ctx.begin_capture();
      Status st = exec(ctx, n.body);
      Value captured(ctx.end_capture());
      if (!st) return st;
      LLMD_TRY(ctx.allocate(captured.text().size()));
      if (n.expr) {
        auto f = eval_filter(ctx, *n.expr, &captured);
        if (!f) return f.take_error();
        captured = std::move(*f);
      }
      if (n.kind == Node::filter_block) {
        return captured.is_string() ? ctx.write(captured.str()) : ctx.write(to_str_tainted(captured));
      }
      ctx.frame->set(n.targets[0], std::move(captured));
      return {};
    }
    case Node::macro:
      return exec_macro(ctx, n);
    case Node::call_block:
      return eval_error("call blocks are not supported");
    case Node::break_:
      ctx.flow = Context::Flow::break_loop;
      return {};
    case Node::continue_:
      ctx.flow = Context::Flow::continue_loop;
      return {};
  }
  return {};
}

}  // namespace

Status exec(Context& ctx, const Body& body) {
  DepthGuard guard(ctx);
  if (guard.exceeded()) return ctx.limit_error("nesting deeper than " + std::to_string(ctx.limits.max_depth));
  for (const NodePtr& n : body) {
    Status st = exec_node(ctx, *n);
    if (!st) {
      if (ctx.error_located) return st;
      ctx.error_located = true;
      Error e = st.take_error();
      return Error(e.code, "line " + std::to_string(n->line) + ": " + e.message);
    }
    if (ctx.flow != Context::Flow::normal) return {};
  }
  return {};
}

}  // namespace llmd::engine::jinja
