// Storage faults on real SQLite files: a full disk (max_page_count), a
// read-only connection, a file that is not a database and one with a damaged
// page. Each gives its own ErrorCode (so the HTTP side answers 503, see
// daemon/http/error_status), and a damaged database is refused at start with
// a message that names the file and says what to do.
#include <gtest/gtest.h>

#include <fstream>

#include "storage/database.hpp"
#include "storage/integrity.hpp"
#include "storage/migrations.hpp"
#include "tests/storage/faulty_vfs.hpp"
#include "tests/storage/temp_dir.hpp"

namespace llmd::storage {
namespace {

std::unique_ptr<Database> open_or_die(const std::string& path) {
  auto db = open_database(path);
  EXPECT_TRUE(db.ok()) << (db.ok() ? "" : db.error().message);
  return db.ok() ? std::move(*db) : nullptr;
}

Status run(Database& db, Sql sql) {
  auto st = db.prepare(sql);
  if (!st) return st.take_error();
  return st->run();
}

// Fills a table with `rows` rows of 1000 bytes each.
void fill(Database& db, int rows) {
  ASSERT_TRUE(db.run_script("CREATE TABLE IF NOT EXISTS filler(x BLOB)"));
  for (int i = 0; i < rows; ++i) ASSERT_TRUE(run(db, "INSERT INTO filler VALUES (randomblob(1000))"));
}

void overwrite(const std::string& path, std::streamoff at, std::size_t n, char byte) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f);
  f.seekp(at);
  std::string junk(n, byte);
  f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
}

TEST(StorageFaults, DiskFullIsStorageFull) {
  test::TempDir dir;
  auto db = open_or_die(dir.file("a.db"));
  ASSERT_TRUE(db);
  fill(*db, 5);
  // The file may not grow beyond its current size: the next pages fail.
  ASSERT_TRUE(run(*db, "PRAGMA max_page_count = 1"));
  Status st = ok_status();
  for (int i = 0; i < 100 && st; ++i) st = run(*db, "INSERT INTO filler VALUES (randomblob(1000))");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::storage_full) << st.error().message;
  // Room again: writes work on the same connection.
  ASSERT_TRUE(run(*db, "PRAGMA max_page_count = 1000000"));
  EXPECT_TRUE(run(*db, "INSERT INTO filler VALUES (randomblob(1000))"));
}

TEST(StorageFaults, ReadOnlyConnectionIsStorageReadOnly) {
  test::TempDir dir;
  auto db = open_or_die(dir.file("a.db"));
  ASSERT_TRUE(db);
  fill(*db, 1);
  ASSERT_TRUE(run(*db, "PRAGMA query_only = 1"));
  Status st = run(*db, "INSERT INTO filler VALUES (randomblob(10))");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::storage_read_only) << st.error().message;
}

// What SQLite does with a file it may not write (owner, mode, a read-only
// mount): it opens it read-only. That is refused at once, not at the first write.
TEST(StorageFaults, ADatabaseFileThatCannotBeWrittenIsRefusedAtOpen) {
  test::TempDir dir;
  const std::string path = dir.file("a.db");
  {
    auto db = open_or_die(path);
    ASSERT_TRUE(db);
  }
  test::FaultyVfs vfs;
  vfs.open_read_only(true);
  auto db = open_database(path);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, ErrorCode::storage_read_only);
  EXPECT_NE(db.error().message.find(path), std::string::npos) << db.error().message;
  EXPECT_NE(db.error().message.find("cannot be written"), std::string::npos) << db.error().message;
  vfs.open_read_only(false);
  EXPECT_TRUE(open_database(path).ok());
}

TEST(StorageFaults, AFileThatIsNotADatabaseIsRefusedClearly) {
  test::TempDir dir;
  const std::string path = dir.file("a.db");
  {
    std::ofstream f(path, std::ios::binary);
    f << std::string(8192, 'x');
  }
  auto db = open_database(path);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, ErrorCode::storage_corrupt);
  EXPECT_NE(db.error().message.find(path), std::string::npos) << db.error().message;
  EXPECT_NE(db.error().message.find("restore it from a backup"), std::string::npos) << db.error().message;
}

TEST(StorageFaults, QuickCheckFindsADamagedPage) {
  test::TempDir dir;
  const std::string path = dir.file("a.db");
  int64_t page_size = 0;
  {
    auto db = open_or_die(path);
    ASSERT_TRUE(db);
    fill(*db, 200);  // about 50 pages of table b-tree
    EXPECT_TRUE(check_integrity(*db));
    auto st = db->prepare("PRAGMA page_size");
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE(*st->step());
    page_size = st->column_int(0);
  }  // the last connection's close checkpoints the WAL into the file
  ASSERT_GT(page_size, 0);
  // Scribble over the middle of the file: b-tree pages of the filler table.
  overwrite(path, page_size * 20, static_cast<std::size_t>(page_size * 3), '\xA5');

  auto db = open_database(path);  // the schema page is intact: opening works
  ASSERT_TRUE(db.ok()) << db.error().message;
  Status st = check_integrity(**db);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::storage_corrupt);
  EXPECT_NE(st.error().message.find("quick_check"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find(path), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("restore it from a backup"), std::string::npos) << st.error().message;
}

}  // namespace
}  // namespace llmd::storage
