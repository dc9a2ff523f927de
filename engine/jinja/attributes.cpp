// obj.name, obj[key], obj[a:b:c], and the methods of strings, dicts and
// lists that templates call. Lookups that find nothing give Undefined (as
// Jinja's getattr/getitem do); only Undefined itself refuses them.
#include <algorithm>

#include "engine/jinja/builtins.hpp"
#include "engine/jinja/evaluator.hpp"
#include "engine/jinja/py_string.hpp"

namespace llmd::engine::jinja {
namespace {

Value sub(const Value& s, size_t b, size_t e) {
  return Value(Str{s.text().substr(b, e - b), s.str().taint.slice(b, e)});
}

// A new string computed from `from`: tainted as a whole when any input was.
Value derived(std::string text, bool tainted) {
  return tainted ? Value::tainted(std::move(text)) : Value(std::move(text));
}

Result<std::optional<std::string>> opt_string(const Args& a, size_t i, const char* name, const char* method) {
  const Value* v = a.get(i, name);
  if (!v || v->is_none()) return std::optional<std::string>();
  if (!v->is_string()) return eval_error(std::string(method) + "() argument must be str or None");
  return std::optional<std::string>(v->text());
}

int64_t opt_int(const Args& a, size_t i, const char* name, int64_t fallback) {
  const Value* v = a.get(i, name);
  return v && v->is_int() ? v->as_int() : fallback;
}

Result<Value> str_format(const Value& self, const Args& a) {
  const std::string& f = self.text();
  std::string out;
  bool tainted = !self.str().taint.empty();
  size_t auto_index = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    const char c = f[i];
    if (c == '}' && i + 1 < f.size() && f[i + 1] == '}') {
      out += '}';
      ++i;
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    const size_t end = f.find('}', i);
    if (end == std::string::npos) return eval_error("Single '{' encountered in format string");
    const std::string field = f.substr(i + 1, end - i - 1);
    if (field.find_first_of(":!.[") != std::string::npos) return eval_error("format specs are not supported in format()");
    const Value* v = nullptr;
    if (field.empty()) {
      v = auto_index < a.positional.size() ? &a.positional[auto_index] : nullptr;
      ++auto_index;
    } else if (field.find_first_not_of("0123456789") == std::string::npos) {
      const size_t k = std::stoul(field.substr(0, 9));
      v = k < a.positional.size() ? &a.positional[k] : nullptr;
    } else {
      for (const auto& [k, x] : a.keyword) {
        if (k == field) v = &x;
      }
    }
    if (!v) return eval_error("format(): no argument for field '{" + field + "}'");
    out += to_str(*v);
    tainted = tainted || any_taint(*v);
    i = end;
  }
  return derived(std::move(out), tainted);
}

Result<Value> affix_test(const Value& self, const Args& a, bool prefix) {
  const Value* arg = a.get(0, "prefix");
  if (!arg) return eval_error(std::string(prefix ? "startswith" : "endswith") + "() takes at least 1 argument");
  std::vector<std::string> options;
  if (arg->is_string()) {
    options.push_back(arg->text());
  } else if (arg->is_list()) {
    for (const Value& x : arg->list()) {
      if (x.is_string()) options.push_back(x.text());
    }
  } else {
    return eval_error("startswith/endswith first arg must be str or a tuple of str");
  }
  const std::string& s = self.text();
  for (const std::string& o : options) {
    if (o.size() <= s.size() && (prefix ? s.compare(0, o.size(), o) == 0 : s.compare(s.size() - o.size(), o.size(), o) == 0)) {
      return Value(true);
    }
  }
  return Value(false);
}

Result<Value> string_method(Context& ctx, const Value& self, const std::string& name, const Args& a) {
  const std::string& s = self.text();
  const bool tainted = !self.str().taint.empty();
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    auto chars = opt_string(a, 0, "chars", name.c_str());
    if (!chars) return chars.take_error();
    const Span sp = py_strip_span(s, *chars, name != "rstrip", name != "lstrip");
    return sub(self, sp.begin, sp.end);
  }
  if (name == "split" || name == "rsplit") {
    auto sep = opt_string(a, 0, "sep", name.c_str());
    if (!sep) return sep.take_error();
    if (*sep && (*sep)->empty()) return eval_error("empty separator");
    const int64_t maxsplit = name == "rsplit" ? -1 : opt_int(a, 1, "maxsplit", -1);
    List out;
    for (const Span& sp : py_split(s, *sep, maxsplit)) out.push_back(sub(self, sp.begin, sp.end));
    return Value(std::move(out));
  }
  if (name == "startswith" || name == "endswith") return affix_test(self, a, name == "startswith");
  if (name == "upper") return derived(py_upper(s), tainted);
  if (name == "lower") return derived(py_lower(s), tainted);
  if (name == "title") return derived(py_title(s), tainted);
  if (name == "capitalize") return derived(py_capitalize(s), tainted);
  if (name == "replace") {
    const Value* from = a.get(0, "old");
    const Value* to = a.get(1, "new");
    if (!from || !to || !from->is_string() || !to->is_string()) return eval_error("replace() takes two strings");
    std::string r = py_replace(s, from->text(), to->text(), opt_int(a, 2, "count", -1));
    LLMD_TRY(ctx.allocate(r.size()));
    return derived(std::move(r), tainted || any_taint(*to));
  }
  if (name == "find" || name == "count") {
    const Value* x = a.get(0, "sub");
    if (!x || !x->is_string()) return eval_error(name + "() takes a string");
    if (name == "find") {
      const size_t at = s.find(x->text());
      return Value(at == std::string::npos ? int64_t{-1} : static_cast<int64_t>(code_point_count(s.substr(0, at))));
    }
    if (x->text().empty()) return Value(static_cast<int64_t>(code_point_count(s) + 1));
    int64_t n = 0;
    for (size_t p = s.find(x->text()); p != std::string::npos; p = s.find(x->text(), p + x->text().size())) ++n;
    return Value(n);
  }
  if (name == "format") return str_format(self, a);
  if (name == "join") {
    const Value* seq = a.get(0, "iterable");
    if (!seq) return eval_error("join() takes one argument");
    auto items = iterate(*seq);
    if (!items) return items.take_error();
    Str out;
    for (size_t i = 0; i < items->size(); ++i) {
      if (!(*items)[i].is_string()) return eval_error("sequence item " + std::to_string(i) + ": expected str instance");
      if (i) append(out, self.str());
      append(out, (*items)[i].str());
      LLMD_TRY(ctx.check_size(out.text.size()));
    }
    LLMD_TRY(ctx.allocate(out.text.size()));
    return Value(std::move(out));
  }
  if (name == "isdigit" || name == "isspace" || name == "isalpha" || name == "isalnum") {
    if (s.empty()) return Value(false);
    for (unsigned char c : s) {
      const bool ok = name == "isdigit"   ? (c >= '0' && c <= '9')
                      : name == "isspace" ? (c == ' ' || (c >= '\t' && c <= '\r'))
                      : name == "isalpha" ? std::isalpha(c) != 0
                                          : std::isalnum(c) != 0;
      if (!ok) return Value(false);
    }
    return Value(true);
  }
  return eval_error("'str' object has no method '" + name + "'");
}

Result<Value> dict_method(const Value& self, const std::string& name, const Args& a) {
  const Dict& d = self.dict();
  if (name == "items" || name == "keys" || name == "values") {
    List out;
    for (const auto& [k, v] : d.entries) {
      if (name == "items") out.push_back(Value(List{Value(k), v}));
      else if (name == "keys") out.push_back(Value(k));
      else out.push_back(v);
    }
    return Value(std::move(out));
  }
  if (name == "get") {
    const Value* key = a.get(0, "key");
    if (!key) return eval_error("get() takes at least 1 argument");
    if (key->is_string()) {
      if (const Value* v = d.find(key->text())) return *v;
    }
    const Value* fallback = a.get(1, "default");
    return fallback ? *fallback : Value(None{});
  }
  return eval_error("'dict' object has no method '" + name + "'");
}

bool is_string_method(const std::string& n) {
  static const char* const kNames[] = {"strip", "lstrip", "rstrip", "split", "rsplit", "startswith", "endswith",
                                       "upper", "lower", "title", "capitalize", "replace", "find", "count",
                                       "format", "join", "isdigit", "isspace", "isalpha", "isalnum"};
  return std::find(std::begin(kNames), std::end(kNames), n) != std::end(kNames);
}

bool is_dict_method(const std::string& n) { return n == "items" || n == "keys" || n == "values" || n == "get"; }

// Methods that change a list or dict: refused, as in Jinja's immutable sandbox.
bool is_mutating_method(const Value& obj, const std::string& n) {
  if (obj.is_list()) {
    return n == "append" || n == "extend" || n == "insert" || n == "pop" || n == "remove" || n == "clear" ||
           n == "sort" || n == "reverse";
  }
  return obj.is_dict() && !obj.dict().is_namespace && !obj.dict().is_loop &&
         (n == "update" || n == "pop" || n == "popitem" || n == "setdefault" || n == "clear");
}

Value bound(const Value& self, const std::string& name, bool is_string) {
  return Value(make_callable(name, [self, name, is_string](Context& ctx, const Args& a) -> Result<Value> {
    return is_string ? string_method(ctx, self, name, a) : dict_method(self, name, a);
  }));
}

// Python's slice.indices(): the clamped start/stop/step for a length.
struct Slice {
  int64_t start, stop, step;
};
Result<Slice> slice_indices(const Value& start, const Value& stop, const Value& step, int64_t len) {
  for (const Value* v : {&start, &stop, &step}) {
    if (!v->is_none() && !v->is_int()) return eval_error("slice indices must be integers or None");
  }
  Slice s{0, 0, step.is_none() ? 1 : step.as_int()};
  if (s.step == 0) return eval_error("slice step cannot be zero");
  auto clamp = [&](const Value& v, int64_t fallback) {
    if (v.is_none()) return fallback;
    int64_t i = v.as_int();
    if (i < 0) i += len;
    if (s.step > 0) return std::clamp<int64_t>(i, 0, len);
    return std::clamp<int64_t>(i, -1, len - 1);
  };
  s.start = clamp(start, s.step > 0 ? 0 : len - 1);
  s.stop = clamp(stop, s.step > 0 ? len : -1);
  return s;
}

}  // namespace

