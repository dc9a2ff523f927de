#include "engine/cuda/kernels/launch.hpp"

namespace llmd::engine::cuda {
namespace {
thread_local bool g_programmatic = false;
}  // namespace

bool programmatic_launch() { return g_programmatic; }
void set_programmatic_launch(bool on) { g_programmatic = on; }

}  // namespace llmd::engine::cuda
