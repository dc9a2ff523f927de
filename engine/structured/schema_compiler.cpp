#include "engine/structured/schema_compiler.hpp"

#include <cmath>
#include <map>
#include <set>
#include <string>

#include "engine/jinja/json.hpp"
#include "engine/structured/number_range.hpp"
#include "engine/structured/string_formats.hpp"

namespace llmd::engine::structured {
namespace {

using jinja::Value;

constexpr int kMaxSchemaDepth = 64;
constexpr double kMaxBound = 1e15;

const std::set<std::string_view>& annotations() {
  static const std::set<std::string_view> k = {"title",   "description", "default",    "examples", "$schema",
                                               "$id",     "$comment",    "deprecated", "readOnly", "writeOnly",
                                               "$defs",   "definitions"};
  return k;
}

// The keywords each part of the compiler reads; anything else is refused.
const std::set<std::string_view>& implemented() {
  static const std::set<std::string_view> k = {
      "type",      "enum",      "const",     "properties", "required",         "additionalProperties",
      "items",     "minItems",  "maxItems",  "minLength",  "maxLength",        "format",
      "minimum",   "maximum",   "exclusiveMinimum", "exclusiveMaximum", "anyOf", "oneOf",
      "allOf",     "$ref",      "uniqueItems"};
  return k;
}

Error unsupported(const std::string& where, std::string_view why = "") {
  return Error(ErrorCode::unsupported,
               "'" + where + "' is not supported by llmd's structured output" + (why.empty() ? "" : " (" + std::string(why) + ")") + ".");
}
Error invalid(const std::string& where, std::string_view why) {
  return Error(ErrorCode::invalid_argument, "'" + where + "' " + std::string(why) + ".");
}

std::string compact(const Value& v) {
  jinja::JsonFormat f;
  f.item_separator = ",";
  f.key_separator = ":";
  Result<jinja::Str> s = jinja::to_json(v, f);
  return s ? s->text : std::string();
}

std::string_view type_of(const Value& v) {
  if (v.is_none()) return "null";
  if (v.is_bool()) return "boolean";
  if (v.is_int()) return "integer";
  if (v.is_float()) return std::floor(v.as_float()) == v.as_float() ? "integer" : "number";
  if (v.is_string()) return "string";
  if (v.is_list()) return "array";
  return "object";
}

bool type_admits(std::string_view type, const Value& v) {
  const std::string_view t = type_of(v);
  return t == type || (type == "number" && t == "integer");
}

class Compiler {
 public:
  Compiler(Grammar* g, const Value& root, std::string root_path) : g_(g), root_(root), root_path_(std::move(root_path)) {}

