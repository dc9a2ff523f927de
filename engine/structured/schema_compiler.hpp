// JSON Schema into Grammar: the subset of JSON Schema (draft 2020-12 and the
// common older spellings) that structured output needs.
//
// Implemented:
//   type (one or an array of: object, array, string, number, integer,
//     boolean, null), enum, const (values of at most 64 alternatives),
//   properties, required, additionalProperties (true, false or a schema;
//     absent means any value, as JSON Schema says),
//   items, minItems, maxItems,
//   minLength, maxLength, format (date, time, date-time, uuid, email),
//   minimum, maximum, exclusiveMinimum, exclusiveMaximum (numbers or the
//     draft-4 booleans),
//   anyOf, oneOf (read as anyOf: the output matches at least one branch),
//   allOf with one schema, $ref to "#", "#/$defs/NAME" or
//     "#/definitions/NAME" (recursion allowed),
//   annotations, which do not constrain: title, description, default,
//     examples, $schema, $id, $comment, deprecated, readOnly, writeOnly.
//
// Everything else (pattern, multipleOf, prefixItems, uniqueItems: true,
// minProperties, not, if/then/else, patternProperties, ...) is refused with
// ErrorCode::unsupported and a message naming the keyword and where it is
// ("'schema.properties.id.pattern' is not supported"), never ignored. A schema
// that is not valid or cannot be satisfied gets ErrorCode::invalid_argument.
#pragma once

#include <string_view>

#include "base/result.hpp"
#include "engine/jinja/value.hpp"
#include "engine/structured/grammar.hpp"

namespace llmd::engine::structured {

// A grammar whose documents are the JSON values `schema_json` accepts.
// Error messages name places in the schema starting with `path` ("schema").
Result<GrammarPtr> compile_json_schema(std::string_view schema_json, std::string_view path = "schema");

// Adds the schema's nodes to `g` and returns its root node.
Result<int32_t> add_json_schema(Grammar* g, std::string_view schema_json, std::string_view path);

// Any JSON object (response_format {"type": "json_object"}).
GrammarPtr json_object_grammar();

}  // namespace llmd::engine::structured
