// Placeholder: CaptureHandle is implemented by the capture side of issue 13 (see src/native.ts for the contract).
#include "common.h"

namespace packet_io {

static Napi::Value Construct(const Napi::CallbackInfo& info) {
  ThrowNative(info.Env(), "open-failed", "CaptureHandle is not implemented yet");
  return info.Env().Undefined();
}

void InitCapture(Napi::Env env, Napi::Object exports) {
  exports.Set("CaptureHandle", Napi::Function::New(env, Construct, "CaptureHandle"));
}

}  // namespace packet_io
