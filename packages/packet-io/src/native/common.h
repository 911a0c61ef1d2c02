// Shared by the addon's parts: the error shape src/native.ts documents.
#pragma once
#include <napi.h>

#include <string>

namespace packet_io {

// Must equal ADDON_ABI in src/binding.ts: the loader refuses a build with another value.
constexpr int kAbi = 2;

// Throws a JavaScript Error with `reason` (a NativeErrorReason), and `errno`/`libpcap` when given.
// With NAPI_DISABLE_CPP_EXCEPTIONS the caller must return right after.
void ThrowNative(Napi::Env env, const char* reason, const std::string& message, int errnum = 0,
                 const std::string& libpcap = "");

// The same Error, returned instead of thrown (to hand to a callback).
Napi::Error NewNativeError(Napi::Env env, const char* reason, const std::string& message, int errnum = 0,
                           const std::string& libpcap = "");

void InitCapture(Napi::Env env, Napi::Object exports);
void InitInject(Napi::Env env, Napi::Object exports);
void InitScan(Napi::Env env, Napi::Object exports);
void InitMemory(Napi::Env env, Napi::Object exports);

}  // namespace packet_io
