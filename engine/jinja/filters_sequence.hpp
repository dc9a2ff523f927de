// The sequence filters (filters_sequence.cpp), registered by filters.cpp.
#pragma once

#include "engine/jinja/context.hpp"

namespace llmd::engine::jinja {

Result<Value> f_unique(Context& ctx, const Value& v, const Args& a);
Result<Value> f_map(Context& ctx, const Value& v, const Args& a);
Result<Value> f_select(Context& ctx, const Value& v, const Args& a);
Result<Value> f_reject(Context& ctx, const Value& v, const Args& a);
Result<Value> f_selectattr(Context& ctx, const Value& v, const Args& a);
Result<Value> f_rejectattr(Context& ctx, const Value& v, const Args& a);
Result<Value> f_sort(Context& ctx, const Value& v, const Args& a);
Result<Value> f_dictsort(Context& ctx, const Value& v, const Args& a);
Result<Value> f_sum(Context& ctx, const Value& v, const Args& a);
Result<Value> f_min(Context& ctx, const Value& v, const Args& a);
Result<Value> f_max(Context& ctx, const Value& v, const Args& a);

}  // namespace llmd::engine::jinja
