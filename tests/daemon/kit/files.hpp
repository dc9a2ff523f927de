// Temporary folders and self-signed certificates for daemon tests.
#pragma once

#include <filesystem>
#include <string>

namespace llmd::test {

// A fresh folder under /tmp (short paths: unix socket names are limited),
// removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Writes a self-signed P-256 certificate for localhost / 127.0.0.1 and its key
// (PEM) as dir/cert.pem and dir/key.pem (mode 0600).
void write_self_signed(const std::filesystem::path& dir);

void write_file(const std::filesystem::path& file, const std::string& text);
std::string read_file(const std::filesystem::path& file);

}  // namespace llmd::test
