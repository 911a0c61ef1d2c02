// Placeholder: InjectSocket is implemented by the inject side of issue 13 (see src/native.ts for the contract).
#include "common.h"

namespace packet_io {

static Napi::Value Construct(const Napi::CallbackInfo& info) {
  ThrowNative(info.Env(), "open-failed", "InjectSocket is not implemented yet");
  return info.Env().Undefined();
}

void InitInject(Napi::Env env, Napi::Object exports) {
  exports.Set("InjectSocket", Napi::Function::New(env, Construct, "InjectSocket"));
}

}  // namespace packet_io