  Result<int32_t> compile(const Value& s, const std::string& path, int depth) {
    if (depth > kMaxSchemaDepth) return invalid(path, "nests too deeply");
    if (g_->nodes.size() > kMaxNodes) return invalid(root_path_, "is too large");
    if (s.is_bool()) {
      if (s.as_bool()) return add_any_value(g_);
      return unsupported(path, "a schema of false, which no value matches, is only allowed as additionalProperties");
    }
    if (!s.is_dict()) return invalid(path, "must be a JSON schema (an object or a boolean)");
    const jinja::Dict& d = *s.dict_ptr();
    for (const auto& [k, v] : d.entries) {
      if (!implemented().contains(k) && !annotations().contains(k)) return unsupported(path + "." + k);
    }
    auto has = [&](std::string_view k) { return d.find(k) != nullptr; };
    auto only = [&](std::string_view keyword, std::initializer_list<std::string_view> allowed) -> Status {
      for (const auto& [k, v] : d.entries) {
        if (k == keyword || annotations().contains(k)) continue;
        bool ok = false;
        for (std::string_view a : allowed) ok = ok || k == a;
        if (!ok) return unsupported(path + "." + k, "next to '" + std::string(keyword) + "'");
      }
      return ok_status();
    };

    if (const Value* ref = d.find("$ref")) {
      LLMD_TRY(only("$ref", {}));
      return compile_ref(*ref, path + ".$ref", depth);
    }
    if (const Value* all = d.find("allOf")) {
      LLMD_TRY(only("allOf", {}));
      if (!all->is_list() || all->list().size() != 1) return unsupported(path + ".allOf", "only with exactly one schema");
      return compile(all->list()[0], path + ".allOf[0]", depth + 1);
    }
    for (std::string_view kw : {"anyOf", "oneOf"}) {
      if (const Value* any = d.find(kw)) {
        LLMD_TRY(only(kw, {}));
        const std::string p = path + "." + std::string(kw);
        if (!any->is_list() || any->list().empty()) return invalid(p, "must be a non-empty array of schemas");
        std::vector<int32_t> children;
        for (size_t i = 0; i < any->list().size(); ++i) {
          Result<int32_t> c = compile(any->list()[i], p + "[" + std::to_string(i) + "]", depth + 1);
          if (!c) return c.take_error();
          children.push_back(*c);
        }
        return add_any_of(g_, std::move(children));
      }
    }

    std::vector<std::string> types;
    if (const Value* t = d.find("type")) {
      if (t->is_string()) {
        types.push_back(t->text());
      } else if (t->is_list() && !t->list().empty()) {
        for (const Value& x : t->list()) {
          if (!x.is_string()) return invalid(path + ".type", "must be a type name or an array of them");
          types.push_back(x.text());
        }
      } else {
        return invalid(path + ".type", "must be a type name or an array of them");
      }
      for (const std::string& ty : types) {
        if (ty != "object" && ty != "array" && ty != "string" && ty != "number" && ty != "integer" &&
            ty != "boolean" && ty != "null") {
          return invalid(path + ".type", "names an unknown type \"" + ty + "\"");
        }
      }
    }

    if (has("enum") || has("const")) return compile_enum(d, types, path);

    if (types.empty()) {
      // No type: the keywords say which kinds are meant; none means any value.
      if (has("properties") || has("required") || has("additionalProperties")) types.push_back("object");
      if (has("items") || has("minItems") || has("maxItems") || has("uniqueItems")) types.push_back("array");
      if (has("minLength") || has("maxLength") || has("format")) types.push_back("string");
      if (has("minimum") || has("maximum") || has("exclusiveMinimum") || has("exclusiveMaximum")) types.push_back("number");
      if (types.empty()) return add_any_value(g_);
    }
    std::vector<int32_t> alternatives;
    for (const std::string& ty : types) {
      Result<int32_t> n = compile_type(d, ty, path, depth);
      if (!n) return n.take_error();
      alternatives.push_back(*n);
    }
    return add_any_of(g_, std::move(alternatives));
  }

 private:
  Result<int32_t> compile_ref(const Value& ref, const std::string& path, int depth) {
    if (!ref.is_string()) return invalid(path, "must be a string");
    const std::string& r = ref.text();
    if (auto it = refs_.find(r); it != refs_.end()) return it->second;
    const Value* target = nullptr;
    if (r == "#") {
      target = &root_;
    } else {
      for (std::string_view prefix : {"#/$defs/", "#/definitions/"}) {
        if (r.rfind(prefix, 0) != 0 || !root_.is_dict()) continue;
        const Value* defs = root_.dict_ptr()->find(prefix.substr(2, prefix.size() - 3));
        const std::string name = r.substr(prefix.size());
        if (defs && defs->is_dict() && name.find('/') == std::string::npos) target = defs->dict_ptr()->find(name);
      }
      if (!target) {
        if (r.rfind("#/$defs/", 0) == 0 || r.rfind("#/definitions/", 0) == 0) {
          return invalid(path, "names a definition that does not exist (\"" + r + "\")");
        }
        return unsupported(path, "only \"#\", \"#/$defs/NAME\" and \"#/definitions/NAME\" are");
      }
    }
    // A placeholder first, so that a definition that refers to itself ends here.
    Node placeholder;
    placeholder.kind = NodeKind::any_of;
    const int32_t id = add_node(g_, std::move(placeholder));
    refs_[r] = id;
    Result<int32_t> body = compile(*target, r == "#" ? root_path_ : root_path_ + r.substr(1), depth + 1);
    if (!body) return body.take_error();
    g_->nodes[static_cast<size_t>(id)].children = {*body};
    return id;
  }

