// The filters: `value | name(args)`, with Jinja2's signatures and Hugging
// Face's tojson (json.dumps with ensure_ascii=False).
#include <algorithm>
#include <cmath>
#include <map>

#include "engine/jinja/builtins.hpp"
#include "engine/jinja/filters_sequence.hpp"
#include "engine/jinja/evaluator.hpp"
#include "engine/jinja/json.hpp"
#include "engine/jinja/py_string.hpp"

namespace llmd::engine::jinja {
namespace {

using FilterFn = Result<Value> (*)(Context&, const Value&, const Args&);

Value derived(std::string text, bool tainted) {
  return tainted ? Value::tainted(std::move(text)) : Value(std::move(text));
}

bool flag(const Args& a, size_t i, const char* name, bool fallback) {
  const Value* v = a.get(i, name);
  return v ? v->truthy() : fallback;
}

Result<Value> f_tojson(Context& ctx, const Value& v, const Args& a) {
  JsonFormat f;
  if (flag(a, 0, "ensure_ascii", false)) f.ensure_ascii = true;
  if (const Value* ind = a.get(1, "indent"); ind && !ind->is_none()) {
    if (ind->is_int()) f.indent = std::string(static_cast<size_t>(std::clamp<int64_t>(ind->as_int(), 0, 64)), ' ');
    else if (ind->is_string()) f.indent = ind->text();
    f.item_separator = ",";
  }
  if (const Value* sep = a.get(2, "separators"); sep && sep->is_list() && sep->list().size() == 2) {
    f.item_separator = to_str(sep->list()[0]);
    f.key_separator = to_str(sep->list()[1]);
  }
  f.sort_keys = flag(a, 3, "sort_keys", false);
  auto s = to_json(v, f);
  if (!s) return s.take_error();
  LLMD_TRY(ctx.allocate(s->text.size()));
  return Value(std::move(*s));
}

Result<Value> f_trim(Context&, const Value& v, const Args& a) {
  const Str s = to_str_tainted(v);
  std::optional<std::string> chars;
  if (const Value* c = a.get(0, "chars"); c && c->is_string()) chars = c->text();
  const Span sp = py_strip_span(s.text, chars, true, true);
  return Value(Str{s.text.substr(sp.begin, sp.end - sp.begin), s.taint.slice(sp.begin, sp.end)});
}

Result<Value> f_length(Context&, const Value& v, const Args&) {
  if (v.is_string()) return Value(static_cast<int64_t>(code_point_count(v.text())));
  if (v.is_list()) return Value(static_cast<int64_t>(v.list().size()));
  if (v.is_dict() && !v.dict().is_namespace) return Value(static_cast<int64_t>(v.dict().entries.size()));
  if (v.is_undefined()) return Value(0);
  return eval_error("object of type '" + v.type_name() + "' has no len()");
}

Result<Value> f_first(Context&, const Value& v, const Args&) {
  auto items = iterate(v);
  if (!items) return items.take_error();
  return items->empty() ? Value::undefined("first() of an empty sequence") : items->front();
}

Result<Value> f_last(Context&, const Value& v, const Args&) {
  auto items = iterate(v);
  if (!items) return items.take_error();
  return items->empty() ? Value::undefined("last() of an empty sequence") : items->back();
}

Result<Value> f_list(Context&, const Value& v, const Args&) {
  auto items = iterate(v);
  if (!items) return items.take_error();
  return Value(std::move(*items));
}

Result<Value> f_join(Context& ctx, const Value& v, const Args& a) {
  auto items = iterate(v);
  if (!items) return items.take_error();
  const Value* sep = a.get(0, "d");
  const Str sep_s = sep ? to_str_tainted(*sep) : Str{};
  const Value* attr = a.get(1, "attribute");
  Str out;
  for (size_t i = 0; i < items->size(); ++i) {
    Value x = (*items)[i];
    if (attr && attr->is_string()) {
      auto y = attribute_path(ctx, x, attr->text());
      if (!y) return y;
      x = std::move(*y);
    }
    if (i) append(out, sep_s);
    append(out, to_str_tainted(x));
    LLMD_TRY(ctx.check_size(out.text.size()));
  }
  LLMD_TRY(ctx.allocate(out.text.size()));
  return Value(std::move(out));
}

Result<Value> f_upper(Context&, const Value& v, const Args&) { return derived(py_upper(to_str(v)), any_taint(v)); }
Result<Value> f_lower(Context&, const Value& v, const Args&) { return derived(py_lower(to_str(v)), any_taint(v)); }
Result<Value> f_title(Context&, const Value& v, const Args&) { return derived(py_title(to_str(v)), any_taint(v)); }
Result<Value> f_capitalize(Context&, const Value& v, const Args&) {
  return derived(py_capitalize(to_str(v)), any_taint(v));
}

Result<Value> f_default(Context&, const Value& v, const Args& a) {
  const Value* d = a.get(0, "default_value");
  const bool boolean = flag(a, 1, "boolean", false);
  if (v.is_undefined() || (boolean && !v.truthy())) return d ? *d : Value(std::string());
  return v;
}

Result<Value> f_items(Context& ctx, const Value& v, const Args&) {
  if (v.is_undefined()) return Value(List{});
  if (!v.is_dict()) return eval_error("can only get item pairs from a mapping");
  List out;
  for (const auto& [k, x] : v.dict().entries) out.push_back(Value(List{Value(k), x}));
  (void)ctx;
  return Value(std::move(out));
}

Result<Value> f_string(Context& ctx, const Value& v, const Args&) {
  Str s = to_str_tainted(v);
  if (!v.is_string()) LLMD_TRY(ctx.allocate(s.text.size()));
  return Value(std::move(s));
}

Result<Value> f_int(Context&, const Value& v, const Args& a) {
  const Value* d = a.get(0, "default");
  const Value fallback = d ? *d : Value(0);
  if (v.is_int()) return v;
  if (v.is_bool()) return Value(static_cast<int64_t>(v.as_bool()));
  if (v.is_float()) {
    if (!std::isfinite(v.as_float()) || std::fabs(v.as_float()) > 9.2e18) return fallback;
    return Value(static_cast<int64_t>(v.as_float()));
  }
  if (v.is_string()) {
    const std::string& s = v.text();
    const Span sp = py_strip_span(s, std::nullopt, true, true);
    const std::string t = s.substr(sp.begin, sp.end - sp.begin);
    char* end = nullptr;
    errno = 0;
    const long long i = std::strtoll(t.c_str(), &end, 10);
    if (!t.empty() && end == t.c_str() + t.size() && errno == 0) return Value(static_cast<int64_t>(i));
    const double dd = std::strtod(t.c_str(), &end);
    if (!t.empty() && end == t.c_str() + t.size() && std::isfinite(dd) && std::fabs(dd) < 9.2e18) {
      return Value(static_cast<int64_t>(dd));
    }
  }
  return fallback;
}

Result<Value> f_float(Context&, const Value& v, const Args& a) {
  const Value* d = a.get(0, "default");
  const Value fallback = d ? *d : Value(0.0);
  if (v.is_number() || v.is_bool()) return Value(v.as_number());
  if (v.is_string()) {
    const std::string& s = v.text();
    char* end = nullptr;
    const double dd = std::strtod(s.c_str(), &end);
    if (!s.empty() && end == s.c_str() + s.size()) return Value(dd);
  }
  return fallback;
}

Result<Value> f_replace(Context& ctx, const Value& v, const Args& a) {
  const Value* from = a.get(0, "old");
  const Value* to = a.get(1, "new");
  if (!from || !to) return eval_error("replace() takes two arguments");
  const Value* count = a.get(2, "count");
  std::string r = py_replace(to_str(v), to_str(*from), to_str(*to), count && count->is_int() ? count->as_int() : -1);
  LLMD_TRY(ctx.allocate(r.size()));
  return derived(std::move(r), any_taint(v) || any_taint(*to));
}

// Python's str.splitlines() on the separators templates meet.
std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> lines;
  std::string cur;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    size_t skip = 0;
    if (c == '\n' || c == '\v' || c == '\f' || c == '\x1c' || c == '\x1d' || c == '\x1e') skip = 1;
    else if (c == '\r') skip = (i + 1 < s.size() && s[i + 1] == '\n') ? 2 : 1;
    else if (s.compare(i, 2, "\xC2\x85") == 0) skip = 2;
    else if (s.compare(i, 3, "\xE2\x80\xA8") == 0 || s.compare(i, 3, "\xE2\x80\xA9") == 0) skip = 3;
    if (skip) {
      lines.push_back(std::move(cur));
      cur.clear();
      i += skip - 1;
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) lines.push_back(std::move(cur));
  return lines;
}

Result<Value> f_indent(Context& ctx, const Value& v, const Args& a) {
  const Value* w = a.get(0, "width");
  std::string pad = w && w->is_string() ? w->text() : std::string(static_cast<size_t>(std::clamp<int64_t>(w && w->is_int() ? w->as_int() : 4, 0, 256)), ' ');
  const bool first = flag(a, 1, "first", false), blank = flag(a, 2, "blank", false);
  std::vector<std::string> lines = split_lines(to_str(v) + "\n");
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) out += "\n";
    if (i && (blank || !lines[i].empty())) out += pad;
    out += lines[i];
    LLMD_TRY(ctx.check_size(out.size()));
  }
  if (first) out = pad + out;
  LLMD_TRY(ctx.allocate(out.size()));
  return derived(std::move(out), any_taint(v));
}

