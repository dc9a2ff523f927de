// The tests: `value is name(args)`, with Jinja2's meanings (bool counts as a
// number, not as an integer; Undefined is iterable but not a sequence).
#include <map>

#include "engine/jinja/builtins.hpp"
#include "engine/jinja/py_string.hpp"

namespace llmd::engine::jinja {
namespace {

using TestFn = Result<bool> (*)(const Value&, const Args&);

const Value* arg0(const Args& a) { return a.get(0, "other") ? a.get(0, "other") : a.get(0, "value"); }

Result<bool> compare_test(const Value& v, const Args& a, int want_sign, bool or_equal) {
  const Value* o = arg0(a);
  if (!o) return eval_error("the comparison test needs an argument");
  auto c = compare(v, *o);
  if (!c) return c.take_error();
  return *c == want_sign || (or_equal && *c == 0);
}

Result<bool> t_defined(const Value& v, const Args&) { return !v.is_undefined(); }
Result<bool> t_undefined(const Value& v, const Args&) { return v.is_undefined(); }
Result<bool> t_none(const Value& v, const Args&) { return v.is_none(); }
Result<bool> t_boolean(const Value& v, const Args&) { return v.is_bool(); }
Result<bool> t_true(const Value& v, const Args&) { return v.is_bool() && v.as_bool(); }
Result<bool> t_false(const Value& v, const Args&) { return v.is_bool() && !v.as_bool(); }
Result<bool> t_integer(const Value& v, const Args&) { return v.is_int(); }
Result<bool> t_float(const Value& v, const Args&) { return v.is_float(); }
Result<bool> t_number(const Value& v, const Args&) { return v.is_number() || v.is_bool(); }
Result<bool> t_string(const Value& v, const Args&) { return v.is_string(); }
Result<bool> t_mapping(const Value& v, const Args&) { return v.is_dict() && !v.dict().is_namespace && !v.dict().is_loop; }
Result<bool> t_iterable(const Value& v, const Args&) {
  return v.is_string() || v.is_list() || v.is_generator() || v.is_undefined() || (v.is_dict() && !v.dict().is_namespace && !v.dict().is_loop);
}
Result<bool> t_sequence(const Value& v, const Args&) {
  return v.is_string() || v.is_list() || (v.is_dict() && !v.dict().is_namespace && !v.dict().is_loop);
}
Result<bool> t_callable(const Value& v, const Args&) { return v.is_callable(); }
Result<bool> t_eq(const Value& v, const Args& a) {
  const Value* o = arg0(a);
  if (!o) return eval_error("the equalto test needs an argument");
  return equals(v, *o);
}
Result<bool> t_ne(const Value& v, const Args& a) {
  auto r = t_eq(v, a);
  if (!r) return r;
  return !*r;
}
Result<bool> t_sameas(const Value& v, const Args& a) {
  const Value* o = arg0(a);
  if (!o) return eval_error("the sameas test needs an argument");
  if (v.is_dict() && o->is_dict()) return v.dict_ptr() == o->dict_ptr();
  if (v.is_none() || v.is_bool() || o->is_none() || o->is_bool()) return v.type_name() == o->type_name() && equals(v, *o);
  return equals(v, *o) && v.type_name() == o->type_name();
}
Result<bool> t_lt(const Value& v, const Args& a) { return compare_test(v, a, -1, false); }
Result<bool> t_le(const Value& v, const Args& a) { return compare_test(v, a, -1, true); }
Result<bool> t_gt(const Value& v, const Args& a) { return compare_test(v, a, 1, false); }
Result<bool> t_ge(const Value& v, const Args& a) { return compare_test(v, a, 1, true); }
Result<bool> t_in(const Value& v, const Args& a) {
  const Value* o = a.get(0, "seq");
  if (!o) return eval_error("the in test needs an argument");
  return contains(*o, v);
}
Result<bool> t_odd(const Value& v, const Args&) {
  if (!v.is_int()) return eval_error("odd needs an integer");
  return (v.as_int() % 2) != 0;
}
Result<bool> t_even(const Value& v, const Args&) {
  if (!v.is_int()) return eval_error("even needs an integer");
  return (v.as_int() % 2) == 0;
}
Result<bool> t_divisibleby(const Value& v, const Args& a) {
  const Value* n = a.get(0, "num");
  if (!v.is_int() || !n || !n->is_int()) return eval_error("divisibleby needs integers");
  if (n->as_int() == 0) return eval_error("integer division or modulo by zero");
  return n->as_int() == -1 || v.as_int() % n->as_int() == 0;
}
Result<bool> t_lower(const Value& v, const Args&) {
  const std::string s = to_str(v);
  return py_lower(s) == s && py_upper(s) != s;
}
Result<bool> t_upper(const Value& v, const Args&) {
  const std::string s = to_str(v);
  return py_upper(s) == s && py_lower(s) != s;
}
Result<bool> t_escaped(const Value&, const Args&) { return false; }

const std::map<std::string, TestFn, std::less<>>& tests() {
  static const std::map<std::string, TestFn, std::less<>> m = {
      {"!=", t_ne},          {"<", t_lt},          {"<=", t_le},           {"==", t_eq},
      {">", t_gt},           {">=", t_ge},         {"boolean", t_boolean}, {"callable", t_callable},
      {"defined", t_defined}, {"divisibleby", t_divisibleby}, {"eq", t_eq}, {"equalto", t_eq},
      {"escaped", t_escaped}, {"even", t_even},    {"false", t_false},     {"float", t_float},
      {"ge", t_ge},          {"greaterthan", t_gt}, {"gt", t_gt},          {"in", t_in},
      {"integer", t_integer}, {"iterable", t_iterable}, {"le", t_le},      {"lessthan", t_lt},
      {"lower", t_lower},    {"lt", t_lt},         {"mapping", t_mapping}, {"ne", t_ne},
      {"none", t_none},      {"number", t_number}, {"odd", t_odd},         {"sameas", t_sameas},
      {"sequence", t_sequence}, {"string", t_string}, {"true", t_true},    {"undefined", t_undefined},
      {"upper", t_upper},
  };
  return m;
}

}  // namespace

bool has_test(const std::string& name) { return tests().count(name) > 0; }

Result<bool> apply_test(Context&, const std::string& name, const Value& input, const Args& args) {
  auto it = tests().find(name);
  if (it == tests().end()) return eval_error("no test named '" + name + "'");
  return it->second(input, args);
}

}  // namespace llmd::engine::jinja
