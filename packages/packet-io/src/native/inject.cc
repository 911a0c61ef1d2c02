// InjectSocket: an AF_PACKET SOCK_RAW socket bound to one interface that sends a whole batch of
// link-layer frames per JavaScript call (see NativeInjectSocket in src/native.ts).
//
// Protocol 0: the socket is never hooked into the receive path, so it has no receive ring to set up
// (libpcap's costs 12-19 ms at open here) and the kernel copies no frame to it.
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "common.h"

namespace packet_io {

namespace {

// sendmmsg takes at most UIO_MAXIOV messages per call.
constexpr size_t kMaxMessages = 1024;
// A full queue (ENOBUFS) or socket buffer (EAGAIN) is waited out inside one call for at most this
// long in all (counted from the first wait); then send() returns what it sent and the caller yields
// (to its event loop: a stop or a cancel) before calling again.
constexpr int64_t kBusyBudgetNs = 20'000'000;
// PACKET_TX_RING geometry: frames of one page hold any frame up to this; bigger ones go by sendmmsg.
constexpr unsigned kRingFrameSize = 4096;
constexpr unsigned kRingFrames = 1024;

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

const char* ReasonOf(int errnum) {
  switch (errnum) {
    case ENODEV:
    case ENXIO:
      return "no-such-interface";
    case ENETDOWN:
      return "interface-down";
    case EPERM:
    case EACCES:
      return "permission-denied";
    case EMSGSIZE:
      return "frame-too-big";
    default:
      return "io-failed";
  }
}

}  // namespace

class InjectSocket : public Napi::ObjectWrap<InjectSocket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "InjectSocket",
                       {InstanceMethod<&InjectSocket::Send>("send"),
                        InstanceMethod<&InjectSocket::SendAsync>("sendAsync"),
                        InstanceMethod<&InjectSocket::Stats>("stats"),
                        InstanceMethod<&InjectSocket::Close>("close"),
                        InstanceAccessor<&InjectSocket::Method>("method")});
  }

  explicit InjectSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<InjectSocket>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
      ThrowNative(env, "bad-option", "InjectSocket needs an options object { interface }");
      return;
    }
    Napi::Object options = info[0].As<Napi::Object>();
    Napi::Value name = options.Get("interface");
    if (!name.IsString()) {
      ThrowNative(env, "bad-option", "options.interface must be an interface name");
      return;
    }
    interface_ = name.As<Napi::String>().Utf8Value();
    bool qdisc_bypass = options.Get("qdiscBypass").ToBoolean().Value();
    Napi::Value method = options.Get("method");
    if (method.IsString()) {
      std::string m = method.As<Napi::String>().Utf8Value();
      if (m == "tx-ring") {
        use_ring_ = true;
      } else if (m != "sendmmsg") {
        ThrowNative(env, "bad-option", "options.method must be \"sendmmsg\" or \"tx-ring\", not \"" + m + "\"");
        return;
      }
    }
    if (interface_.empty() || interface_.size() >= IFNAMSIZ) {
      ThrowNative(env, "no-such-interface", "interface \"" + interface_ + "\" does not exist", ENODEV);
      return;
    }
    Open(env, qdisc_bypass);
  }

  ~InjectSocket() override { Release(); }

 private:
  void Open(Napi::Env env, bool qdisc_bypass) {
    // Protocol 0: send-only. SOCK_CLOEXEC: children the process spawns do not inherit the socket.
    fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      int e = errno;
      fd_ = -1;
      if (e == EPERM || e == EACCES) {
        ThrowNative(env, "permission-denied",
                    "an AF_PACKET socket needs CAP_NET_RAW: run as root or grant it (setcap cap_net_raw+eip "
                    "$(command -v node))",
                    e);
      } else {
        ThrowNative(env, "open-failed", std::string("socket(AF_PACKET) failed: ") + strerror(e), e);
      }
      return;
    }
    ifreq ifr;
    std::memset(&ifr, 0, sizeof ifr);
    std::strncpy(ifr.ifr_name, interface_.c_str(), IFNAMSIZ - 1);
    if (ioctl(fd_, SIOCGIFINDEX, &ifr) < 0) {
      return Fail(env, "no-such-interface", "interface \"" + interface_ + "\" does not exist");
    }
    int ifindex = ifr.ifr_ifindex;
    if (ioctl(fd_, SIOCGIFFLAGS, &ifr) < 0) {
      return Fail(env, "open-failed", "cannot read the flags of \"" + interface_ + "\"");
    }
    if ((ifr.ifr_flags & IFF_UP) == 0) {
      int saved = ENETDOWN;
      Release();
      ThrowNative(env, "interface-down", "interface \"" + interface_ + "\" is down", saved);
      return;
    }
    if (qdisc_bypass) {
      int one = 1;
      if (setsockopt(fd_, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) < 0) {
        return Fail(env, "open-failed", "PACKET_QDISC_BYPASS was refused");
      }
    }
    if (use_ring_ && !SetUpRing(env)) return;
    sockaddr_ll address;
    std::memset(&address, 0, sizeof address);
    address.sll_family = AF_PACKET;
    address.sll_protocol = 0;
    address.sll_ifindex = ifindex;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) < 0) {
      return Fail(env, errno == ENODEV ? "no-such-interface" : "open-failed",
                  "cannot bind to \"" + interface_ + "\"");
    }
  }

  bool SetUpRing(Napi::Env env) {
    int version = TPACKET_V2;
    if (setsockopt(fd_, SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0) {
      Fail(env, "open-failed", "PACKET_VERSION TPACKET_V2 was refused");
      return false;
    }
    tpacket_req request;
    request.tp_block_size = kRingFrameSize * 16;
    request.tp_frame_size = kRingFrameSize;
    request.tp_block_nr = kRingFrames / 16;
    request.tp_frame_nr = kRingFrames;
    if (setsockopt(fd_, SOL_PACKET, PACKET_TX_RING, &request, sizeof request) < 0) {
      Fail(env, "open-failed", "PACKET_TX_RING was refused");
      return false;
    }
    ring_size_ = size_t(kRingFrameSize) * kRingFrames;
    void* ring = mmap(nullptr, ring_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (ring == MAP_FAILED) {
      ring_size_ = 0;
      Fail(env, "open-failed", "cannot map the PACKET_TX_RING");
      return false;
    }
    ring_ = static_cast<uint8_t*>(ring);
    return true;
  }

  void Fail(Napi::Env env, const char* reason, const std::string& message) {
    int e = errno;
    Release();
    ThrowNative(env, reason, message + ": " + strerror(e), e);
  }

  void Release() {
    if (ring_ != nullptr) {
      munmap(ring_, ring_size_);
      ring_ = nullptr;
    }
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    // A send in flight on a pool thread still uses the socket: it is closed when that send ends.
    if (in_flight_) {
      close_pending_ = true;
    } else {
      Release();
    }
    return info.Env().Undefined();
  }

  Napi::Value Method(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), use_ring_ ? "tx-ring" : "sendmmsg");
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Object result = Napi::Object::New(info.Env());
    result.Set("sent", Napi::Number::New(info.Env(), double(sent_)));
    result.Set("calls", Napi::Number::New(info.Env(), double(calls_)));
    result.Set("retriesNoBuffers", Napi::Number::New(info.Env(), double(retries_enobufs_)));
    result.Set("retriesWouldBlock", Napi::Number::New(info.Env(), double(retries_eagain_)));
    return result;
  }

  // The arguments of send() and sendAsync(), checked.
  struct Batch {
    uint8_t* buffer = nullptr;
    const uint32_t* positions = nullptr;
    size_t first = 0;
    size_t count = 0;
  };

  // Checks send()'s arguments (throwing on a bad one, false returned) and fills `batch`.
  bool Arguments(const Napi::CallbackInfo& info, const char* name, Batch* batch) {
    Napi::Env env = info.Env();
    if (fd_ < 0) {
      ThrowNative(env, "closed", "this InjectSocket is closed");
      return false;
    }
    if (in_flight_) {
      ThrowNative(env, "bad-option", std::string(name) + "(): a sendAsync() is still in flight on this socket");
      return false;
    }
    if (info.Length() < 4 || !info[0].IsTypedArray() || !info[1].IsTypedArray() || !info[2].IsNumber() ||
        !info[3].IsNumber()) {
      ThrowNative(env, "bad-option",
                  std::string(name) + "(buffer: Uint8Array, positions: Uint32Array, first, count)");
      return false;
    }
    Napi::TypedArray bytes = info[0].As<Napi::TypedArray>();
    Napi::TypedArray positions_value = info[1].As<Napi::TypedArray>();
    if (bytes.TypedArrayType() != napi_uint8_array || positions_value.TypedArrayType() != napi_uint32_array) {
      ThrowNative(env, "bad-option", std::string(name) + "() takes a Uint8Array (or Buffer) and a Uint32Array");
      return false;
    }
    size_t buffer_length = bytes.ElementLength();
    const uint32_t* positions = positions_value.As<Napi::Uint32Array>().Data();
    size_t pairs = positions_value.ElementLength() / 2;
    double first_value = info[2].As<Napi::Number>().DoubleValue();
    double count_value = info[3].As<Napi::Number>().DoubleValue();
    if (!(first_value >= 0 && count_value >= 0 && first_value + count_value <= double(pairs))) {
      ThrowNative(env, "bad-option", std::string(name) + "(): first and count are outside positions");
      return false;
    }
    size_t first = size_t(first_value);
    size_t count = size_t(count_value);
    for (size_t i = first; i < first + count; i++) {
      if (uint64_t(positions[2 * i]) + positions[2 * i + 1] > buffer_length) {
        ThrowNative(env, "bad-option",
                    std::string(name) + "(): frame " + std::to_string(i) + " runs past the buffer's end");
        return false;
      }
    }
    *batch = {bytes.As<Napi::Uint8Array>().Data(), positions, first, count};
    return true;
  }

  // Sends `batch`; touches no JavaScript value, so it runs on a pool thread too.
  size_t Transmit(const Batch& batch, int* error) {
    size_t done = use_ring_ ? SendRing(batch.buffer, batch.positions, batch.first, batch.count, error)
                            : SendMessages(batch.buffer, batch.positions, batch.first, batch.count, error);
    calls_++;
    sent_ += done;
    return done;
  }

  // The error of a batch whose first frame the kernel refused.
  Napi::Error Refusal(Napi::Env env, const Batch& batch, int error) {
    std::string frame = std::to_string(batch.positions[2 * batch.first + 1]) + "-byte frame";
    std::string what = error == EMSGSIZE ? "the " + frame + " is longer than \"" + interface_ + "\" takes"
                                         : "sending a " + frame + " on \"" + interface_ + "\" failed";
    return NewNativeError(env, ReasonOf(error), what + ": " + strerror(error), error);
  }

  // send(buffer, positions, first, count): frames buffer[positions[2i], +positions[2i+1]) for i in
  // [first, first + count). Returns how many went out (see NativeInjectSocket.send).
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Batch batch;
    if (!Arguments(info, "send", &batch)) return env.Undefined();
    int error = 0;
    size_t done = Transmit(batch, &error);
    if (done == 0 && error != 0) {
      Refusal(env, batch, error).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Number::New(env, double(done));
  }

  // sendAsync(buffer, positions, first, count, callback): the same send on a libuv pool thread, so the
  // caller's thread can prepare the next batch meanwhile; callback(error, sent) on the caller's thread.
  // One at a time per socket; the buffers are kept alive until the callback.
  Napi::Value SendAsync(const Napi::CallbackInfo& info);

  friend class SendWorker;

  // Waits before retrying a full queue (ENOBUFS) or socket buffer (EAGAIN); false once the budget is spent.
  bool WaitBusy(int error, int64_t started) {
    int64_t left = kBusyBudgetNs - (MonotonicNs() - started);
    if (left <= 0) return false;
    if (error == EAGAIN) {
      retries_eagain_++;
      pollfd p = {fd_, POLLOUT, 0};
      poll(&p, 1, int(left / 1'000'000) + 1);
    } else {
      // A qdisc or device queue that refused a frame frees up as the device sends: tcpreplay retries at
      // once; yielding first lets the device's softirq or another process run.
      retries_enobufs_++;
      sched_yield();
    }
    return true;
  }

  size_t SendMessages(uint8_t* buffer, const uint32_t* positions, size_t first, size_t count, int* error) {
    size_t done = 0;
    int64_t busy_since = -1;
    while (done < count) {
      size_t batch = std::min(count - done, kMaxMessages);
      if (messages_.size() < batch) {
        messages_.resize(batch);
        vectors_.resize(batch);
      }
      for (size_t k = 0; k < batch; k++) {
        size_t i = first + done + k;
        vectors_[k].iov_base = buffer + positions[2 * i];
        vectors_[k].iov_len = positions[2 * i + 1];
        std::memset(&messages_[k], 0, sizeof(mmsghdr));
        messages_[k].msg_hdr.msg_iov = &vectors_[k];
        messages_[k].msg_hdr.msg_iovlen = 1;
      }
      int n = sendmmsg(fd_, messages_.data(), unsigned(batch), MSG_DONTWAIT);
      int e = errno;
      if (n > 0) {
        done += size_t(n);
        if (size_t(n) == batch) continue;
        // Partial: the kernel kept the next frame's error for the next call; take it now instead.
        socklen_t length = sizeof e;
        e = 0;
        getsockopt(fd_, SOL_SOCKET, SO_ERROR, &e, &length);
        if (e == 0) continue;
      }
      if (e == EINTR) continue;
      if (e == ENOBUFS || e == EAGAIN) {
        if (busy_since < 0) busy_since = MonotonicNs();
        if (WaitBusy(e, busy_since)) continue;
        return done;
      }
      *error = e;
      return done;
    }
    return done;
  }

  // PACKET_TX_RING: frames are copied into the ring's slots, then one send() hands them all to the kernel.
  size_t SendRing(uint8_t* buffer, const uint32_t* positions, size_t first, size_t count, int* error) {
    constexpr size_t data_offset = TPACKET2_HDRLEN - sizeof(sockaddr_ll);
    size_t done = 0;
    int64_t busy_since = -1;
    while (done < count) {
      // Fill as many free slots as the batch needs.
      size_t queued = 0;
      while (done + queued < count && queued < kRingFrames) {
        size_t i = first + done + queued;
        uint32_t length = positions[2 * i + 1];
        if (length > kRingFrameSize - data_offset) break;
        auto* header = reinterpret_cast<tpacket2_hdr*>(ring_ + size_t(ring_next_) * kRingFrameSize);
        if (__atomic_load_n(&header->tp_status, __ATOMIC_ACQUIRE) != TP_STATUS_AVAILABLE) break;
        std::memcpy(reinterpret_cast<uint8_t*>(header) + data_offset, buffer + positions[2 * i], length);
        header->tp_len = length;
        __atomic_store_n(&header->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
        ring_next_ = (ring_next_ + 1) % kRingFrames;
        queued++;
      }
      if (queued == 0) {
        size_t i = first + done;
        if (positions[2 * i + 1] > kRingFrameSize - data_offset) {
          // Too big for a slot: this one frame goes by sendmmsg.
          size_t n = SendMessages(buffer, positions, i, 1, error);
          if (n == 0) return done;
          done++;
          continue;
        }
      }
      // Blocks until the kernel took every queued slot (sent or failed).
      ssize_t r = send(fd_, nullptr, 0, 0);
      int e = errno;
      // Count the slots the kernel is done with, in ring order from the first queued.
      size_t slot = (ring_next_ + kRingFrames - queued) % kRingFrames;
      size_t taken = 0;
      for (; taken < queued; taken++) {
        auto* header = reinterpret_cast<tpacket2_hdr*>(ring_ + ((slot + taken) % kRingFrames) * kRingFrameSize);
        if (__atomic_load_n(&header->tp_status, __ATOMIC_ACQUIRE) != TP_STATUS_AVAILABLE) break;
      }
      done += taken;
      if (taken < queued) {
        // The rest were not sent: hand their slots back and report the kernel's error.
        for (size_t k = taken; k < queued; k++) {
          auto* header = reinterpret_cast<tpacket2_hdr*>(ring_ + ((slot + k) % kRingFrames) * kRingFrameSize);
          __atomic_store_n(&header->tp_status, TP_STATUS_AVAILABLE, __ATOMIC_RELEASE);
        }
        ring_next_ = (slot + taken) % kRingFrames;
        if (r < 0 && (e == ENOBUFS || e == EAGAIN)) {
          if (busy_since < 0) busy_since = MonotonicNs();
          if (WaitBusy(e, busy_since)) continue;
          return done;
        }
        *error = r < 0 ? e : EIO;
        return done;
      }
    }
    return done;
  }

  std::string interface_;
  int fd_ = -1;
  bool in_flight_ = false;
  bool close_pending_ = false;
  bool use_ring_ = false;
  uint8_t* ring_ = nullptr;
  size_t ring_size_ = 0;
  unsigned ring_next_ = 0;
  std::vector<mmsghdr> messages_;
  std::vector<iovec> vectors_;
  // Counted on a pool thread during a sendAsync(), read by stats() on the socket's.
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> calls_{0};
  std::atomic<uint64_t> retries_enobufs_{0};
  std::atomic<uint64_t> retries_eagain_{0};
};

