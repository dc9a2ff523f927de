// Python's binary operators on template values, `in`, and iteration.
#include <cmath>

#include "engine/jinja/builtins.hpp"

namespace llmd::engine::jinja {
namespace {

Error type_error(const std::string& op, const Value& a, const Value& b) {
  return eval_error("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'");
}

bool numeric(const Value& v) { return v.is_number() || v.is_bool(); }
int64_t as_i(const Value& v) { return v.is_bool() ? v.as_bool() : v.as_int(); }
bool integral(const Value& v) { return v.is_int() || v.is_bool(); }

Result<Value> arithmetic(const std::string& op, const Value& a, const Value& b) {
  if (integral(a) && integral(b)) {
    const int64_t x = as_i(a), y = as_i(b);
    int64_t r = 0;
    if (op == "+") {
      if (__builtin_add_overflow(x, y, &r)) return eval_error("integer overflow");
      return Value(r);
    }
    if (op == "-") {
      if (__builtin_sub_overflow(x, y, &r)) return eval_error("integer overflow");
      return Value(r);
    }
    if (op == "*") {
      if (__builtin_mul_overflow(x, y, &r)) return eval_error("integer overflow");
      return Value(r);
    }
    if (op == "//" || op == "%") {
      if (y == 0) return eval_error("integer division or modulo by zero");
      if (x == INT64_MIN && y == -1) return eval_error("integer overflow");
      int64_t q = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) {
        --q;
        m += y;
      }
      return op == "//" ? Value(q) : Value(m);
    }
    if (op == "**") {
      if (y < 0) return Value(std::pow(static_cast<double>(x), static_cast<double>(y)));
      int64_t acc = 1;
      for (int64_t i = 0; i < y; ++i) {
        if (__builtin_mul_overflow(acc, x, &acc)) return eval_error("integer overflow");
        if (acc == 0 || acc == 1) break;
      }
      return Value(acc);
    }
  }
  const double x = a.as_number(), y = b.as_number();
  if (op == "+") return Value(x + y);
  if (op == "-") return Value(x - y);
  if (op == "*") return Value(x * y);
  if (op == "/") {
    if (y == 0) return eval_error("division by zero");
    return Value(x / y);
  }
  if (op == "//" || op == "%") {
    if (y == 0) return eval_error("float division or modulo by zero");
    const double m = std::fmod(x, y);
    const double mod = (m != 0 && ((m < 0) != (y < 0))) ? m + y : m;
    return op == "//" ? Value(std::floor((x - mod) / y)) : Value(mod);
  }
  if (op == "**") return Value(std::pow(x, y));
  return eval_error("unknown operator " + op);
}

Result<Value> repeat(Context& ctx, const Value& seq, int64_t n) {
  if (n < 0) n = 0;
  if (seq.is_string()) {
    const size_t size = seq.text().size();
    if (size && static_cast<uint64_t>(n) > ctx.limits.max_output_bytes / size) LLMD_TRY(ctx.check_size(SIZE_MAX));
    LLMD_TRY(ctx.allocate(size * static_cast<size_t>(n)));
    Str out;
    for (int64_t i = 0; i < n; ++i) append(out, seq.str());
    return Value(std::move(out));
  }
  const size_t size = seq.list().size();
  if (size && static_cast<uint64_t>(n) > ctx.limits.max_output_bytes / size) LLMD_TRY(ctx.check_size(SIZE_MAX));
  LLMD_TRY(ctx.allocate(size * static_cast<size_t>(n) * sizeof(Value)));
  List out;
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.list().begin(), seq.list().end());
  return Value(std::move(out));
}

}  // namespace

void append(Str& out, const Str& s) {
  out.taint.append(s.taint, out.text.size());
  out.text += s.text;
}

Result<Value> attribute_path(Context& ctx, const Value& v, const std::string& path) {
  Value cur = v;
  size_t pos = 0;
  while (true) {
    const size_t dot = path.find('.', pos);
    const std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    const bool digits = !part.empty() && part.size() < 18 && part.find_first_not_of("0123456789") == std::string::npos;
    auto next = get_item(ctx, cur, digits ? Value(static_cast<int64_t>(std::stoll(part))) : Value(part));
    if (!next) return next;
    cur = std::move(*next);
    if (dot == std::string::npos) return cur;
    pos = dot + 1;
  }
}

