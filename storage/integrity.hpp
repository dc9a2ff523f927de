// The start-up check of the database file: SQLite's PRAGMA quick_check (the
// b-trees, free list and record formats of every table and index, without
// checking that indexes match their tables; linear in the file's size). A
// damaged database is refused with a message that says what to do, rather
// than served until a request reaches the damaged page.
#pragma once

#include <string>

#include "base/result.hpp"
#include "storage/database.hpp"

namespace llmd::storage {

// ok, or storage_corrupt naming the file and SQLite's first findings.
Status check_integrity(Database& db);

// A storage_corrupt error met while opening `path`, rewritten to say which
// file is damaged and what to do; other errors pass unchanged.
Error explain_damage(Error e, const std::string& path);

}  // namespace llmd::storage