Result<Value> f_reverse(Context&, const Value& v, const Args&) {
  if (v.is_string()) {
    const std::vector<size_t> offs = code_point_offsets(v.text());
    std::string out;
    for (size_t i = offs.size() - 1; i > 0; --i) out += v.text().substr(offs[i - 1], offs[i] - offs[i - 1]);
    return derived(std::move(out), any_taint(v));
  }
  auto items = iterate(v);
  if (!items) return items.take_error();
  std::reverse(items->begin(), items->end());
  return Value(std::move(*items));
}

Result<Value> f_abs(Context&, const Value& v, const Args&) {
  if (v.is_int()) return v.as_int() == INT64_MIN ? Result<Value>(eval_error("integer overflow")) : Value(static_cast<int64_t>(std::llabs(v.as_int())));
  if (v.is_float()) return Value(std::fabs(v.as_float()));
  return eval_error("bad operand type for abs(): '" + v.type_name() + "'");
}

Result<Value> f_round(Context&, const Value& v, const Args& a) {
  if (!v.is_number()) return eval_error("round() needs a number");
  const Value* p = a.get(0, "precision");
  const int64_t prec = p && p->is_int() ? std::clamp<int64_t>(p->as_int(), -20, 20) : 0;
  const Value* m = a.get(1, "method");
  const std::string method = m ? to_str(*m) : "common";
  const double scale = std::pow(10.0, static_cast<double>(prec));
  const double x = v.as_number() * scale;
  const double r = method == "ceil" ? std::ceil(x) : method == "floor" ? std::floor(x) : std::round(x);
  return Value(r / scale);
}

