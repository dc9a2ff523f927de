#include "engine/jinja/value.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>

#include "engine/tokenizer/utf8.hpp"

namespace llmd::engine::jinja {

void Taint::add(size_t begin, size_t end) {
  if (begin >= end) return;
  if (!ranges.empty() && ranges.back().second >= begin && ranges.back().first <= begin) {
    ranges.back().second = std::max(ranges.back().second, end);
    return;
  }
  ranges.emplace_back(begin, end);
}

void Taint::append(const Taint& other, size_t offset) {
  for (const auto& [b, e] : other.ranges) add(b + offset, e + offset);
}

Taint Taint::slice(size_t begin, size_t end) const {
  Taint t;
  for (const auto& [b, e] : ranges) {
    const size_t lo = std::max(b, begin), hi = std::min(e, end);
    if (lo < hi) t.add(lo - begin, hi - begin);
  }
  return t;
}

namespace {

uint32_t items_depth(const List& l) {
  uint32_t d = 0;
  for (const Value& v : l) d = std::max(d, v.depth());
  return d + 1;
}

}  // namespace

Value::Value(List l) : depth_(items_depth(l)) { v_ = std::make_shared<const List>(std::move(l)); }

Value::Value(std::shared_ptr<Dict> d) : depth_(1) {
  if (!d->is_namespace) {
    for (const auto& [k, v] : d->entries) depth_ = std::max(depth_, v.depth() + 1);
  }
  v_ = std::move(d);
}

Value::Value(std::shared_ptr<const Generator> g) : depth_(items_depth(g->items)) { v_ = std::move(g); }

Value Value::tainted(std::string s) {
  Str str{std::move(s), {}};
  str.taint.add(0, str.text.size());
  return Value(std::move(str));
}

const std::string& Value::undefined_hint() const {
  static const std::string empty;
  const auto& h = std::get<Undefined>(v_).hint;
  return h ? *h : empty;
}

bool Value::truthy() const {
  if (is_undefined() || is_none()) return false;
  if (is_bool()) return as_bool();
  if (is_int()) return as_int() != 0;
  if (is_float()) return as_float() != 0.0;
  if (is_string()) return !text().empty();
  if (is_list()) return !list().empty();
  if (is_dict()) return dict().is_namespace || !dict().entries.empty();
  return true;
}

std::string Value::type_name() const {
  if (is_undefined()) return "Undefined";
  if (is_none()) return "NoneType";
  if (is_bool()) return "bool";
  if (is_int()) return "int";
  if (is_float()) return "float";
  if (is_string()) return "str";
  if (is_list()) return "list";
  if (is_dict()) return dict().is_namespace ? "Namespace" : dict().is_loop ? "LoopContext" : "dict";
  if (is_generator()) return "generator";
  return "function";
}

const Value* Dict::find(std::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k == key) return &v;
  }
  return nullptr;
}

void Dict::set(std::string key, Value v) {
  for (auto& [k, old] : entries) {
    if (k == key) {
      old = std::move(v);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(v));
}

const Value* Args::get(size_t index, std::string_view name) const {
  for (const auto& [k, v] : keyword) {
    if (k == name) return &v;
  }
  return index < positional.size() ? &positional[index] : nullptr;
}

std::shared_ptr<const Callable> make_callable(std::string name,
                                              std::function<Result<Value>(Context&, const Args&)> fn) {
  return std::make_shared<const Callable>(Callable{std::move(name), std::move(fn)});
}

std::string float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // "-1.2345e+05": shortest digits that round-trip
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  const size_t e = sci.find('e');
  std::string digits = sci.substr(0, e);
  const int exp = std::atoi(sci.c_str() + e + 1);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  // Python's repr: fixed notation when -4 <= exponent < 16, else scientific.
  if (exp >= -4 && exp < 16) {
    std::string out;
    if (exp < 0) {
      out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    } else if (static_cast<size_t>(exp) + 1 >= digits.size()) {
      out = digits + std::string(static_cast<size_t>(exp) + 1 - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, static_cast<size_t>(exp) + 1) + "." + digits.substr(static_cast<size_t>(exp) + 1);
    }
    return sign + out;
  }
  std::string mant = digits.substr(0, 1);
  if (digits.size() > 1) mant += "." + digits.substr(1);
  char ebuf[16];
  std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
  return sign + mant + ebuf;
}

namespace {

std::string string_repr(std::string_view s) {
  // Python picks single quotes unless the text has ' and no ".
  const bool dq = s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos;
  const char q = dq ? '"' : '\'';
  std::string out(1, q);
  for (unsigned char c : s) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c == static_cast<unsigned char>(q)) {
          out += '\\';
          out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f) {
          char buf[16];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + q;
}

}  // namespace

