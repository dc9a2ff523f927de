// A SQLite VFS shim for fault injection: it wraps the platform's default VFS
// and passes every call through, except that from the N-th write on (to any
// file: the database, its WAL, the shared-memory index is not a write) writes
// fail with SQLITE_IOERR_WRITE, until heal(); and it can open database files
// read-only, as SQLite does with a file it may not write. Installed as the default VFS
// for the process while it lives, so the code under test opens its
// connections exactly as in production. One at a time; not for threads that
// install their own.
#pragma once

#include <atomic>

struct sqlite3_vfs;

namespace llmd::test {

class FaultyVfs {
 public:
  FaultyVfs();   // registers itself as the default VFS
  ~FaultyVfs();  // restores the previous default
  FaultyVfs(const FaultyVfs&) = delete;
  FaultyVfs& operator=(const FaultyVfs&) = delete;

  // Writes succeed until `n` more have been made; the n-th and every later
  // one fail. n = 1: the next write fails.
  void fail_writes_from(long n);
  void heal();
  // The process kills itself (SIGKILL) at the n-th write from now, before
  // making it: a crash at that step of whatever is writing.
  void kill_at_write(long n);

  // Database files opened from now on are opened read-only, as SQLite does
  // when the file cannot be opened for writing (its journals are not).
  void open_read_only(bool on) { read_only_ = on; }
  bool read_only() const { return read_only_.load(); }

  long writes() const { return writes_.load(); }   // writes attempted since construction
  long failed() const { return failed_.load(); }   // writes refused

  // Internal: called by the shim's file methods.
  bool next_write_fails();

 private:
  std::atomic<long> writes_{0};
  std::atomic<long> failed_{0};
  std::atomic<long> fail_at_{-1};
  std::atomic<bool> read_only_{false};
  std::atomic<long> kill_at_{-1};  // the write count from which writes fail; -1: none
  sqlite3_vfs* previous_ = nullptr;
};

}  // namespace llmd::test
