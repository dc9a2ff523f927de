// Expression evaluation.
#include "engine/jinja/builtins.hpp"
#include "engine/jinja/evaluator.hpp"

namespace llmd::engine::jinja {
namespace {

Result<Args> eval_args(Context& ctx, const Expr& e, size_t first) {
  Args a;
  for (size_t i = first; i < e.items.size(); ++i) {
    auto v = eval(ctx, *e.items[i]);
    if (!v) return v.take_error();
    a.positional.push_back(std::move(*v));
  }
  for (const auto& [k, x] : e.keywords) {
    auto v = eval(ctx, *x);
    if (!v) return v.take_error();
    a.keyword.emplace_back(k, std::move(*v));
  }
  return a;
}

Result<Value> eval_test(Context& ctx, const Expr& e) {
  auto input = eval(ctx, *e.items[0]);
  if (!input) return input;
  auto args = eval_args(ctx, e, 1);
  if (!args) return args.take_error();
  auto r = apply_test(ctx, e.name, *input, *args);
  if (!r) return r.take_error();
  return Value(*r != e.negated);
}

Result<Value> eval_dict(Context& ctx, const Expr& e) {
  auto d = Dict::make();
  for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
    auto k = eval(ctx, *e.items[i]);
    if (!k) return k;
    if (!k->is_string()) return eval_error("dict keys must be strings here (got " + k->type_name() + ")");
    auto v = eval(ctx, *e.items[i + 1]);
    if (!v) return v;
    d->set(k->text(), std::move(*v));
  }
  return Value(d);
}

}  // namespace

Result<Value> nested(Context& ctx, Value v) {
  if (v.depth() > kMaxValueDepth) {
    return ctx.limit_error("a list or dict nested deeper than " + std::to_string(kMaxValueDepth));
  }
  return v;
}

Result<Value> call_value(Context& ctx, const Value& callee, const Args& args) {
  if (callee.is_undefined()) return eval_error(callee.undefined_hint());
  if (!callee.is_callable()) return eval_error("'" + callee.type_name() + "' object is not callable");
  return callee.callable().fn(ctx, args);
}

// A filter expression; a null input (filter blocks) takes `block_input`.
Result<Value> eval_filter(Context& ctx, const Expr& e, const Value* block_input) {
  Value input;
  if (e.items[0]) {
    if (e.items[0]->kind == Expr::filter && block_input) {
      auto in = eval_filter(ctx, *e.items[0], block_input);
      if (!in) return in;
      input = std::move(*in);
    } else {
      auto in = eval(ctx, *e.items[0]);
      if (!in) return in;
      input = std::move(*in);
    }
  } else if (block_input) {
    input = *block_input;
  }
  auto args = eval_args(ctx, e, 1);
  if (!args) return args.take_error();
  return apply_filter(ctx, e.name, input, *args);
}

Result<Value> eval(Context& ctx, const Expr& e) {
  DepthGuard guard(ctx);
  if (guard.exceeded()) return ctx.limit_error("nesting deeper than " + std::to_string(ctx.limits.max_depth));
  switch (e.kind) {
    case Expr::literal:
      return e.value;
    case Expr::variable:
      return ctx.lookup(e.name);
    case Expr::list:
    case Expr::tuple: {
      List l;
      for (const auto& x : e.items) {
        auto v = eval(ctx, *x);
        if (!v) return v;
        l.push_back(std::move(*v));
      }
      return nested(ctx, Value(std::move(l)));
    }
    case Expr::dict: {
      auto d = eval_dict(ctx, e);
      if (!d) return d;
      return nested(ctx, std::move(*d));
    }
    case Expr::attribute: {
      auto obj = eval(ctx, *e.items[0]);
      if (!obj) return obj;
      return get_attribute(ctx, *obj, e.name);
    }
    case Expr::index: {
      auto obj = eval(ctx, *e.items[0]);
      if (!obj) return obj;
      auto key = eval(ctx, *e.items[1]);
      if (!key) return key;
      return get_item(ctx, *obj, *key);
    }
    case Expr::slice: {
      auto obj = eval(ctx, *e.items[0]);
      if (!obj) return obj;
      Value parts[3] = {Value(None{}), Value(None{}), Value(None{})};
      for (int i = 0; i < 3; ++i) {
        if (!e.items[static_cast<size_t>(i) + 1]) continue;
        auto v = eval(ctx, *e.items[static_cast<size_t>(i) + 1]);
        if (!v) return v;
        parts[i] = std::move(*v);
      }
      return get_slice(ctx, *obj, parts[0], parts[1], parts[2]);
    }
    case Expr::call: {
      auto callee = eval(ctx, *e.items[0]);
      if (!callee) return callee;
      auto args = eval_args(ctx, e, 1);
      if (!args) return args.take_error();
      return call_value(ctx, *callee, *args);
    }
    case Expr::filter:
      return eval_filter(ctx, e, nullptr);
    case Expr::test:
      return eval_test(ctx, e);
    case Expr::unary: {
      auto v = eval(ctx, *e.items[0]);
      if (!v) return v;
      if (e.name == "not") return Value(!v->truthy());
      if (v->is_undefined()) return eval_error(v->undefined_hint());
      if (v->is_bool()) return Value(static_cast<int64_t>(e.name == "-" ? -static_cast<int>(v->as_bool()) : v->as_bool()));
      if (v->is_int()) {
        if (e.name == "-" && v->as_int() == INT64_MIN) return eval_error("integer overflow");
        return Value(e.name == "-" ? -v->as_int() : v->as_int());
      }
      if (v->is_float()) return Value(e.name == "-" ? -v->as_float() : v->as_float());
      return eval_error("bad operand type for unary " + e.name + ": '" + v->type_name() + "'");
    }
    case Expr::logical: {
      auto l = eval(ctx, *e.items[0]);
      if (!l) return l;
      // Python's and/or give an operand, not a bool.
      if (e.name == "and" ? !l->truthy() : l->truthy()) return l;
      return eval(ctx, *e.items[1]);
    }
    case Expr::binary: {
      auto l = eval(ctx, *e.items[0]);
      if (!l) return l;
      auto r = eval(ctx, *e.items[1]);
      if (!r) return r;
      return binary_operator(ctx, e.name, *l, *r);
    }
    case Expr::chain: {
      // a < b < c is (a < b) and (b < c), each operand evaluated once.
      auto left = eval(ctx, *e.items[0]);
      if (!left) return left;
      Value result;
      for (size_t i = 0; i < e.ops.size(); ++i) {
        auto right = eval(ctx, *e.items[i + 1]);
        if (!right) return right;
        auto r = binary_operator(ctx, e.ops[i], *left, *right);
        if (!r || !r->truthy()) return r;
        result = std::move(*r);
        left = std::move(right);
      }
      return result;
    }
    case Expr::conditional: {
      auto c = eval(ctx, *e.items[1]);
      if (!c) return c;
      if (c->truthy()) return eval(ctx, *e.items[0]);
      if (!e.items[2]) return Value::undefined("the conditional expression has no else branch");
      return eval(ctx, *e.items[2]);
    }
  }
  return eval_error("unknown expression");
}

}  // namespace llmd::engine::jinja
