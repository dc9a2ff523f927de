#include "storage/integrity.hpp"

#include <string>

namespace llmd::storage {

namespace {
constexpr int kFindingsShown = 3;
constexpr const char* kAdvice =
    "restore it from a backup, or move it away to start with an empty one (teams, keys and usage are lost)";
}  // namespace

Error explain_damage(Error e, const std::string& path) {
  if (e.code != ErrorCode::storage_corrupt || e.message.find(kAdvice) != std::string::npos) return e;
  return Error(e.code, "the database " + path + " is damaged or not an SQLite database (" + e.message + "): " + kAdvice);
}

Status check_integrity(Database& db) {
  auto st = db.prepare("PRAGMA quick_check");
  if (!st) return st.take_error();
  std::string findings;
  int count = 0;
  for (;;) {
    auto row = st->step();
    if (!row) {
      Error e = row.take_error();
      if (e.code != ErrorCode::storage_corrupt) return e;
      findings = e.message;  // too damaged to walk
      count = 1;
      break;
    }
    if (!*row) break;
    std::string line = st->column_text(0);
    if (line == "ok") continue;
    if (count++ < kFindingsShown) findings += (findings.empty() ? "" : "; ") + line;
  }
  if (count == 0) return ok_status();
  return Error(ErrorCode::storage_corrupt, "the database " + db.path() + " is damaged (PRAGMA quick_check: " +
                                               findings + (count > kFindingsShown ? "; ..." : "") + "): " + kAdvice);
}

}  // namespace llmd::storage