  Result<int32_t> compile_enum(const jinja::Dict& d, const std::vector<std::string>& types, const std::string& path) {
    for (const auto& [k, v] : d.entries) {
      if (k != "enum" && k != "const" && k != "type" && !annotations().contains(k)) {
        return unsupported(path + "." + k, "next to 'enum' or 'const'");
      }
    }
    std::vector<Value> values;
    const Value* c = d.find("const");
    const Value* e = d.find("enum");
    if (c && e) return unsupported(path + ".const", "together with 'enum'");
    if (c) {
      values.push_back(*c);
    } else {
      if (!e->is_list()) return invalid(path + ".enum", "must be an array");
      values = e->list();
    }
    Node n;
    n.kind = NodeKind::literals;
    for (const Value& v : values) {
      bool typed = types.empty();
      for (const std::string& t : types) typed = typed || type_admits(t, v);
      if (!typed) continue;
      std::string text = compact(v);
      if (text.empty()) return invalid(path, "holds a value that is not JSON");
      n.texts.push_back(std::move(text));
    }
    const std::string where = path + (c ? ".const" : ".enum");
    if (n.texts.empty()) return invalid(where, "admits no value (of the given type)");
    if (n.texts.size() > kMaxLiterals) return unsupported(where, "more than 64 values");
    return add_node(g_, std::move(n));
  }

  static Result<int32_t> count(const jinja::Dict& d, std::string_view key, const std::string& path, int32_t fallback) {
    const Value* v = d.find(key);
    if (!v) return fallback;
    const bool whole = v->is_int() || (v->is_float() && std::floor(v->as_float()) == v->as_float());
    if (!whole || v->as_number() < 0 || v->as_number() > 1e9) {
      return invalid(path + "." + std::string(key), "must be a non-negative integer");
    }
    return static_cast<int32_t>(v->as_number());
  }

  Result<int32_t> compile_type(const jinja::Dict& d, const std::string& type, const std::string& path, int depth) {
    Node n;
    if (type == "boolean") {
      n.kind = NodeKind::literals;
      n.texts = {"true", "false"};
      return add_node(g_, std::move(n));
    }
    if (type == "null") return add_literal(g_, "null");
    if (type == "object") return compile_object(d, path, depth);
    if (type == "array") {
      n.kind = NodeKind::array;
      if (const Value* u = d.find("uniqueItems"); u && !(u->is_bool() && !u->as_bool())) {
        return unsupported(path + ".uniqueItems");
      }
      Result<int32_t> lo = count(d, "minItems", path, 0), hi = count(d, "maxItems", path, -1);
      if (!lo) return lo.take_error();
      if (!hi) return hi.take_error();
      n.min_items = *lo;
      n.max_items = *hi;
      if (n.max_items >= 0 && n.min_items > n.max_items) return invalid(path + ".minItems", "is above maxItems");
      const Value* items = d.find("items");
      Result<int32_t> it = items ? compile(*items, path + ".items", depth + 1) : Result<int32_t>(add_any_value(g_));
      if (!it) return it.take_error();
      n.items = *it;
      return add_node(g_, std::move(n));
    }
    if (type == "string") {
      n.kind = NodeKind::string;
      Result<int32_t> lo = count(d, "minLength", path, 0), hi = count(d, "maxLength", path, -1);
      if (!lo) return lo.take_error();
      if (!hi) return hi.take_error();
      n.min_length = *lo;
      n.max_length = *hi;
      if (n.max_length >= 0 && n.min_length > n.max_length) return invalid(path + ".minLength", "is above maxLength");
      if (const Value* f = d.find("format")) {
        if (!f->is_string()) return invalid(path + ".format", "must be a string");
        const std::optional<StringFormat> fmt = parse_string_format(f->text());
        if (!fmt) return unsupported(path + ".format", "format \"" + f->text() + "\"; llmd implements date, time, date-time, uuid and email");
        if (d.find("minLength") || d.find("maxLength")) {
          return unsupported(path + ".format", "together with minLength or maxLength");
        }
        n.format = *fmt;
      }
      return add_node(g_, std::move(n));
    }
    // number or integer
    n.kind = type == "integer" ? NodeKind::integer : NodeKind::number;
    auto bound = [&](std::string_view key, std::optional<double>* out) -> Status {
      const Value* v = d.find(key);
      if (!v || v->is_bool()) return ok_status();
      if (!v->is_number()) return invalid(path + "." + std::string(key), "must be a number");
      if (std::fabs(v->as_number()) > kMaxBound) return unsupported(path + "." + std::string(key), "bounds beyond ±1e15");
      *out = v->as_number();
      return ok_status();
    };
    LLMD_TRY(bound("minimum", &n.minimum));
    LLMD_TRY(bound("maximum", &n.maximum));
    std::optional<double> xmin, xmax;
    LLMD_TRY(bound("exclusiveMinimum", &xmin));
    LLMD_TRY(bound("exclusiveMaximum", &xmax));
    if (const Value* v = d.find("exclusiveMinimum"); v && v->is_bool()) n.exclusive_minimum = v->as_bool();
    if (const Value* v = d.find("exclusiveMaximum"); v && v->is_bool()) n.exclusive_maximum = v->as_bool();
    if (xmin && (!n.minimum || *xmin >= *n.minimum)) n.minimum = xmin, n.exclusive_minimum = true;
    if (xmax && (!n.maximum || *xmax <= *n.maximum)) n.maximum = xmax, n.exclusive_maximum = true;
    if (!number_range_nonempty(n, n.kind == NodeKind::integer)) return invalid(path, "has bounds that admit no " + type);
    return add_node(g_, std::move(n));
  }

