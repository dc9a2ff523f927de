// One fair share per device: the model loops placed on one device take turns
// through its arbiter, and a team's service is counted in device time across
// every model there.
//
// Each scheduler bound to the arbiter joins it as a member, calls acquire()
// with the teams of the step it has planned, runs the step, then release()
// with how long it took and how many tokens each team had in it, and idle()
// when it has nothing to do. The step's time is charged to the teams in
// proportion to their tokens, divided by their weights: a team using a large
// model pays more device time per token than one using a small model.
//
// The device is held in turns. A member's bid is the least device service
// among the teams of its latest step. When a turn ends the device goes to the
// waiting member with the lowest bid (ties: the one waiting longest); a busy
// member with a lower bid that is between two of its steps (sampling,
// planning) is waited for up to `grace`, so that a loop that steps back to
// back is not overtaken merely because another was already waiting. A turn
// lasts at least `quantum` of wall time: the holder's steps follow one
// another until then, so that a hand-over (a thread wake-up, tens of
// microseconds) is paid once per quantum and not once per step when steps are
// short; a step longer than the quantum is a turn of its own. Turns only
// change the order: every step is charged, so the shares over many turns are
// the weights' whatever the quantum. A team that becomes active (in no step
// for `idle_after`) starts at the least service of the teams active now: idle
// time banks no credit.
//
// Thread-safe. acquire() blocks only while another member's step runs, while
// another member's turn has not lasted `quantum`, or for at most `grace` per
// lower-bid member between its steps.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace llmd::scheduler {

struct TeamStepShare {
  std::string team;
  double weight = 1.0;  // > 0
  int64_t tokens = 0;   // tokens of this team in the step
};

struct DeviceTeamCounters {
  std::string team;
  double weight = 1.0;
  double device_seconds = 0.0;  // step time charged to it
  double service = 0.0;         // device seconds / weight, with the no-credit rule
};

struct DeviceArbiterStats {
  std::string device;
  uint64_t turns = 0;          // steps run through the arbiter
  uint64_t contended = 0;      // of those, steps that had to wait for another loop
  uint64_t handovers = 0;      // turns that went to another loop than the last
  double busy_seconds = 0.0;   // sum of step times
  std::vector<DeviceTeamCounters> teams;
};

class DeviceArbiter {
 public:
  // grace >= quantum: a holder between two steps of its turn keeps it.
  explicit DeviceArbiter(std::string device, std::chrono::milliseconds idle_after = std::chrono::milliseconds(500),
                         std::chrono::microseconds grace = std::chrono::microseconds(3000),
                         std::chrono::microseconds quantum = std::chrono::microseconds(2000))
      : device_(std::move(device)), idle_after_(idle_after), grace_(grace), quantum_(std::min(quantum, grace)) {}

  // A model loop takes part; the id names it in the calls below.
  int join();
  // It leaves (unloaded, moved away); it must not hold the turn.
  void leave(int member);
  // Blocks until `member` may run a step that serves `teams`; pair with release().
  void acquire(int member, const std::vector<TeamStepShare>& teams);
  // Ends the turn: charges `seconds` over the step's teams by their tokens.
  void release(int member, const std::vector<TeamStepShare>& teams, double seconds);
  // `member` has no work: nobody waits for it until its next acquire().
  void idle(int member);

  const std::string& device() const { return device_; }
  double service(const std::string& team) const;
  DeviceArbiterStats stats() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Team {
    DeviceTeamCounters c;
    Clock::time_point last_seen{};
  };
  struct Member {
    bool active = false;    // has work: stepping, waiting, or between steps
    bool waiting = false;   // inside acquire()
    uint64_t ticket = 0;    // arrival order of its current wait
    double bid = 0.0;
    std::vector<std::string> teams;  // of its latest step
    Clock::time_point released_at{};
  };

  // Lifts teams that were idle to the least active service; returns the bid.
  double bid_locked(const std::vector<TeamStepShare>& teams, Clock::time_point now);
  double current_bid_locked(const Member& m) const;
  // Whether `id` may take the device now; otherwise *until is when to look again.
  bool my_turn_locked(int id, Clock::time_point now, Clock::time_point* until) const;

  const std::string device_;
  const std::chrono::milliseconds idle_after_;
  const std::chrono::microseconds grace_;
  const std::chrono::microseconds quantum_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Team> teams_;
  std::map<int, Member> members_;
  int next_member_ = 0;
  bool busy_ = false;
  int holder_ = 0;                  // the member whose turn it is; 0: none
  Clock::time_point turn_start_{};  // when its turn began
  uint64_t next_ticket_ = 0;
  uint64_t turns_ = 0, contended_ = 0, handovers_ = 0;
  double busy_seconds_ = 0.0;
};

}  // namespace llmd::scheduler
