#include "storage/model_records.hpp"

#include <unordered_map>

namespace llmd::storage {
namespace {

Status store_aliases(Database& db, const ModelRecord& r) {
  auto del = db.prepare("DELETE FROM model_aliases WHERE model_id = ?1");
  if (!del) return del.take_error();
  LLMD_TRY(del->bind(1, r.id).run());
  for (size_t i = 0; i < r.aliases.size(); ++i) {
    auto ins = db.prepare("INSERT INTO model_aliases (model_id, position, alias) VALUES (?1, ?2, ?3)");
    if (!ins) return ins.take_error();
    LLMD_TRY(ins->bind_all(r.id, static_cast<int64_t>(i), r.aliases[i]).run());
  }
  return ok_status();
}

}  // namespace

Status save_model_record(Database& db, const ModelRecord& r, int64_t now_ms) {
  // An upsert rather than INSERT OR REPLACE: replacing would delete the row
  // (losing its seq, hence its place in the order, and its created_at).
  auto st = db.prepare(
      "INSERT INTO models (id, path, device, pinned, keep_alive_s, context_length, max_sequences, max_choices,"
      " max_waiting, kv_cache_bytes, chat_template_name, chat_template, threads, load, created_at, updated_at)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15)"
      " ON CONFLICT (id) DO UPDATE SET path = excluded.path, device = excluded.device,"
      " pinned = excluded.pinned, keep_alive_s = excluded.keep_alive_s, context_length = excluded.context_length,"
      " max_sequences = excluded.max_sequences, max_choices = excluded.max_choices,"
      " max_waiting = excluded.max_waiting, kv_cache_bytes = excluded.kv_cache_bytes,"
      " chat_template_name = excluded.chat_template_name, chat_template = excluded.chat_template,"
      " threads = excluded.threads, load = excluded.load, updated_at = excluded.updated_at");
  if (!st) return st.take_error();
  st->bind_all(r.id, r.path, r.device, static_cast<int64_t>(r.pinned), r.keep_alive_s, r.context_length,
               r.max_sequences, r.max_choices, r.max_waiting, r.kv_cache_bytes, r.chat_template_name,
               r.chat_template, r.threads, static_cast<int64_t>(r.load), now_ms);
  LLMD_TRY(st->run());
  return store_aliases(db, r);
}

Status remove_model_record(Database& db, std::string_view id) {
  // The aliases go with the row (ON DELETE CASCADE); deleted explicitly too so
  // that the result does not depend on the foreign-key setting.
  auto aliases = db.prepare("DELETE FROM model_aliases WHERE model_id = ?1");
  if (!aliases) return aliases.take_error();
  LLMD_TRY(aliases->bind(1, id).run());
  auto st = db.prepare("DELETE FROM models WHERE id = ?1");
  if (!st) return st.take_error();
  return st->bind(1, id).run();
}

Result<std::vector<ModelRecord>> list_model_records(Database& db) {
  std::vector<ModelRecord> out;
  std::unordered_map<std::string, size_t> index;
  {
    auto st = db.prepare(
        "SELECT id, path, device, pinned, keep_alive_s, context_length, max_sequences, max_choices, max_waiting,"
        " kv_cache_bytes, chat_template_name, chat_template, threads, load, created_at, updated_at"
        " FROM models ORDER BY seq");
    if (!st) return st.take_error();
    LLMD_TRY(st->each_row([&] {
      ModelRecord r;
      r.id = st->column_text(0);
      r.path = st->column_text(1);
      r.device = st->column_text(2);
      r.pinned = st->column_int(3) != 0;
      r.keep_alive_s = st->column_int(4);
      r.context_length = st->column_int(5);
      r.max_sequences = st->column_int(6);
      r.max_choices = st->column_int(7);
      r.max_waiting = st->column_int(8);
      r.kv_cache_bytes = st->column_int(9);
      r.chat_template_name = st->column_text(10);
      r.chat_template = st->column_text(11);
      r.threads = st->column_int(12);
      r.load = st->column_int(13) != 0;
      r.created_at = st->column_int(14);
      r.updated_at = st->column_int(15);
      index.emplace(r.id, out.size());
      out.push_back(std::move(r));
    }));
  }
  auto st = db.prepare("SELECT model_id, alias FROM model_aliases ORDER BY model_id, position");
  if (!st) return st.take_error();
  LLMD_TRY(st->each_row([&] {
    auto it = index.find(st->column_text(0));
    if (it != index.end()) out[it->second].aliases.push_back(st->column_text(1));
  }));
  return out;
}

}  // namespace llmd::storage
