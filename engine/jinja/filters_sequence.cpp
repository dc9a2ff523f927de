// The filters over sequences: unique, map, select/reject, selectattr/
// rejectattr, sort, dictsort, sum, min, max. As in Jinja, map and the
// select family give generators, and a falsy input (none too) gives nothing.
#include <algorithm>

#include "engine/jinja/builtins.hpp"
#include "engine/jinja/filters_sequence.hpp"
#include "engine/jinja/py_string.hpp"

namespace llmd::engine::jinja {
namespace {

Value generator(List items) { return Value(std::make_shared<const Generator>(Generator{std::move(items)})); }

bool flag(const Args& a, size_t i, const char* name, bool fallback) {
  const Value* v = a.get(i, name);
  return v ? v->truthy() : fallback;
}

// select/reject (by_attr false) and selectattr/rejectattr.
Result<Value> select_impl(Context& ctx, const Value& v, const Args& a, bool by_attr, bool keep) {
  if (!v.truthy()) return generator({});  // as Jinja: a falsy value (none too) selects nothing
  auto items = iterate(v);
  if (!items) return items.take_error();
  size_t next = 0;
  std::string attr;
  if (by_attr) {
    if (a.positional.empty()) return eval_error("selectattr/rejectattr need an attribute name");
    attr = to_str(a.positional[next++]);
  }
  std::string test;
  if (next < a.positional.size()) test = to_str(a.positional[next++]);
  Args rest;
  rest.positional.assign(a.positional.begin() + static_cast<std::ptrdiff_t>(std::min(next, a.positional.size())),
                         a.positional.end());
  List out;
  for (const Value& x : *items) {
    Value subject = x;
    if (by_attr) {
      auto y = attribute_path(ctx, x, attr);
      if (!y) return y;
      subject = std::move(*y);
    }
    bool pass = subject.truthy();
    if (!test.empty()) {
      auto t = apply_test(ctx, test, subject, rest);
      if (!t) return t.take_error();
      pass = *t;
    }
    if (pass == keep) out.push_back(x);
  }
  return generator(std::move(out));
}

Result<Value> min_max(const Value& v, bool want_max) {
  auto items = iterate(v);
  if (!items) return items.take_error();
  if (items->empty()) return Value::undefined("min/max of an empty sequence");
  Value best = items->front();
  for (const Value& x : *items) {
    auto c = compare(x, best);
    if (!c) return c.take_error();
    if (want_max ? *c > 0 : *c < 0) best = x;
  }
  return best;
}
}  // namespace

Result<Value> f_unique(Context& ctx, const Value& v, const Args& a) {
  auto items = iterate(v);
  if (!items) return items.take_error();
  const bool case_sensitive = flag(a, 0, "case_sensitive", false);
  const Value* attr = a.get(1, "attribute");
  List out, keys;
  uint64_t comparisons = 0;
  for (const Value& x : *items) {
    Value key = x;
    if (attr && attr->is_string()) {
      auto k = attribute_path(ctx, x, attr->text());
      if (!k) return k;
      key = std::move(*k);
    }
    if (!case_sensitive && key.is_string()) key = Value(py_lower(key.text()));
    bool seen = false;
    for (const Value& k : keys) {
      if ((++comparisons & 4095) == 0) LLMD_TRY(ctx.check_time());  // quadratic: bounded by the clock
      seen = seen || equals(k, key);
    }
    if (!seen) {
      keys.push_back(key);
      out.push_back(x);
    }
  }
  return Value(std::move(out));
}

Result<Value> f_map(Context& ctx, const Value& v, const Args& a) {
  if (!v.truthy()) return generator({});  // Jinja maps over nothing when the value is falsy (none too)
  auto items = iterate(v);
  if (!items) return items.take_error();
  List out;
  const Value* attr = nullptr;
  for (const auto& [k, x] : a.keyword) {
    if (k == "attribute") attr = &x;
  }
  if (attr) {
    const Value* dflt = nullptr;
    for (const auto& [k, x] : a.keyword) {
      if (k == "default") dflt = &x;
    }
    for (const Value& x : *items) {
      auto y = attribute_path(ctx, x, to_str(*attr));
      if (!y) return y;
      out.push_back(y->is_undefined() && dflt ? *dflt : std::move(*y));
    }
    return generator(std::move(out));
  }
  if (a.positional.empty() || !a.positional[0].is_string()) return eval_error("map() needs a filter name or attribute=");
  Args rest;
  rest.positional.assign(a.positional.begin() + 1, a.positional.end());
  rest.keyword = a.keyword;
  for (const Value& x : *items) {
    auto y = apply_filter(ctx, a.positional[0].text(), x, rest);
    if (!y) return y;
    out.push_back(std::move(*y));
  }
  return generator(std::move(out));
}

Result<Value> f_select(Context& c, const Value& v, const Args& a) { return select_impl(c, v, a, false, true); }
Result<Value> f_reject(Context& c, const Value& v, const Args& a) { return select_impl(c, v, a, false, false); }
Result<Value> f_selectattr(Context& c, const Value& v, const Args& a) { return select_impl(c, v, a, true, true); }
Result<Value> f_rejectattr(Context& c, const Value& v, const Args& a) { return select_impl(c, v, a, true, false); }

Result<Value> f_sort(Context& ctx, const Value& v, const Args& a) {
  auto items = iterate(v);
  if (!items) return items.take_error();
  const bool reverse = flag(a, 0, "reverse", false), case_sensitive = flag(a, 1, "case_sensitive", false);
  const Value* attr = a.get(2, "attribute");
  std::vector<std::pair<Value, Value>> keyed;
  for (const Value& x : *items) {
    Value k = x;
    if (attr && attr->is_string()) {
      auto y = attribute_path(ctx, x, attr->text());
      if (!y) return y;
      k = std::move(*y);
    }
    if (!case_sensitive && k.is_string()) k = Value(py_lower(k.text()));
    keyed.emplace_back(std::move(k), x);
  }
  Status failed;
  uint64_t comparisons = 0;
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& p, const auto& q) {
    if (!failed) return false;  // once failed, the sort finishes without work
    if ((++comparisons & 4095) == 0) {
      if (Status t = ctx.check_time(); !t) {
        failed = std::move(t);
        return false;
      }
    }
    auto c = compare(p.first, q.first);
    if (!c) {
      if (failed) failed = c.take_error();
      return false;
    }
    return reverse ? *c > 0 : *c < 0;
  });
  if (!failed) return failed.take_error();
  List out;
  for (auto& [k, x] : keyed) out.push_back(std::move(x));
  return Value(std::move(out));
}