Result<Value> get_attribute(Context&, const Value& obj, const std::string& name) {
  if (obj.is_undefined()) return eval_error(obj.undefined_hint());
  if (is_mutating_method(obj, name)) {
    return eval_error("access to attribute '" + name + "' of '" + obj.type_name() + "' object is unsafe");
  }
  if (obj.is_dict()) {
    const Dict& d = obj.dict();
    if (!d.is_namespace && !d.is_loop && is_dict_method(name)) return bound(obj, name, false);
    if (const Value* v = d.find(name)) return *v;
    return Value::undefined("'" + obj.type_name() + " object' has no attribute '" + name + "'");
  }
  if (obj.is_string() && is_string_method(name)) return bound(obj, name, true);
  return Value::undefined("'" + obj.type_name() + " object' has no attribute '" + name + "'");
}

Result<Value> get_item(Context& ctx, const Value& obj, const Value& key) {
  if (obj.is_undefined()) return eval_error(obj.undefined_hint());
  if (obj.is_dict() && key.is_string()) {
    if (const Value* v = obj.dict().find(key.text())) return *v;
  }
  if ((obj.is_list() || obj.is_string()) && (key.is_int() || key.is_bool())) {
    int64_t i = key.is_bool() ? key.as_bool() : key.as_int();
    if (obj.is_list()) {
      const auto n = static_cast<int64_t>(obj.list().size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return obj.list()[static_cast<size_t>(i)];
    } else {
      const std::vector<size_t> offs = code_point_offsets(obj.text());
      const auto n = static_cast<int64_t>(offs.size()) - 1;
      if (i < 0) i += n;
      if (i >= 0 && i < n) return sub(obj, offs[static_cast<size_t>(i)], offs[static_cast<size_t>(i) + 1]);
    }
  }
  if (key.is_string()) return get_attribute(ctx, obj, key.text());
  return Value::undefined("'" + obj.type_name() + " object' has no item " + to_repr(key));
}

Result<Value> get_slice(Context&, const Value& obj, const Value& start, const Value& stop, const Value& step) {
  if (obj.is_undefined()) return eval_error(obj.undefined_hint());
  if (obj.is_list()) {
    const List& l = obj.list();
    auto s = slice_indices(start, stop, step, static_cast<int64_t>(l.size()));
    if (!s) return s.take_error();
    List out;
    for (int64_t i = s->start; s->step > 0 ? i < s->stop : i > s->stop; i += s->step) out.push_back(l[static_cast<size_t>(i)]);
    return Value(std::move(out));
  }
  if (obj.is_string()) {
    const std::vector<size_t> offs = code_point_offsets(obj.text());
    auto s = slice_indices(start, stop, step, static_cast<int64_t>(offs.size()) - 1);
    if (!s) return s.take_error();
    if (s->step == 1) return sub(obj, offs[static_cast<size_t>(s->start)], offs[static_cast<size_t>(std::max(s->start, s->stop))]);
    Str out;
    for (int64_t i = s->start; s->step > 0 ? i < s->stop : i > s->stop; i += s->step) {
      const Value c = sub(obj, offs[static_cast<size_t>(i)], offs[static_cast<size_t>(i) + 1]);
      append(out, c.str());
    }
    return Value(std::move(out));
  }
  return eval_error("'" + obj.type_name() + "' object is not subscriptable");
}

}  // namespace llmd::engine::jinja
