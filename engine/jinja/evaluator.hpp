// Evaluating expressions and executing statements of a parsed template
// against a Context. Errors are chat_template_error (the template's own or a
// type error), chat_template_limit (a bound), each naming the line once.
#pragma once

#include "engine/jinja/ast.hpp"
#include "engine/jinja/context.hpp"

namespace llmd::engine::jinja {

Result<Value> eval(Context& ctx, const Expr& e);
Status exec(Context& ctx, const Body& body);

// A filter expression; the innermost null input of a filter block's chain
// takes `block_input`.
Result<Value> eval_filter(Context& ctx, const Expr& e, const Value* block_input);

// `v`, or a chat_template_limit error when it is nested deeper than
// kMaxValueDepth (checked wherever a render puts values into a new list/dict).
Result<Value> nested(Context& ctx, Value v);

// Calls a callable value with evaluated arguments.
Result<Value> call_value(Context& ctx, const Value& callee, const Args& args);

}  // namespace llmd::engine::jinja
