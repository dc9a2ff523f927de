// A Transport over bytes in memory, for driving a real http Session without
// sockets: reads hand out the client's bytes in pieces of varying size (the
// way TCP may split them), writes collect the server's answer. When the
// bytes run out the next read stays pending for a while (the session keeps
// serving what it has already read, as with a client that waits), then ends
// with end-of-file. Everything completes through the executor, never inline,
// as with real sockets.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "daemon/http/transport.hpp"

namespace llmd::fuzz {

struct MemoryWire {
  std::string input;           // what the client sends
  std::size_t consumed = 0;    // how much of it the server has read
  std::string output;          // what the server wrote
  std::uint64_t split_seed = 0;  // decides the sizes of the pieces reads get
  bool closed = false;         // the server closed the connection
  bool shut_send = false;      // the server half-closed (lingering close)
};

// `hold_hops`: how many turns of the executor a read at the end of the input
// waits before it sees end-of-file.
std::unique_ptr<http::detail::Transport> make_memory_transport(boost::asio::any_io_executor ex,
                                                               std::shared_ptr<MemoryWire> wire,
                                                               int hold_hops = 64);

}  // namespace llmd::fuzz
