// A small JSON Schema validator for tests, written apart from the grammar
// compiler and matcher so that a test can catch them disagreeing with the
// schema. It knows the subset structured output implements; values are the
// Jinja interpreter's (parsed with jinja::parse_json).
#pragma once

#include <cmath>
#include <regex>
#include <string>

#include "engine/jinja/json.hpp"
#include "engine/jinja/value.hpp"

namespace llmd::test {

class SchemaValidator {
 public:
  explicit SchemaValidator(const engine::jinja::Value& root) : root_(root) {}

  // "" when `v` is valid, else where and why not.
  std::string check(const engine::jinja::Value& v) const { return check(v, root_, "$"); }

 private:
  using Value = engine::jinja::Value;

  static bool is_integer(const Value& v) {
    return v.is_int() || (v.is_float() && std::floor(v.as_float()) == v.as_float());
  }

  static bool has_type(const Value& v, const std::string& t) {
    if (t == "null") return v.is_none();
    if (t == "boolean") return v.is_bool();
    if (t == "integer") return is_integer(v);
    if (t == "number") return v.is_number();
    if (t == "string") return v.is_string();
    if (t == "array") return v.is_list();
    if (t == "object") return v.is_dict();
    return false;
  }

  static bool equal(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) return a.as_number() == b.as_number();
    if (a.is_none() || b.is_none()) return a.is_none() && b.is_none();
    if (a.is_bool() || b.is_bool()) return a.is_bool() && b.is_bool() && a.as_bool() == b.as_bool();
    if (a.is_string() && b.is_string()) return a.text() == b.text();
    if (a.is_list() && b.is_list()) {
      if (a.list().size() != b.list().size()) return false;
      for (size_t i = 0; i < a.list().size(); ++i)
        if (!equal(a.list()[i], b.list()[i])) return false;
      return true;
    }
    if (a.is_dict() && b.is_dict()) {
      if (a.dict().entries.size() != b.dict().entries.size()) return false;
      for (const auto& [k, x] : a.dict().entries) {
        const Value* y = b.dict().find(k);
        if (!y || !equal(x, *y)) return false;
      }
      return true;
    }
    return false;
  }

  static size_t code_points(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  }

  static bool format_ok(const std::string& f, const std::string& s) {
    static const std::regex date(R"(\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01]))");
    static const std::regex time(R"(([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d))");
    static const std::regex uuid(R"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})");
    static const std::regex email(R"([A-Za-z0-9_%+-]+(\.[A-Za-z0-9_%+-]+)*@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z0-9-]*[A-Za-z])");
    if (f == "date") return std::regex_match(s, date);
    if (f == "time") return std::regex_match(s, time);
    if (f == "date-time") {
      const size_t t = s.find('T');
      return t != std::string::npos && std::regex_match(s.substr(0, t), date) && std::regex_match(s.substr(t + 1), time);
    }
    if (f == "uuid") return std::regex_match(s, uuid);
    if (f == "email") return std::regex_match(s, email);
    return false;
  }

  const Value* resolve(const std::string& ref) const {
    if (ref == "#") return &root_;
    for (const std::string prefix : {"#/$defs/", "#/definitions/"}) {
      if (ref.rfind(prefix, 0) == 0) {
        const Value* defs = root_.dict().find(prefix.substr(2, prefix.size() - 3));
        return defs ? defs->dict().find(ref.substr(prefix.size())) : nullptr;
      }
    }
    return nullptr;
  }

  std::string check(const Value& v, const Value& s, const std::string& at) const {
    if (s.is_bool()) return s.as_bool() ? "" : at + ": schema false";
    const engine::jinja::Dict& d = s.dict();
    if (const Value* ref = d.find("$ref")) {
      const Value* target = resolve(ref->text());
      return target ? check(v, *target, at) : at + ": unresolved $ref";
    }
    for (const char* kw : {"anyOf", "oneOf"}) {
      if (const Value* any = d.find(kw)) {
        for (const Value& alt : any->list())
          if (check(v, alt, at).empty()) return "";
        return at + ": matches no branch of " + kw;
      }
    }
    if (const Value* all = d.find("allOf")) {
      for (const Value& alt : all->list())
        if (std::string e = check(v, alt, at); !e.empty()) return e;
    }
    if (const Value* t = d.find("type")) {
      bool ok = false;
      if (t->is_string()) ok = has_type(v, t->text());
      else for (const Value& x : t->list()) ok = ok || has_type(v, x.text());
      if (!ok) return at + ": wrong type";
    }
    if (const Value* c = d.find("const"); c && !equal(v, *c)) return at + ": not the const";
    if (const Value* e = d.find("enum")) {
      bool ok = false;
      for (const Value& x : e->list()) ok = ok || equal(v, x);
      if (!ok) return at + ": not in enum";
    }
    if (v.is_dict()) {
      const Value* props = d.find("properties");
      if (const Value* req = d.find("required")) {
        for (const Value& r : req->list())
          if (!v.dict().find(r.text())) return at + ": missing " + r.text();
      }
      const Value* add = d.find("additionalProperties");
      for (const auto& [k, x] : v.dict().entries) {
        const Value* ps = props ? props->dict().find(k) : nullptr;
        if (ps) {
          if (std::string e = check(x, *ps, at + "." + k); !e.empty()) return e;
        } else if (add) {
          if (std::string e = check(x, *add, at + "." + k); !e.empty()) return e;
        }
      }
    }
    if (v.is_list()) {
      const auto n = static_cast<double>(v.list().size());
      if (const Value* m = d.find("minItems"); m && n < m->as_number()) return at + ": too few items";
      if (const Value* m = d.find("maxItems"); m && n > m->as_number()) return at + ": too many items";
      if (const Value* items = d.find("items")) {
        for (size_t i = 0; i < v.list().size(); ++i)
          if (std::string e = check(v.list()[i], *items, at + "[" + std::to_string(i) + "]"); !e.empty()) return e;
      }
    }
    if (v.is_string()) {
      const auto n = static_cast<double>(code_points(v.text()));
      if (const Value* m = d.find("minLength"); m && n < m->as_number()) return at + ": too short";
      if (const Value* m = d.find("maxLength"); m && n > m->as_number()) return at + ": too long";
      if (const Value* f = d.find("format"); f && !format_ok(f->text(), v.text())) return at + ": not a " + f->text();
    }
    if (v.is_number()) {
      const double x = v.as_number();
      if (const Value* m = d.find("minimum"); m && x < m->as_number()) return at + ": below minimum";
      if (const Value* m = d.find("maximum"); m && x > m->as_number()) return at + ": above maximum";
      if (const Value* m = d.find("exclusiveMinimum"); m && m->is_number() && x <= m->as_number()) return at + ": not above exclusiveMinimum";
      if (const Value* m = d.find("exclusiveMaximum"); m && m->is_number() && x >= m->as_number()) return at + ": not below exclusiveMaximum";
    }
    return "";
  }

  const Value& root_;
};

// Parses `text` and validates it against `schema_json`: "" when valid.
inline std::string validate_json(const std::string& schema_json, const std::string& text) {
  auto schema = engine::jinja::parse_json(schema_json, false);
  if (!schema) return "bad schema: " + schema.error().message;
  auto v = engine::jinja::parse_json(text, false);
  if (!v) return "not JSON: " + v.error().message;
  return SchemaValidator(*schema).check(*v);
}

}  // namespace llmd::test
