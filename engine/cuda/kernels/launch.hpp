// Programmatic dependent launch (sm_90 and later): a kernel launched this way
// may be scheduled while the kernel before it in the stream is still running,
// so its blocks are resident by the time the data
// they depend on is ready. Every kernel launched through launch_kernel() calls
// dev::pdl_wait() before it touches memory that earlier kernels write or read,
// which keeps the stream's order of effects.
//
// The switch is per host thread (the thread that enqueues a backend's work),
// so backends with different settings can share a process.
#pragma once

namespace llmd::engine::cuda {

bool programmatic_launch();
void set_programmatic_launch(bool on);

// Turns programmatic launch on or off for the current thread while in scope.
class ProgrammaticLaunchScope {
 public:
  explicit ProgrammaticLaunchScope(bool on) : saved_(programmatic_launch()) { set_programmatic_launch(on); }
  ~ProgrammaticLaunchScope() { set_programmatic_launch(saved_); }
  ProgrammaticLaunchScope(const ProgrammaticLaunchScope&) = delete;
  ProgrammaticLaunchScope& operator=(const ProgrammaticLaunchScope&) = delete;

 private:
  bool saved_;
};

}  // namespace llmd::engine::cuda