// One sendAsync(): Execute() on a pool thread, OnOK() back on the socket's thread.
class SendWorker : public Napi::AsyncWorker {
 public:
  SendWorker(InjectSocket* socket, const Napi::Object& self, const Napi::Function& callback,
             const Napi::Value& buffer, const Napi::Value& positions, const InjectSocket::Batch& batch)
      : Napi::AsyncWorker(self, callback, "sluice:InjectSocket.sendAsync"),
        socket_(socket),
        buffer_(Napi::Persistent(buffer)),
        positions_(Napi::Persistent(positions)),
        batch_(batch) {}

  void Execute() override { done_ = socket_->Transmit(batch_, &error_); }

  void OnOK() override {
    Napi::Env env = Env();
    socket_->in_flight_ = false;
    Napi::Value error = env.Null();
    if (done_ == 0 && error_ != 0) error = socket_->Refusal(env, batch_, error_).Value();
    if (socket_->close_pending_) socket_->Release();
    buffer_.Reset();
    positions_.Reset();
    Callback().Call(Receiver().Value(), {error, Napi::Number::New(env, double(done_))});
  }

 private:
  InjectSocket* socket_;
  Napi::Reference<Napi::Value> buffer_;
  Napi::Reference<Napi::Value> positions_;
  InjectSocket::Batch batch_;
  size_t done_ = 0;
  int error_ = 0;
};

Napi::Value InjectSocket::SendAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[4].IsFunction()) {
    ThrowNative(env, "bad-option", "sendAsync(buffer, positions, first, count, callback)");
    return env.Undefined();
  }
  Batch batch;
  if (!Arguments(info, "sendAsync", &batch)) return env.Undefined();
  in_flight_ = true;
  auto* worker = new SendWorker(this, info.This().As<Napi::Object>(), info[4].As<Napi::Function>(), info[0],
                                info[1], batch);
  worker->Queue();
  return env.Undefined();
}

void InitInject(Napi::Env env, Napi::Object exports) { exports.Set("InjectSocket", InjectSocket::Define(env)); }

}  // namespace packet_io
