// hugeBuffer: a Buffer in memory the kernel may back with transparent huge pages. On this project's
// paravirtualised test machine a fresh 1 MiB Buffer costs 4 ms of page faults on first touch (16 µs a
// 4 KiB page); one 2 MiB huge page costs 0.25 ms. Buffers that are read into once and then reused (the
// replayer's chunks) start out that much sooner.
#include <errno.h>
#include <sys/mman.h>

#include <cstdint>

#include "common.h"

namespace packet_io {

namespace {

constexpr size_t kHugePage = 2 << 20;

struct Mapping {
  void* address;
  size_t length;
};

Napi::Value HugeBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowNative(env, "bad-option", "hugeBuffer(size): a size in bytes");
    return env.Undefined();
  }
  const double requested = info[0].As<Napi::Number>().DoubleValue();
  if (!(requested >= 1 && requested <= double(1u << 30))) {
    ThrowNative(env, "bad-option", "hugeBuffer(size): size must be 1 byte to 1 GiB");
    return env.Undefined();
  }
  const size_t size = size_t(requested);
  const size_t length = (size + kHugePage - 1) / kHugePage * kHugePage;
  // Mapped with a huge page's worth to spare, then trimmed to a 2 MiB-aligned stretch: the kernel
  // backs only aligned 2 MiB ranges with huge pages.
  void* raw = mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    ThrowNative(env, "io-failed", "hugeBuffer(): mmap failed", errno);
    return env.Undefined();
  }
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePage - 1) & ~uintptr_t(kHugePage - 1);
  if (aligned > start) munmap(raw, aligned - start);
  const uintptr_t tail = aligned + length;
  const uintptr_t end = start + length + kHugePage;
  if (end > tail) munmap(reinterpret_cast<void*>(tail), end - tail);
  void* address = reinterpret_cast<void*>(aligned);
  // Advice only: without transparent huge pages (or with them off) the memory is ordinary pages.
  madvise(address, length, MADV_HUGEPAGE);
  auto* mapping = new Mapping{address, length};
  Napi::MemoryManagement::AdjustExternalMemory(env, int64_t(length));
  return Napi::Buffer<uint8_t>::New(
      env, static_cast<uint8_t*>(address), size,
      [](Napi::Env finalizing, uint8_t*, Mapping* owned) {
        munmap(owned->address, owned->length);
        Napi::MemoryManagement::AdjustExternalMemory(finalizing, -int64_t(owned->length));
        delete owned;
      },
      mapping);
}

}  // namespace

void InitMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("hugeBuffer", Napi::Function::New(env, HugeBuffer, "hugeBuffer"));
}

}  // namespace packet_io
