// systemd/llmd.service, checked by `systemd-analyze verify` against a private
// root that holds the distribution's units and the built llmd as /usr/bin/llmd,
// so the unit is verified unchanged on a machine where llmd is not installed;
// its hardening keeps /dev/nvidia* and scores at most 2.0 (systemd-analyze security).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "tests/daemon/kit/child.hpp"
#include "tests/daemon/kit/files.hpp"

namespace llmd::test {
namespace {

namespace fs = std::filesystem;

const fs::path kUnit = fs::path(LLMD_SOURCE_DIR) / "systemd" / "llmd.service";

std::string find_systemd_analyze() {
  for (const char* p : {"/usr/bin/systemd-analyze", "/bin/systemd-analyze"}) {
    if (fs::exists(p)) return p;
  }
  return "";
}

// A root with the system's unit files, /usr/bin/llmd and the unit text under test.
class UnitRoot {
 public:
  explicit UnitRoot(const std::string& unit_text) {
    fs::path units = fs::exists("/usr/lib/systemd/system") ? "/usr/lib/systemd/system" : "/lib/systemd/system";
    fs::create_directories(root() / "usr/lib/systemd");
    fs::copy(units, root() / "usr/lib/systemd/system", fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    fs::create_directories(root() / "usr/bin");
    fs::copy_file(LLMD_BIN, root() / "usr/bin/llmd");
    // ExecReload= runs /bin/kill: the root has it where the system does.
    const fs::path kill = fs::exists("/usr/bin/kill") ? "/usr/bin/kill" : "/bin/kill";
    fs::copy_file(kill, root() / "usr/bin/kill");
    fs::create_directory_symlink("usr/bin", root() / "bin");
    fs::create_directories(root() / "etc/systemd/system");
    write_file(root() / "etc/systemd/system/llmd.service", unit_text);
  }
  fs::path root() const { return dir_.path() / "root"; }

  void add_unit(const std::string& name, const std::string& text) const {
    write_file(root() / "etc/systemd/system" / name, text);
  }

  RunResult verify(const std::string& unit = "llmd.service") const {
    return run_command({find_systemd_analyze(), "verify", "--man=no", "--root=" + root().string(),
                        "/etc/systemd/system/" + unit});
  }

 private:
  TempDir dir_;
};

TEST(SystemdUnit, DeclaresTheServiceContract) {
  std::string unit = read_file(kUnit);
  for (const char* line : {"Type=notify\n", "ExecStart=/usr/bin/llmd serve --config /etc/llmd/llmd.toml\n",
                           "Restart=on-failure\n", "NotifyAccess=main\n", "ExecReload=/bin/kill -HUP $MAINPID\n"}) {
    EXPECT_NE(unit.find(line), std::string::npos) << line;
  }
  EXPECT_NE(unit.find("\nWatchdogSec="), std::string::npos);
}

TEST(SystemdUnit, SystemdAnalyzeVerifyAcceptsIt) {
  ASSERT_FALSE(find_systemd_analyze().empty()) << "systemd-analyze is missing (scripts/setup.sh installs systemd)";
  UnitRoot good(read_file(kUnit));
  auto r = good.verify();
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "") << "systemd-analyze has remarks";
}

TEST(SystemdUnit, HardeningKeepsTheNvidiaDevices) {
  std::string unit = read_file(kUnit);
  for (const char* line :
       {"\nDevicePolicy=closed\n", "\nDeviceAllow=/dev/nvidiactl rw\n", "\nDeviceAllow=/dev/nvidia-uvm rw\n",
        "\nDeviceAllow=/dev/nvidia-uvm-tools rw\n", "\nDeviceAllow=char-nvidia-frontend rw\n",
        "\nNoNewPrivileges=yes\n", "\nCapabilityBoundingSet=\n", "\nProtectSystem=strict\n", "\nProtectHome=yes\n",
        "\nPrivateTmp=yes\n", "\nRestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n",
        "\nSystemCallFilter=@system-service\n", "\nUser=llmd\n", "\nLoadCredential=key.pem:/etc/llmd/tls/key.pem\n"}) {
    EXPECT_NE(unit.find(line), std::string::npos) << line;
  }
  // Each would take the GPU away (docs/OPERATIONS.md says why).
  for (const char* line : {"\nPrivateDevices=", "\nMemoryDenyWriteExecute=", "\nProcSubset=", "\nPrivateUsers="}) {
    EXPECT_EQ(unit.find(line), std::string::npos) << line;
  }
}

TEST(SystemdUnit, SecurityExposureIsAtMostTwo) {
  ASSERT_FALSE(find_systemd_analyze().empty()) << "systemd-analyze is missing (scripts/setup.sh installs systemd)";
  TempDir dir;
  write_file(dir / "llmd.service", read_file(kUnit));
  auto r = run_command(
      {find_systemd_analyze(), "security", "--offline=true", "--no-pager", (dir / "llmd.service").string()});
  const std::string marker = "Overall exposure level for llmd.service: ";
  size_t at = r.output.find(marker);
  ASSERT_NE(at, std::string::npos) << r.output;
  double exposure = std::stod(r.output.substr(at + marker.size()));
  std::printf("systemd-analyze security exposure of llmd.service: %.1f\n", exposure);
  EXPECT_LE(exposure, 2.0) << r.output;
}

TEST(SystemdUnit, VerifyCatchesMistakes) {
  // The same check rejects a unit whose binary is missing or that has a typo,
  // so the test above means something.
  ASSERT_FALSE(find_systemd_analyze().empty());
  std::string unit = read_file(kUnit);
  std::string missing = unit;
  missing.replace(missing.find("/usr/bin/llmd serve"), 13, "/usr/bin/llmdx");
  auto r = UnitRoot(missing).verify();
  EXPECT_NE(r.status, 0) << r.output;

  std::string typo = unit;
  typo.replace(typo.find("Type=notify"), 11, "Type=notifi");
  r = UnitRoot(typo).verify();
  EXPECT_NE(r.output.find("Failed to parse service type"), std::string::npos) << r.output;
}

TEST(SystemdUnit, TheSocketUnitVerifiesBesideTheService) {
  ASSERT_FALSE(find_systemd_analyze().empty());
  const std::string socket = read_file(kUnit.parent_path() / "llmd.socket");
  EXPECT_NE(socket.find("\nListenStream=127.0.0.1:8443\n"), std::string::npos) << socket;
  UnitRoot root(read_file(kUnit));
  root.add_unit("llmd.socket", socket);
  auto r = root.verify("llmd.socket");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "") << "systemd-analyze has remarks";
}

}  // namespace
}  // namespace llmd::test
