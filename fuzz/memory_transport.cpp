#include "fuzz/memory_transport.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <cstring>

namespace llmd::fuzz {

namespace net = boost::asio;
using boost::system::error_code;
using http::detail::DoneCallback;
using http::detail::IoCallback;

namespace {

// State the posted completions share with the transport, which the session
// may destroy while they are queued.
struct Shared {
  std::shared_ptr<MemoryWire> wire;
  IoCallback pending;          // a read waiting at the end of the input
  std::uint64_t pending_gen = 0;
};

class MemoryTransport final : public http::detail::Transport {
 public:
  MemoryTransport(net::any_io_executor ex, std::shared_ptr<MemoryWire> wire, int hold_hops)
      : ex_(std::move(ex)), s_(std::make_shared<Shared>()), hold_hops_(hold_hops) {
    s_->wire = std::move(wire);
  }

  net::any_io_executor executor() override { return ex_; }
  bool is_tls() const override { return false; }

  void handshake(DoneCallback cb) override {
    net::post(ex_, [cb = std::move(cb)] { cb({}); });
  }

  void read_some(net::mutable_buffer buf, IoCallback cb) override { read(buf, std::move(cb)); }
  void read_raw(net::mutable_buffer buf, IoCallback cb) override { read(buf, std::move(cb)); }

  void write(net::const_buffer buf, IoCallback cb) override {
    auto& w = *s_->wire;
    if (w.closed) {
      net::post(ex_, [cb = std::move(cb)] { cb(net::error::bad_descriptor, 0); });
      return;
    }
    w.output.append(static_cast<const char*>(buf.data()), buf.size());
    std::size_t n = buf.size();
    net::post(ex_, [cb = std::move(cb), n] { cb({}, n); });
  }

  void shutdown(DoneCallback cb) override {
    s_->wire->shut_send = true;
    net::post(ex_, [cb = std::move(cb)] { cb({}); });
  }
  void shutdown_send() override { s_->wire->shut_send = true; }

  std::size_t available() override {
    const auto& w = *s_->wire;
    return w.closed ? 0 : w.input.size() - w.consumed;
  }

  void cancel() override {
    if (!s_->pending) return;
    auto cb = std::move(s_->pending);
    s_->pending = nullptr;
    ++s_->pending_gen;
    net::post(ex_, [cb = std::move(cb)] { cb(net::error::operation_aborted, 0); });
  }

  void close() override {
    s_->wire->closed = true;
    cancel();
  }

 private:
  // The size of the next piece: mostly whole reads, sometimes a few bytes,
  // sometimes one, from a generator seeded by the input.
  std::size_t piece(std::size_t room) {
    auto& seed = s_->wire->split_seed;
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    std::uint32_t r = static_cast<std::uint32_t>(seed >> 33);
    std::size_t n = room;
    switch (r % 8) {
      case 0: n = 1; break;
      case 1: n = 1 + (r >> 8) % 16; break;
      case 2: n = 1 + (r >> 8) % 512; break;
      default: break;
    }
    return std::min(n, room);
  }

  void read(net::mutable_buffer buf, IoCallback cb) {
    auto& w = *s_->wire;
    if (w.closed) {
      net::post(ex_, [cb = std::move(cb)] { cb(net::error::bad_descriptor, 0); });
      return;
    }
    if (buf.size() == 0) {
      net::post(ex_, [cb = std::move(cb)] { cb({}, 0); });
      return;
    }
    std::size_t left = w.input.size() - w.consumed;
    if (left > 0) {
      std::size_t n = piece(std::min(buf.size(), left));
      std::memcpy(buf.data(), w.input.data() + w.consumed, n);
      w.consumed += n;
      net::post(ex_, [cb = std::move(cb), n] { cb({}, n); });
      return;
    }
    s_->pending = std::move(cb);
    hold(s_, ex_, ++s_->pending_gen, hold_hops_);
  }

  static void hold(std::shared_ptr<Shared> s, net::any_io_executor ex, std::uint64_t gen, int hops) {
    net::post(ex, [s, ex, gen, hops] {
      if (!s->pending || s->pending_gen != gen) return;  // cancelled meanwhile
      if (hops > 0) return hold(s, ex, gen, hops - 1);
      auto cb = std::move(s->pending);
      s->pending = nullptr;
      cb(net::error::eof, 0);
    });
  }

  net::any_io_executor ex_;
  std::shared_ptr<Shared> s_;
  int hold_hops_;
};

}  // namespace

std::unique_ptr<http::detail::Transport> make_memory_transport(net::any_io_executor ex, std::shared_ptr<MemoryWire> wire,
                                                               int hold_hops) {
  return std::make_unique<MemoryTransport>(std::move(ex), std::move(wire), hold_hops);
}

}  // namespace llmd::fuzz
