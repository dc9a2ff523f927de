// Secrets in the config: the TLS key must be private to its owner, and paths
// may name systemd's credentials directory (${CREDENTIALS_DIRECTORY}).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>

#include "daemon/config/config.hpp"
#include "tests/daemon/kit/files.hpp"

namespace llmd {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_file;

// Sets CREDENTIALS_DIRECTORY (or unsets it) for one test and restores it.
class CredentialsEnv {
 public:
  explicit CredentialsEnv(const char* value) {
    if (const char* old = std::getenv("CREDENTIALS_DIRECTORY")) saved_ = old;
    if (value) ::setenv("CREDENTIALS_DIRECTORY", value, 1);
    else ::unsetenv("CREDENTIALS_DIRECTORY");
  }
  ~CredentialsEnv() {
    if (saved_) ::setenv("CREDENTIALS_DIRECTORY", saved_->c_str(), 1);
    else ::unsetenv("CREDENTIALS_DIRECTORY");
  }
  CredentialsEnv(const CredentialsEnv&) = delete;
  CredentialsEnv& operator=(const CredentialsEnv&) = delete;

 private:
  std::optional<std::string> saved_;
};

class ConfigSecretsTest : public ::testing::Test {
 protected:
  void SetUp() override { test::write_self_signed(dir.path()); }

  // Loads [tls] with `key_file` from dir/llmd.toml; returns the error ("" on success).
  std::string errors(const std::string& key_file, config::Config* out = nullptr) {
    write_file(file(), "[tls]\ncert_file = \"cert.pem\"\nkey_file = \"" + key_file + "\"\n");
    auto c = config::load_file(file());
    if (c && out) *out = *c;
    return c ? "" : c.error().message;
  }
  fs::path file() const { return dir / "llmd.toml"; }
  std::string f() const { return file().string(); }
  std::string key() const { return (dir / "key.pem").string(); }
  void chmod_key(unsigned mode) const { fs::permissions(dir / "key.pem", fs::perms(mode)); }

  TempDir dir;
};

TEST_F(ConfigSecretsTest, KeyReadableByOthersIsRefused) {
  CredentialsEnv env(nullptr);
  chmod_key(0644);
  EXPECT_EQ(errors("key.pem"), f() + ":3: tls.key_file: the private key '" + key() +
                                   "' is readable by others (mode 0644); a private key must be private to llmd's "
                                   "user: chmod 600 '" + key() + "', or pass it with LoadCredential= in the unit");
}

TEST_F(ConfigSecretsTest, KeyReadableByItsGroupIsRefused) {
  CredentialsEnv env(nullptr);
  chmod_key(0640);
  EXPECT_NE(errors("key.pem").find("' is readable by its group (mode 0640)"), std::string::npos);
  chmod_key(0620);
  EXPECT_NE(errors("key.pem").find("' is open to its group or others (mode 0620)"), std::string::npos);
}

TEST_F(ConfigSecretsTest, PrivateKeyIsAccepted) {
  CredentialsEnv env(nullptr);
  chmod_key(0600);
  EXPECT_EQ(errors("key.pem"), "");
  chmod_key(0400);
  EXPECT_EQ(errors("key.pem"), "");
}

TEST_F(ConfigSecretsTest, CredentialsDirectoryIsExpandedAndTrusted) {
  fs::create_directories(dir / "credentials");
  fs::copy_file(dir / "key.pem", dir / "credentials" / "key.pem");
  // systemd makes the directory private to the service; a file in it may keep
  // group bits (LoadCredential= copies use 0440 on some versions).
  fs::permissions(dir / "credentials" / "key.pem", fs::perms(0440));
  CredentialsEnv env((dir / "credentials").c_str());
  config::Config c;
  EXPECT_EQ(errors("${CREDENTIALS_DIRECTORY}/key.pem", &c), "");
  EXPECT_EQ(c.tls.key_file, dir / "credentials" / "key.pem");
  EXPECT_EQ(errors("${CREDENTIALS_DIRECTORY:-/nonexistent}/key.pem", &c), "");
  EXPECT_EQ(c.tls.key_file, dir / "credentials" / "key.pem");
}

TEST_F(ConfigSecretsTest, FallbackIsUsedOutsideTheUnit) {
  CredentialsEnv env(nullptr);
  config::Config c;
  EXPECT_EQ(errors("${CREDENTIALS_DIRECTORY:-" + dir.path().string() + "}/key.pem", &c), "");
  EXPECT_EQ(c.tls.key_file, dir / "key.pem");
  CredentialsEnv empty("");  // set but empty counts as unset, as in the shell's ":-"
  EXPECT_EQ(errors("${CREDENTIALS_DIRECTORY:-" + dir.path().string() + "}/key.pem", &c), "");
  EXPECT_EQ(c.tls.key_file, dir / "key.pem");
}

TEST_F(ConfigSecretsTest, CredentialsDirectoryWithoutFallbackNeedsTheUnit) {
  CredentialsEnv env(nullptr);
  EXPECT_EQ(errors("${CREDENTIALS_DIRECTORY}/key.pem"),
            f() + ":3: tls.key_file: names ${CREDENTIALS_DIRECTORY}, but CREDENTIALS_DIRECTORY is not set (it is set "
                  "when llmd runs from a unit with LoadCredential=); add a fallback folder: "
                  "${CREDENTIALS_DIRECTORY:-/etc/llmd/tls}");
}

TEST_F(ConfigSecretsTest, OtherVariablesAndBrokenSyntaxAreRefused) {
  CredentialsEnv env(nullptr);
  EXPECT_EQ(errors("${HOME}/key.pem"),
            f() + ":3: tls.key_file: only ${CREDENTIALS_DIRECTORY} and ${CREDENTIALS_DIRECTORY:-FALLBACK} are expanded");
  EXPECT_EQ(errors("${CREDENTIALS_DIRECTORY:-/etc/key.pem"), f() + ":3: tls.key_file: '${' without its closing '}'");
  EXPECT_EQ(errors("${CREDENTIALS_DIRECTORYX}/key.pem"),
            f() + ":3: tls.key_file: only ${CREDENTIALS_DIRECTORY} and ${CREDENTIALS_DIRECTORY:-FALLBACK} are expanded");
  CredentialsEnv relative("relative/dir");
  EXPECT_EQ(errors("${CREDENTIALS_DIRECTORY}/key.pem"),
            f() + ":3: tls.key_file: CREDENTIALS_DIRECTORY is not an absolute path: 'relative/dir'");
}

}  // namespace
}  // namespace llmd
