// The state directory: private mode and the instance lock.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "storage/state_dir.hpp"
#include "tests/storage/temp_dir.hpp"

namespace llmd::storage {
namespace {

int mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return static_cast<int>(st.st_mode & 0777);
}

TEST(StateDir, CreatedOwnerOnly) {
  test::TempDir dir;
  std::string state = dir.file("a/b/state");
  ASSERT_TRUE(ensure_private_dir(state).ok());
  EXPECT_EQ(mode_of(state), 0700);
}

TEST(StateDir, ExistingWideDirectoryIsNarrowed) {
  test::TempDir dir;
  std::string state = dir.file("state");
  ASSERT_EQ(::mkdir(state.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(state.c_str(), 0777), 0);
  ASSERT_TRUE(ensure_private_dir(state).ok());
  EXPECT_EQ(mode_of(state), 0700);
}

TEST(StateDir, AFileInTheWayIsAnError) {
  test::TempDir dir;
  std::string state = dir.file("state");
  FILE* f = std::fopen(state.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  auto r = ensure_private_dir(state);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::state_dir_invalid);
}

TEST(StateDir, InstanceLockIsExclusive) {
  test::TempDir dir;
  {
    auto first = InstanceLock::acquire(dir.path());
    ASSERT_TRUE(first.ok());
    auto second = InstanceLock::acquire(dir.path());
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().code, ErrorCode::state_dir_locked);
  }
  auto again = InstanceLock::acquire(dir.path());
  EXPECT_TRUE(again.ok());
}

}  // namespace
}  // namespace llmd::storage