Result<Value> f_sum(Context& ctx, const Value& v, const Args& a) {
  auto items = iterate(v);
  if (!items) return items.take_error();
  const Value* attr = a.get(0, "attribute");
  const Value* start = a.get(1, "start");
  Value acc = start ? *start : Value(0);
  for (const Value& x : *items) {
    Value y = x;
    if (attr && attr->is_string()) {
      auto z = attribute_path(ctx, x, attr->text());
      if (!z) return z;
      y = std::move(*z);
    }
    auto s = binary_operator(ctx, "+", acc, y);
    if (!s) return s;
    acc = std::move(*s);
  }
  return acc;
}

Result<Value> f_min(Context&, const Value& v, const Args&) { return min_max(v, false); }
Result<Value> f_max(Context&, const Value& v, const Args&) { return min_max(v, true); }

Result<Value> f_dictsort(Context&, const Value& v, const Args& a) {
  if (!v.is_dict()) return eval_error("dictsort() needs a mapping");
  std::vector<std::pair<std::string, Value>> items = v.dict().entries;
  const bool case_sensitive = flag(a, 0, "case_sensitive", false);
  const bool by_value = a.get(1, "by") && to_str(*a.get(1, "by")) == "value";
  const bool reverse = flag(a, 2, "reverse", false);
  std::stable_sort(items.begin(), items.end(), [&](const auto& p, const auto& q) {
    if (by_value) {
      auto c = compare(p.second, q.second);
      return c && (reverse ? *c > 0 : *c < 0);
    }
    const std::string x = case_sensitive ? p.first : py_lower(p.first);
    const std::string y = case_sensitive ? q.first : py_lower(q.first);
    return reverse ? x > y : x < y;
  });
  List out;
  for (auto& [k, x] : items) out.push_back(Value(List{Value(k), x}));
  return Value(std::move(out));
}

}  // namespace llmd::engine::jinja
