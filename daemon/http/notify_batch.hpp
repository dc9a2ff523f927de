// NotifyBatch: hands exchange notifications made on one busy producer thread to
// the I/O side in one go.
//
// The engine thread emits one token per stream per step. Posting each
// stream's notification on its own (one strand post each, and often one futex
// wake of an idle I/O thread each) costs more CPU than writing the token. A
// thread that opts in collects the notifications of a step and, at the end of
// the step, posts them to the I/O context as one job; on an I/O thread each
// connection's work then runs on its strand at once when the strand is free.
//
// Opt-in is per thread and happens at the first flush_this_thread() call, so
// a thread that never flushes never holds a notification back. The engine
// thread flushes after every step (SchedulerConfig::after_step); every event
// it emits comes from a step or from shutdown, which flushes too.
#pragma once

#include <memory>

namespace llmd::http {

namespace detail {
class ExchangeSink;
class ExchangeState;
}  // namespace detail

class NotifyBatch {
 public:
  // On a thread that has opted in: keeps the notification for the next flush
  // and returns true. Elsewhere returns false (the caller posts it itself).
  static bool defer(const std::weak_ptr<detail::ExchangeSink>& sink, std::shared_ptr<detail::ExchangeState> state);

  // Posts what this thread collected (one job per I/O context) and opts the
  // thread in to collecting from now on.
  static void flush_this_thread();
};

}  // namespace llmd::http