Str html_escape(const Str& s) {
  if (s.markup) return s;
  std::string out;
  for (char c : s.text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  Str r{std::move(out), {}, true};
  if (!s.taint.empty()) r.taint.add(0, r.text.size());
  return r;
}

Str concat(const Str& a, const Str& b) {
  Str out{a.text + b.text, a.taint};
  out.taint.append(b.taint, a.text.size());
  return out;
}

Result<List> iterate(const Value& v) {
  if (v.is_list()) return v.list();
  if (v.is_generator()) return v.generator().items;
  if (v.is_undefined()) return List{};
  if (v.is_dict() && !v.dict().is_namespace) {
    List keys;
    for (const auto& [k, x] : v.dict().entries) keys.push_back(Value(k));
    return keys;
  }
  if (v.is_string()) {
    List chars;
    const std::string& s = v.text();
    const std::vector<size_t> offs = code_point_offsets(s);
    for (size_t i = 0; i + 1 < offs.size(); ++i) {
      chars.push_back(Value(Str{s.substr(offs[i], offs[i + 1] - offs[i]), v.str().taint.slice(offs[i], offs[i + 1])}));
    }
    return chars;
  }
  return eval_error("'" + v.type_name() + "' object is not iterable");
}

Result<bool> contains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (!item.is_string()) return eval_error("'in <string>' requires string as left operand, not " + item.type_name());
    return container.text().find(item.text()) != std::string::npos;
  }
  if (container.is_list() || container.is_generator()) {
    for (const Value& x : container.is_list() ? container.list() : container.generator().items) {
      if (equals(x, item)) return true;
    }
    return false;
  }
  if (container.is_dict() && !container.dict().is_namespace) {
    return item.is_string() && container.dict().find(item.text()) != nullptr;
  }
  if (container.is_undefined()) return false;
  return eval_error("argument of type '" + container.type_name() + "' is not iterable");
}

Result<Value> binary_operator(Context& ctx, const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return Value(equals(a, b));
  if (op == "!=") return Value(!equals(a, b));
  if (op == "<" || op == ">" || op == "<=" || op == ">=") {
    auto c = compare(a, b);
    if (!c) return c.take_error();
    if (op == "<") return Value(*c < 0);
    if (op == ">") return Value(*c > 0);
    if (op == "<=") return Value(*c <= 0);
    return Value(*c >= 0);
  }
  if (op == "in" || op == "not in") {
    auto r = contains(b, a);
    if (!r) return r.take_error();
    return Value(op == "in" ? *r : !*r);
  }
  if (op == "~") {
    Str s = concat(to_str_tainted(a), to_str_tainted(b));
    LLMD_TRY(ctx.allocate(s.text.size()));
    return Value(std::move(s));
  }
  if (a.is_undefined()) return eval_error(a.undefined_hint());
  if (b.is_undefined()) return eval_error(b.undefined_hint());
  if (numeric(a) && numeric(b)) return arithmetic(op, a, b);
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      LLMD_TRY(ctx.allocate(a.text().size() + b.text().size()));
      if (a.str().markup != b.str().markup) {  // Markup + str escapes the str
        Str out = concat(a.str().markup ? a.str() : html_escape(a.str()), b.str().markup ? b.str() : html_escape(b.str()));
        out.markup = true;
        return Value(std::move(out));
      }
      Str out = concat(a.str(), b.str());
      out.markup = a.str().markup;
      return Value(std::move(out));
    }
    if (a.is_list() && b.is_list()) {
      LLMD_TRY(ctx.check_size(a.list().size() + b.list().size()));
      LLMD_TRY(ctx.allocate((a.list().size() + b.list().size()) * sizeof(Value)));
      List out = a.list();
      out.insert(out.end(), b.list().begin(), b.list().end());
      return Value(std::move(out));
    }
  }
  if (op == "*") {
    if ((a.is_string() || a.is_list()) && integral(b)) return repeat(ctx, a, as_i(b));
    if ((b.is_string() || b.is_list()) && integral(a)) return repeat(ctx, b, as_i(a));
  }
  if (op == "%" && a.is_string()) return eval_error("printf-style string formatting ('%') is not supported");
  return type_error(op, a, b);
}

}  // namespace llmd::engine::jinja