namespace {

// Work bounds of the recursive walks below. Values can share structure (a
// list holding the same list twice, many levels deep), so a walk is bounded
// by the nodes it visits and the text it writes, not by the value's depth.
constexpr size_t kMaxVisits = 1u << 20;

void repr_into(const Value& v, std::string& out) {
  if (out.size() > kMaxPrintedBytes) return;
  if (v.is_string()) {
    out += string_repr(v.text());
  } else if (v.is_list()) {
    out += '[';
    for (size_t i = 0; i < v.list().size() && out.size() <= kMaxPrintedBytes; ++i) {
      if (i) out += ", ";
      repr_into(v.list()[i], out);
    }
    out += ']';
  } else if (v.is_dict() && !v.dict().is_namespace && !v.dict().is_loop) {
    out += '{';
    bool first = true;
    for (const auto& [k, x] : v.dict().entries) {
      if (out.size() > kMaxPrintedBytes) break;
      out += (first ? "" : ", ") + string_repr(k) + ": ";
      repr_into(x, out);
      first = false;
    }
    out += '}';
  } else {
    out += to_str(v);
  }
}

bool taint_in(const Value& v, size_t& visits) {
  if (++visits > kMaxVisits) return true;  // too large to look through: taken as tainted
  if (v.is_string()) return !v.str().taint.empty();
  if (v.is_list() || v.is_generator()) {
    for (const Value& x : v.is_list() ? v.list() : v.generator().items) {
      if (taint_in(x, visits)) return true;
    }
  }
  if (v.is_dict() && !v.dict().is_namespace) {
    for (const auto& [k, x] : v.dict().entries) {
      if (taint_in(x, visits)) return true;
    }
  }
  return false;
}

// nullopt: the walk ran out of visits.
std::optional<bool> equal_in(const Value& a, const Value& b, size_t& visits) {
  if (++visits > kMaxVisits) return std::nullopt;
  if ((a.is_number() || a.is_bool()) && (b.is_number() || b.is_bool())) {
    if (a.is_int() && b.is_int()) return a.as_int() == b.as_int();
    return a.as_number() == b.as_number();
  }
  if (a.is_string() && b.is_string()) return a.text() == b.text();
  if (a.is_none() && b.is_none()) return true;
  if (a.is_undefined() && b.is_undefined()) return true;
  if (a.is_list() && b.is_list()) {
    if (&a.list() == &b.list()) return true;
    if (a.list().size() != b.list().size()) return false;
    for (size_t i = 0; i < a.list().size(); ++i) {
      auto e = equal_in(a.list()[i], b.list()[i], visits);
      if (!e || !*e) return e;
    }
    return true;
  }
  if (a.is_dict() && b.is_dict()) {
    if (a.dict_ptr() == b.dict_ptr()) return true;
    if (a.dict().is_namespace || b.dict().is_namespace) return false;
    if (a.dict().entries.size() != b.dict().entries.size()) return false;
    for (const auto& [k, x] : a.dict().entries) {
      const Value* y = b.dict().find(k);
      if (!y) return false;
      auto e = equal_in(x, *y, visits);
      if (!e || !*e) return e;
    }
    return true;
  }
  if (a.is_callable() && b.is_callable()) return &a.callable() == &b.callable();
  return false;
}

Error too_large() { return Error(ErrorCode::chat_template_limit, "values too large to compare"); }

Result<int> compare_in(const Value& a, const Value& b, size_t& visits) {
  if (++visits > kMaxVisits) return too_large();
  if ((a.is_number() || a.is_bool()) && (b.is_number() || b.is_bool())) {
    if (a.is_int() && b.is_int()) return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int() ? 1 : 0;
    const double x = a.as_number(), y = b.as_number();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.text().compare(b.text());  // UTF-8 byte order is code point order
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_list() && b.is_list()) {
    const List& x = a.list();
    const List& y = b.list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      auto e = equal_in(x[i], y[i], visits);
      if (!e) return too_large();
      if (*e) continue;
      return compare_in(x[i], y[i], visits);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  return Error(ErrorCode::chat_template_error,
               "'<' not supported between instances of '" + a.type_name() + "' and '" + b.type_name() + "'");
}

}  // namespace

std::string to_repr(const Value& v) {
  std::string out;
  repr_into(v, out);
  return out;
}

std::string to_str(const Value& v) {
  if (v.is_undefined()) return "";
  if (v.is_none()) return "None";
  if (v.is_bool()) return v.as_bool() ? "True" : "False";
  if (v.is_int()) return std::to_string(v.as_int());
  if (v.is_float()) return float_repr(v.as_float());
  if (v.is_string()) return v.text();
  if (v.is_callable()) return "<function " + v.callable().name + ">";
  if (v.is_generator()) return "<generator object>";
  // A namespace may hold itself, so its contents are not printed.
  if (v.is_dict() && v.dict().is_namespace) return "<Namespace>";
  if (v.is_dict() && v.dict().is_loop) return "<LoopContext>";
  return to_repr(v);
}

bool any_taint(const Value& v) {
  size_t visits = 0;
  return taint_in(v, visits);
}

Str to_str_tainted(const Value& v) {
  if (v.is_string()) return v.str();
  Str s{to_str(v), {}};
  if (any_taint(v)) s.taint.add(0, s.text.size());
  return s;
}

bool equals(const Value& a, const Value& b) {
  size_t visits = 0;
  return equal_in(a, b, visits).value_or(false);
}

Result<int> compare(const Value& a, const Value& b) {
  size_t visits = 0;
  return compare_in(a, b, visits);
}

size_t code_point_count(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++n) {
    uint32_t cp = 0;
    const size_t len = utf8::decode(s, i, &cp);
    i += len ? len : 1;
  }
  return n;
}

std::vector<size_t> code_point_offsets(std::string_view s) {
  std::vector<size_t> offs;
  offs.reserve(s.size() + 1);
  for (size_t i = 0; i < s.size();) {
    offs.push_back(i);
    uint32_t cp = 0;
    const size_t len = utf8::decode(s, i, &cp);
    i += len ? len : 1;
  }
  offs.push_back(s.size());
  return offs;
}

}  // namespace llmd::engine::jinja