  Result<int32_t> compile_object(const jinja::Dict& d, const std::string& path, int depth) {
    Node n;
    n.kind = NodeKind::object;
    if (const Value* props = d.find("properties")) {
      if (!props->is_dict()) return invalid(path + ".properties", "must be an object");
      if (props->dict_ptr()->entries.size() > kMaxProperties) {
        return unsupported(path + ".properties", "more than 64 properties in one object");
      }
      for (const auto& [name, schema] : props->dict_ptr()->entries) {
        for (char ch : name) {
          if (ch == '"' || ch == '\\' || static_cast<unsigned char>(ch) < 0x20) {
            return unsupported(path + ".properties", "property names with quotes, backslashes or control characters");
          }
        }
        Result<int32_t> c = compile(schema, path + ".properties." + name, depth + 1);
        if (!c) return c.take_error();
        n.properties.push_back(Property{name, *c, false});
      }
    }
    if (const Value* req = d.find("required")) {
      if (!req->is_list()) return invalid(path + ".required", "must be an array of property names");
      for (const Value& r : req->list()) {
        if (!r.is_string()) return invalid(path + ".required", "must be an array of property names");
        size_t i = 0;
        while (i < n.properties.size() && n.properties[i].name != r.text()) ++i;
        if (i == n.properties.size()) {
          if (n.properties.size() >= kMaxProperties) return unsupported(path + ".required", "more than 64 properties in one object");
          n.properties.push_back(Property{r.text(), add_any_value(g_), false});
        }
        n.properties[i].required = true;
        n.required_mask |= uint64_t{1} << i;
      }
    }
    const Value* add = d.find("additionalProperties");
    if (add && add->is_bool() && !add->as_bool()) {
      n.additional = -1;
    } else if (add && !add->is_bool()) {
      Result<int32_t> a = compile(*add, path + ".additionalProperties", depth + 1);
      if (!a) return a.take_error();
      n.additional = *a;
    } else {
      n.additional = add_any_value(g_);
    }
    return add_node(g_, std::move(n));
  }

  Grammar* g_;
  const Value& root_;
  std::string root_path_;
  std::map<std::string, int32_t> refs_;
};

}  // namespace

Result<int32_t> add_json_schema(Grammar* g, std::string_view schema_json, std::string_view path) {
  Result<Value> schema = jinja::parse_json(schema_json, /*taint=*/false, kMaxSchemaDepth);
  if (!schema) return Error(ErrorCode::invalid_argument, "'" + std::string(path) + "' is not valid JSON: " + schema.error().message);
  Compiler c(g, *schema, std::string(path));
  return c.compile(*schema, std::string(path), 0);
}

Result<GrammarPtr> compile_json_schema(std::string_view schema_json, std::string_view path) {
  auto g = std::make_shared<Grammar>();
  Result<int32_t> root = add_json_schema(g.get(), schema_json, path);
  if (!root) return root.take_error();
  g->root = *root;
  return GrammarPtr(std::move(g));
}

GrammarPtr json_object_grammar() {
  auto g = std::make_shared<Grammar>();
  g->root = add_any_object(g.get());
  return g;
}

}  // namespace llmd::engine::structured
