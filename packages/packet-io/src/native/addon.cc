#include <pcap/pcap.h>

#include <cstring>

#include "common.h"

namespace packet_io {

Napi::Error NewNativeError(Napi::Env env, const char* reason, const std::string& message, int errnum,
                           const std::string& libpcap) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("reason", Napi::String::New(env, reason));
  if (errnum != 0) {
    const char* name = strerrorname_np(errnum);
    error.Set("errno", Napi::String::New(env, name != nullptr ? name : std::to_string(errnum)));
  }
  if (!libpcap.empty()) error.Set("libpcap", Napi::String::New(env, libpcap));
  return error;
}

void ThrowNative(Napi::Env env, const char* reason, const std::string& message, int errnum,
                 const std::string& libpcap) {
  NewNativeError(env, reason, message, errnum, libpcap).ThrowAsJavaScriptException();
}

static Napi::Value Version(const Napi::CallbackInfo& info) {
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("libpcap", Napi::String::New(info.Env(), pcap_lib_version()));
  result.Set("abi", Napi::Number::New(info.Env(), kAbi));
  return result;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("version", Napi::Function::New(env, Version, "version"));
  InitCapture(env, exports);
  InitInject(env, exports);
  InitScan(env, exports);
  InitMemory(env, exports);
  return exports;
}

}  // namespace packet_io

// NODE_API_MODULE wants an unqualified name.
static Napi::Object InitPacketIo(Napi::Env env, Napi::Object exports) { return packet_io::Init(env, exports); }

NODE_API_MODULE(packet_io, InitPacketIo)
