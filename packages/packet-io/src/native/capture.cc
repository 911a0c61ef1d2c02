// CaptureHandle: a libpcap handle that hands packets to JavaScript a whole batch at a time.
//
// libpcap opens and activates the interface (so BPF, snaplen, promiscuous mode, buffer size, timeout and
// link type stay libpcap's); pcap_dispatch then runs in C, and its callback writes each packet straight
// into the JavaScript-owned buffer as a classic pcap record (16-byte header in host byte order, with
// microseconds, then the captured bytes). One dispatch() returns a whole batch; nothing here calls
// JavaScript per packet. Readiness comes from a uv_poll on libpcap's selectable descriptor: one JavaScript
// callback per readiness. close() really closes (poll stopped, pcap_close), and an async cleanup hook
// closes a handle still open when its environment (a worker thread) goes away.
#include <linux/if_packet.h>
#include <pcap/pcap.h>
#include <sys/socket.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common.h"

namespace packet_io {

namespace {

constexpr size_t kRecordHeader = 16;

// Where one dispatch() writes: the caller's buffer, and records that did not fit (carried to the next call).
struct Batch {
  pcap_t* pcap;
  uint8_t* base;
  size_t at;
  size_t end;
  size_t room;  // bytes a record may need: snaplen + header
  uint32_t* offsets;
  uint32_t count;
  uint32_t max;
  std::vector<uint8_t>* overflow;
};

void WriteHeader(uint8_t* to, const struct pcap_pkthdr* header) {
  const uint32_t fields[4] = {static_cast<uint32_t>(header->ts.tv_sec), static_cast<uint32_t>(header->ts.tv_usec),
                              header->caplen, header->len};
  std::memcpy(to, fields, kRecordHeader);
}

// pcap_dispatch's callback: the only per-packet code, in C.
void OnPacket(u_char* user, const struct pcap_pkthdr* header, const u_char* bytes) {
  Batch* batch = reinterpret_cast<Batch*>(user);
  const size_t size = kRecordHeader + header->caplen;
  if (batch->at + size <= batch->end && batch->count < batch->max) {
    WriteHeader(batch->base + batch->at, header);
    std::memcpy(batch->base + batch->at + kRecordHeader, bytes, header->caplen);
    batch->offsets[batch->count++] = static_cast<uint32_t>(batch->at);
    batch->at += size;
  } else {
    // libpcap clamps caplen to the snapshot, so this is not reached while room is checked below; keep
    // the packet anyway rather than lose it.
    const size_t was = batch->overflow->size();
    batch->overflow->resize(was + size);
    WriteHeader(batch->overflow->data() + was, header);
    std::memcpy(batch->overflow->data() + was + kRecordHeader, bytes, header->caplen);
  }
  // The TPACKET_V3 loop checks break_loop before every packet, keeps its place in the block and clears
  // the flag before it returns. (The packet count needs no break: pcap_dispatch's cnt stops at it.)
  if (batch->end - batch->at < batch->room) pcap_breakloop(batch->pcap);
}

const char* ActivateReason(int status) {
  switch (status) {
    case PCAP_ERROR_NO_SUCH_DEVICE:
      return "no-such-interface";
    case PCAP_ERROR_PERM_DENIED:
    case PCAP_ERROR_PROMISC_PERM_DENIED:
      return "permission-denied";
    case PCAP_ERROR_IFACE_NOT_UP:
      return "interface-down";
    default:
      return "open-failed";
  }
}

// Why a running capture broke, from libpcap's words (pcap_dispatch has only PCAP_ERROR): the interface
// was deleted (ENODEV, "The interface disappeared") or taken down (ENETDOWN); else an I/O failure.
const char* LostReason(const std::string& said, int* errnum) {
  if (said.find("disappeared") != std::string::npos || said.find("No such device") != std::string::npos) {
    *errnum = ENODEV;
    return "no-such-interface";
  }
  if (said.find("went down") != std::string::npos || said.find("Network is down") != std::string::npos) {
    *errnum = ENETDOWN;
    return "interface-down";
  }
  return "io-failed";
}

// pcap_datalink() gives a DLT_ value; files want the LINKTYPE_ value, which differs only below 104.
int LinkTypeOf(int dlt) {
  switch (dlt) {
    case DLT_ATM_RFC1483:
      return 100;
    case DLT_RAW:
#if defined(DLT_RAW) && DLT_RAW != 14
    case 14:
#endif
      return 101;
    case DLT_SLIP_BSDOS:
      return 102;
    case DLT_PPP_BSDOS:
      return 103;
    case DLT_ATM_CLIP:
      return 106;
    default:
      return dlt;
  }
}

int FanoutMode(const std::string& name) {
  if (name == "hash") return PACKET_FANOUT_HASH;
  if (name == "lb") return PACKET_FANOUT_LB;
  if (name == "cpu") return PACKET_FANOUT_CPU;
  if (name == "rollover") return PACKET_FANOUT_ROLLOVER;
  if (name == "random") return PACKET_FANOUT_RND;
  if (name == "qm") return PACKET_FANOUT_QM;
  return -1;
}

std::string StringOption(const Napi::Object& options, const char* name, const std::string& fallback) {
  Napi::Value value = options.Get(name);
  return value.IsString() ? value.As<Napi::String>().Utf8Value() : fallback;
}

int64_t NumberOption(const Napi::Object& options, const char* name, int64_t fallback) {
  Napi::Value value = options.Get(name);
  return value.IsNumber() ? value.As<Napi::Number>().Int64Value() : fallback;
}

bool BoolOption(const Napi::Object& options, const char* name, bool fallback) {
  Napi::Value value = options.Get(name);
  return value.IsBoolean() ? value.As<Napi::Boolean>().Value() : fallback;
}

}  // namespace

class CaptureHandle : public Napi::ObjectWrap<CaptureHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "CaptureHandle",
                       {
                           InstanceAccessor<&CaptureHandle::LinkType>("linkType"),
                           InstanceAccessor<&CaptureHandle::Snaplen>("snaplen"),
                           InstanceAccessor<&CaptureHandle::FanoutGroup>("fanoutGroup"),
                           InstanceAccessor<&CaptureHandle::Warning>("warning"),
                           InstanceMethod<&CaptureHandle::Dispatch>("dispatch"),
                           InstanceMethod<&CaptureHandle::Poll>("poll"),
                           InstanceMethod<&CaptureHandle::Stats>("stats"),
                           InstanceMethod<&CaptureHandle::Close>("close"),
                       });
  }

  explicit CaptureHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CaptureHandle>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
      ThrowNative(env, "bad-option", "CaptureHandle needs an options object");
      return;
    }
    Napi::Object options = info[0].As<Napi::Object>();
    const std::string device = StringOption(options, "device", "");
    if (device.empty()) {
      ThrowNative(env, "bad-option", "CaptureHandle needs a device (an interface name or, offline, a file)");
      return;
    }
    const bool offline = BoolOption(options, "offline", false);
    if (offline ? !OpenOffline(env, device) : !OpenLive(env, options, device)) return;
    if (!SetFilter(env, StringOption(options, "filter", ""))) return;
    if (!offline && pcap_setnonblock(pcap_, 1, errbuf_) != 0) {
      Fail(env, "open-failed", "pcap_setnonblock failed", 0, errbuf_);
      return;
    }
    linkType_ = LinkTypeOf(pcap_datalink(pcap_));
    snaplen_ = pcap_snapshot(pcap_);
    napi_add_async_cleanup_hook(env, &CaptureHandle::OnEnvCleanup, this, &cleanup_);
  }

  ~CaptureHandle() override { Release(); }

 private:
  pcap_t* pcap_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference onReadable_;
  napi_async_cleanup_hook_handle cleanup_ = nullptr;
  std::vector<uint8_t> overflow_;
  int linkType_ = 0;
  int snaplen_ = 0;
  int fanoutGroup_ = -1;
  std::string warning_;
  char errbuf_[PCAP_ERRBUF_SIZE] = {0};

  bool OpenOffline(Napi::Env env, const std::string& path) {
    pcap_ = pcap_open_offline(path.c_str(), errbuf_);
    if (pcap_ == nullptr) {
      ThrowNative(env, "open-failed", "cannot read " + path + ": " + errbuf_, 0, errbuf_);
      return false;
    }
    return true;
  }

  bool OpenLive(Napi::Env env, const Napi::Object& options, const std::string& device) {
    pcap_ = pcap_create(device.c_str(), errbuf_);
    if (pcap_ == nullptr) {
      ThrowNative(env, "open-failed", "pcap_create(" + device + ") failed: " + errbuf_, 0, errbuf_);
      return false;
    }
    const int64_t timeout = NumberOption(options, "timeoutMs", 100);
    if (timeout <= 0) {
      // libpcap's immediate mode falls back to a ring of 64 KiB slots that holds only a few thousand packets.
      Fail(env, "bad-option", "timeoutMs must be > 0 (immediate mode is never used)");
      return false;
    }
    pcap_set_snaplen(pcap_, static_cast<int>(NumberOption(options, "snaplen", 65535)));
    pcap_set_promisc(pcap_, BoolOption(options, "promiscuous", true) ? 1 : 0);
    pcap_set_timeout(pcap_, static_cast<int>(timeout));
    pcap_set_buffer_size(pcap_, static_cast<int>(NumberOption(options, "bufferSize", 64 << 20)));
    const int status = pcap_activate(pcap_);
    if (status < 0) {
      // libpcap leaves its own words in the error buffer for most statuses; the status names the rest.
      const std::string detail = pcap_geterr(pcap_);
      const std::string said = detail.empty() ? std::string(pcap_statustostr(status)) : detail;
      Fail(env, ActivateReason(status), "cannot capture on " + device + ": " + said, 0, said);
      return false;
    }
    if (status > 0) warning_ = std::string(pcap_statustostr(status)) + ": " + pcap_geterr(pcap_);
    // Join the fanout group first: until then this socket takes every packet on its own.
    Napi::Value fanout = options.Get("fanout");
    if (fanout.IsObject() && !JoinFanout(env, fanout.As<Napi::Object>())) return false;
    const std::string direction = StringOption(options, "direction", "inout");
    if (direction != "inout") {
      const pcap_direction_t d = direction == "in" ? PCAP_D_IN : PCAP_D_OUT;
      if ((direction != "in" && direction != "out") || pcap_setdirection(pcap_, d) != 0) {
        Fail(env, "bad-option", "direction " + direction + " refused: " + pcap_geterr(pcap_));
        return false;
      }
    }
    return true;
  }

  bool JoinFanout(Napi::Env env, const Napi::Object& fanout) {
    const int mode = FanoutMode(StringOption(fanout, "mode", "hash"));
    if (mode < 0) {
      Fail(env, "bad-option", "fanout mode must be hash, lb, cpu, rollover, random or qm");
      return false;
    }
    Napi::Value group = fanout.Get("group");
    const bool unique = !group.IsNumber();
    const int id = unique ? 0 : group.As<Napi::Number>().Int32Value();
    if (id < 0 || id > 0xffff) {
      Fail(env, "bad-option", "fanout group must be 0..65535, or null for one the kernel picks");
      return false;
    }
    int flags = mode;
    if (BoolOption(fanout, "defrag", false)) flags |= PACKET_FANOUT_FLAG_DEFRAG;
    if (unique) flags |= PACKET_FANOUT_FLAG_UNIQUEID;
    int arg = id | (flags << 16);
    const int fd = pcap_fileno(pcap_);
    if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) != 0) {
      const int err = errno;
      Fail(env, err == EINVAL ? "bad-option" : "open-failed",
           "cannot join PACKET_FANOUT group " + (unique ? std::string("(new)") : std::to_string(id)) + ": " +
               std::strerror(err) +
               (err == EINVAL ? " (a group of that id exists with another mode or interface)" : ""),
           err);
      return false;
    }
    socklen_t length = sizeof(arg);
    if (getsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, &length) == 0) fanoutGroup_ = arg & 0xffff;
    return true;
  }

  bool SetFilter(Napi::Env env, const std::string& filter) {
    if (filter.empty()) return true;
    struct bpf_program program;
    if (pcap_compile(pcap_, &program, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      const std::string said = pcap_geterr(pcap_);
      Fail(env, "bad-filter", "BPF filter \"" + filter + "\" does not compile: " + said, 0, said);
      return false;
    }
    const int status = pcap_setfilter(pcap_, &program);
    pcap_freecode(&program);
    if (status != 0) {
      const std::string said = pcap_geterr(pcap_);
      Fail(env, "bad-filter", "BPF filter \"" + filter + "\" was refused: " + said, 0, said);
      return false;
    }
    return true;
  }

  // Throws after releasing what the constructor opened (the wrapper's destructor may run much later).
  void Fail(Napi::Env env, const char* reason, const std::string& message, int errnum = 0,
            const std::string& libpcap = "") {
    Release();
    ThrowNative(env, reason, message, errnum, libpcap);
  }

  bool CheckOpen(Napi::Env env) {
    if (pcap_ != nullptr) return true;
    ThrowNative(env, "closed", "the capture handle is closed");
    return false;
  }

  Napi::Value LinkType(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), linkType_); }
  Napi::Value Snaplen(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), snaplen_); }
  Napi::Value FanoutGroup(const Napi::CallbackInfo& info) {
    return fanoutGroup_ < 0 ? info.Env().Null() : Napi::Number::New(info.Env(), fanoutGroup_);
  }
  Napi::Value Warning(const Napi::CallbackInfo& info) {
    return warning_.empty() ? info.Env().Null() : Napi::String::New(info.Env(), warning_);
  }

  // dispatch(buffer, offset, offsets, maxPackets) -> count
  Napi::Value Dispatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    if (info.Length() < 4 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsTypedArray() ||
        !info[3].IsNumber()) {
      ThrowNative(env, "bad-option", "dispatch(buffer: Uint8Array, offset, offsets: Uint32Array, maxPackets)");
      return env.Undefined();
    }
    Napi::TypedArray buffer = info[0].As<Napi::TypedArray>();
    Napi::TypedArray offsets = info[2].As<Napi::TypedArray>();
    if (buffer.TypedArrayType() != napi_uint8_array || offsets.TypedArrayType() != napi_uint32_array) {
      ThrowNative(env, "bad-option", "dispatch wants a Uint8Array (or Buffer) and a Uint32Array");
      return env.Undefined();
    }
    const int64_t offset = info[1].As<Napi::Number>().Int64Value();
    const int64_t wanted = info[3].As<Napi::Number>().Int64Value();
    const size_t length = buffer.ByteLength();
    if (offset < 0 || static_cast<size_t>(offset) > length || length > UINT32_MAX) {
      ThrowNative(env, "bad-option", "dispatch: offset out of the buffer (or a buffer over 4 GiB)");
      return env.Undefined();
    }
    // offsets[count] holds the end of the last record, so at most offsets.length - 1 records.
    const int64_t slots = static_cast<int64_t>(offsets.ElementLength()) - 1;
    const uint32_t max = static_cast<uint32_t>(std::max<int64_t>(0, std::min<int64_t>(wanted, slots)));
    uint8_t* base = static_cast<uint8_t*>(buffer.ArrayBuffer().Data()) + buffer.ByteOffset();
    uint32_t* slotsAt = reinterpret_cast<uint32_t*>(static_cast<uint8_t*>(offsets.ArrayBuffer().Data()) +
                                                     offsets.ByteOffset());
    Batch batch{pcap_, base, static_cast<size_t>(offset), length, kRecordHeader + static_cast<size_t>(snaplen_),
                slotsAt, 0, max, &overflow_};
    TakeOverflow(batch);
    if (batch.count < batch.max && batch.end - batch.at >= batch.room) {
      int got = DispatchOnce(batch);
      // libpcap's file reader returns the packets it read before a break without clearing the flag, and
      // the next call returns "break" with none: that is not the end of the file.
      if (got == PCAP_ERROR_BREAK && batch.count == 0) got = DispatchOnce(batch);
      if (got == PCAP_ERROR) {
        // Packets already written stay valid; report them, and the error on the next call.
        if (batch.count == 0) {
          const std::string said = pcap_geterr(pcap_);
          int errnum = 0;
          ThrowNative(env, LostReason(said, &errnum), "pcap_dispatch failed: " + said, errnum, said);
          return env.Undefined();
        }
      }
    }
    slotsAt[batch.count] = static_cast<uint32_t>(batch.at);
    return Napi::Number::New(env, batch.count);
  }

  int DispatchOnce(Batch& batch) {
    return pcap_dispatch(pcap_, static_cast<int>(batch.max - batch.count), OnPacket,
                         reinterpret_cast<u_char*>(&batch));
  }

  // Moves records kept from an earlier call (in order) into this batch while they fit.
  void TakeOverflow(Batch& batch) {
    size_t used = 0;
    while (used < overflow_.size() && batch.count < batch.max) {
      uint32_t caplen;
      std::memcpy(&caplen, overflow_.data() + used + 8, sizeof(caplen));
      const size_t size = kRecordHeader + caplen;
      if (batch.at + size > batch.end) break;
      std::memcpy(batch.base + batch.at, overflow_.data() + used, size);
      batch.offsets[batch.count++] = static_cast<uint32_t>(batch.at);
      batch.at += size;
      used += size;
    }
    overflow_.erase(overflow_.begin(), overflow_.begin() + static_cast<std::ptrdiff_t>(used));
    // Records still kept must come out before newer ones: dispatch nothing new this call.
    if (!overflow_.empty()) batch.max = batch.count;
  }

  Napi::Value Poll(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    if (info.Length() < 1 || !info[0].IsFunction()) {
      ThrowNative(env, "bad-option", "poll(onReadable: () => void)");
      return env.Undefined();
    }
    const int fd = pcap_get_selectable_fd(pcap_);
    if (fd < 0) {
      ThrowNative(env, "bad-option", "this handle has no descriptor to poll (offline handles are read by dispatch)");
      return env.Undefined();
    }
    onReadable_ = Napi::Persistent(info[0].As<Napi::Function>());
    if (poll_ != nullptr) return env.Undefined();
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    poll_ = new uv_poll_t;
    int status = uv_poll_init(loop, poll_, fd);
    if (status == 0) {
      poll_->data = this;
      status = uv_poll_start(poll_, UV_READABLE, &CaptureHandle::OnReadable);
    }
    if (status != 0) {
      delete poll_;
      poll_ = nullptr;
      ThrowNative(env, "io-failed", std::string("cannot poll the capture descriptor: ") + uv_strerror(status));
    }
    return env.Undefined();
  }

  static void OnReadable(uv_poll_t* poll, int status, int /*events*/) {
    CaptureHandle* self = static_cast<CaptureHandle*>(poll->data);
    if (self == nullptr || self->onReadable_.IsEmpty()) return;
    Napi::Env env = self->onReadable_.Env();
    Napi::HandleScope scope(env);
    // An error on the socket (the interface went away) also wakes us: dispatch() then reports it.
    (void)status;
    self->onReadable_.MakeCallback(self->Value(), {});
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    struct pcap_stat stat;
    Napi::Object result = Napi::Object::New(env);
    if (pcap_stats(pcap_, &stat) != 0) std::memset(&stat, 0, sizeof(stat));  // offline: no counters
    result.Set("received", Napi::Number::New(env, stat.ps_recv));
    result.Set("droppedByKernel", Napi::Number::New(env, stat.ps_drop));
    result.Set("droppedByInterface", Napi::Number::New(env, stat.ps_ifdrop));
    return result;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }

  // Stops polling and closes the handle now; the uv_poll_t is freed once libuv has closed it.
  void Release() {
    if (poll_ != nullptr) {
      uv_poll_stop(poll_);
      poll_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* handle) {
        delete reinterpret_cast<uv_poll_t*>(handle);
      });
      poll_ = nullptr;
    }
    if (pcap_ != nullptr) {
      pcap_close(pcap_);
      pcap_ = nullptr;
    }
    if (!onReadable_.IsEmpty()) onReadable_.Reset();
    if (cleanup_ != nullptr) {
      napi_remove_async_cleanup_hook(cleanup_);
      cleanup_ = nullptr;
    }
  }

  // The environment (a worker thread, or the main thread at exit) is going away with this handle open:
  // close the poll handle and tell Node once libuv has, so its loop closes with nothing left open.
  static void OnEnvCleanup(napi_async_cleanup_hook_handle hook, void* arg) {
    CaptureHandle* self = static_cast<CaptureHandle*>(arg);
    self->cleanup_ = nullptr;
    uv_poll_t* poll = self->poll_;
    self->poll_ = nullptr;
    if (poll != nullptr) uv_poll_stop(poll);  // before the descriptor closes
    if (self->pcap_ != nullptr) {
      pcap_close(self->pcap_);
      self->pcap_ = nullptr;
    }
    if (poll == nullptr) {
      napi_remove_async_cleanup_hook(hook);
      return;
    }
    poll->data = hook;
    uv_close(reinterpret_cast<uv_handle_t*>(poll), [](uv_handle_t* handle) {
      napi_async_cleanup_hook_handle done = static_cast<napi_async_cleanup_hook_handle>(handle->data);
      delete reinterpret_cast<uv_poll_t*>(handle);
      napi_remove_async_cleanup_hook(done);
    });
  }
};

void InitCapture(Napi::Env env, Napi::Object exports) {
  exports.Set("CaptureHandle", CaptureHandle::Define(env));
}

}  // namespace packet_io