Result<Value> f_safe(Context&, const Value& v, const Args&) {
  Str s = to_str_tainted(v);
  s.markup = true;
  return Value(std::move(s));
}

Result<Value> f_escape(Context&, const Value& v, const Args&) { return Value(html_escape(to_str_tainted(v))); }

Result<Value> f_forceescape(Context&, const Value& v, const Args&) {
  Str s = to_str_tainted(v);
  s.markup = false;
  return Value(html_escape(s));
}

Result<Value> f_attr(Context& ctx, const Value& v, const Args& a) {
  const Value* n = a.get(0, "name");
  if (!n) return eval_error("attr() takes a name");
  return get_attribute(ctx, v, to_str(*n));
}

// "%s" / "%d" / "%%" formatting with positional arguments.
Result<Value> f_format(Context&, const Value& v, const Args& a) {
  const std::string f = to_str(v);
  std::string out;
  size_t next = 0;
  bool tainted = any_taint(v);
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%' || i + 1 >= f.size()) {
      out += f[i];
      continue;
    }
    const char spec = f[++i];
    if (spec == '%') {
      out += '%';
      continue;
    }
    if (next >= a.positional.size()) return eval_error("not enough arguments for format string");
    const Value& x = a.positional[next++];
    if (spec == 's') out += to_str(x);
    else if (spec == 'r') out += to_repr(x);
    else if (spec == 'd' && (x.is_number() || x.is_bool())) out += std::to_string(static_cast<int64_t>(x.as_number()));
    else return eval_error(std::string("unsupported format character '") + spec + "'");
    tainted = tainted || any_taint(x);
  }
  return derived(std::move(out), tainted);
}

Result<Value> f_wordcount(Context&, const Value& v, const Args&) {
  return Value(static_cast<int64_t>(py_split(to_str(v), std::nullopt, -1).size()));
}

const std::map<std::string, FilterFn, std::less<>>& filters() {
  static const std::map<std::string, FilterFn, std::less<>> m = {
      {"abs", f_abs},         {"attr", f_attr},       {"capitalize", f_capitalize}, {"count", f_length},
      {"d", f_default},       {"default", f_default}, {"dictsort", f_dictsort},     {"e", f_escape},
      {"escape", f_escape},   {"first", f_first},     {"float", f_float},           {"forceescape", f_forceescape},
      {"format", f_format},   {"indent", f_indent},   {"int", f_int},               {"items", f_items},
      {"join", f_join},       {"last", f_last},       {"length", f_length},         {"list", f_list},
      {"lower", f_lower},     {"map", f_map},         {"max", f_max},               {"min", f_min},
      {"reject", f_reject},   {"rejectattr", f_rejectattr}, {"replace", f_replace}, {"reverse", f_reverse},
      {"round", f_round},     {"safe", f_safe},       {"select", f_select},         {"selectattr", f_selectattr},
      {"sort", f_sort},       {"string", f_string},   {"sum", f_sum},               {"title", f_title},
      {"tojson", f_tojson},   {"trim", f_trim},       {"unique", f_unique},         {"upper", f_upper},
      {"wordcount", f_wordcount},
  };
  return m;
}

}  // namespace

bool has_filter(const std::string& name) { return filters().count(name) > 0; }

Result<Value> apply_filter(Context& ctx, const std::string& name, const Value& input, const Args& args) {
  auto it = filters().find(name);
  if (it == filters().end()) return eval_error("no filter named '" + name + "'");
  return it->second(ctx, input, args);
}

}  // namespace llmd::engine::jinja
