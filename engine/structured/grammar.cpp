#include "engine/structured/grammar.hpp"

namespace llmd::engine::structured {

int32_t add_node(Grammar* g, Node n) {
  g->nodes.push_back(std::move(n));
  return static_cast<int32_t>(g->nodes.size() - 1);
}

int32_t add_literal(Grammar* g, std::string text) {
  Node n;
  n.kind = NodeKind::literals;
  n.texts.push_back(std::move(text));
  return add_node(g, std::move(n));
}

int32_t add_sequence(Grammar* g, std::vector<int32_t> children) {
  Node n;
  n.kind = NodeKind::sequence;
  n.children = std::move(children);
  return add_node(g, std::move(n));
}

int32_t add_any_of(Grammar* g, std::vector<int32_t> children) {
  if (children.size() == 1) return children[0];
  Node n;
  n.kind = NodeKind::any_of;
  n.children = std::move(children);
  return add_node(g, std::move(n));
}

int32_t add_any_value(Grammar* g) {
  Node any;
  any.kind = NodeKind::any_of;
  const int32_t id = add_node(g, std::move(any));
  Node obj;
  obj.kind = NodeKind::object;
  obj.additional = id;
  Node arr;
  arr.kind = NodeKind::array;
  arr.items = id;
  Node str;
  str.kind = NodeKind::string;
  Node num;
  num.kind = NodeKind::number;
  Node lit;
  lit.kind = NodeKind::literals;
  lit.texts = {"true", "false", "null"};
  std::vector<int32_t> children;
  children.push_back(add_node(g, std::move(obj)));
  children.push_back(add_node(g, std::move(arr)));
  children.push_back(add_node(g, std::move(str)));
  children.push_back(add_node(g, std::move(num)));
  children.push_back(add_node(g, std::move(lit)));
  g->nodes[static_cast<size_t>(id)].children = std::move(children);
  return id;
}

int32_t add_any_object(Grammar* g) {
  const int32_t any = add_any_value(g);
  Node obj;
  obj.kind = NodeKind::object;
  obj.additional = any;
  return add_node(g, std::move(obj));
}

}  // namespace llmd::engine::structured
