// scanRecords: finds the plain records at a record boundary of a pcap or pcapng chunk and writes their
// positions where the inject socket takes them from, in one call per run instead of a JavaScript call per
// record. What "plain" means is @sluice/pcap-format's rule (PlainRecords in its decoder-sink.ts): a record
// the decoder would hand on without a warning or an error. The scan stops at the first record that is
// not, or that is over the frame limit, and leaves it to the decoder.
#include <byteswap.h>

#include <cstdint>
#include <cstring>

#include "common.h"

namespace packet_io {

namespace {

// args: in/out fields of one call (a Uint32Array, so a call allocates nothing); see NativeAddon in
// src/native.ts for what each is.
enum Arg : size_t {
  kFormat = 0,  // 0 pcap, 1 pcapng
  kLittleEndian,
  kOffset,  // in and out
  kEnd,
  kFirst,
  kCapacity,
  kCount,  // out
  kFrameLimit,
  kTaggedFrameLimit,
  kMaxCaptured,
  kFractionOrBlockLimit,
  kInterfaceCount,
  kInterfaces,
};

constexpr uint32_t kEnhancedPacketBlock = 6;

struct Reader {
  const uint8_t* bytes;
  bool swap;
  uint32_t At(uint64_t offset) const {
    uint32_t value;
    std::memcpy(&value, bytes + offset, 4);
    return swap ? bswap_32(value) : value;
  }
};

bool HostIsLittleEndian() {
  const uint16_t one = 1;
  uint8_t first;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

// The frame limit of the frame at `data`: 4 more for an 802.1Q-tagged Ethernet frame.
inline uint32_t LimitOf(const uint8_t* data, uint32_t length, uint32_t limit, uint32_t tagged) {
  if (tagged != limit && length >= 14 && data[12] == 0x81 && data[13] == 0x00) return tagged;
  return limit;
}

Napi::Value ScanRecords(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsTypedArray() || !info[2].IsTypedArray()) {
    ThrowNative(env, "bad-option", "scanRecords(buffer, positions, args): three typed arrays");
    return env.Undefined();
  }
  Napi::TypedArray buffer = info[0].As<Napi::TypedArray>();
  Napi::TypedArray positionsArray = info[1].As<Napi::TypedArray>();
  Napi::TypedArray argsArray = info[2].As<Napi::TypedArray>();
  if (buffer.TypedArrayType() != napi_uint8_array || positionsArray.TypedArrayType() != napi_uint32_array ||
      argsArray.TypedArrayType() != napi_uint32_array) {
    ThrowNative(env, "bad-option", "scanRecords(): a Uint8Array and two Uint32Arrays");
    return env.Undefined();
  }
  const uint8_t* bytes = buffer.As<Napi::Uint8Array>().Data();
  const uint64_t byteLength = buffer.ByteLength();
  uint32_t* positions = positionsArray.As<Napi::Uint32Array>().Data();
  const uint64_t positionSlots = positionsArray.ElementLength();
  uint32_t* args = argsArray.As<Napi::Uint32Array>().Data();
  const uint64_t argCount = argsArray.ElementLength();
  if (argCount < kInterfaces || argCount < uint64_t{kInterfaces} + args[kInterfaceCount]) {
    ThrowNative(env, "bad-option", "scanRecords(): args is too short");
    return env.Undefined();
  }
  uint64_t offset = args[kOffset];
  const uint64_t end = args[kEnd];
  const uint64_t first = args[kFirst];
  const uint64_t capacity = args[kCapacity];
  if (end > byteLength || offset > end || capacity > positionSlots / 2 || first > capacity) {
    ThrowNative(env, "bad-option", "scanRecords(): offset, end, first or capacity out of range");
    return env.Undefined();
  }
  const Reader read{bytes, (args[kLittleEndian] != 0) != HostIsLittleEndian()};
  const uint32_t limit = args[kFrameLimit];
  const uint32_t tagged = args[kTaggedFrameLimit];
  const uint32_t maxCaptured = args[kMaxCaptured];
  uint64_t index = first;
  if (args[kFormat] == 0) {
    const uint32_t fractionLimit = args[kFractionOrBlockLimit];
    while (index < capacity && end - offset >= 16) {
      const uint32_t fraction = read.At(offset + 4);
      const uint32_t captured = read.At(offset + 8);
      const uint32_t original = read.At(offset + 12);
      if (captured > maxCaptured || captured > original || fraction >= fractionLimit) break;
      const uint64_t data = offset + 16;
      if (captured > end - data) break;
      if (captured > LimitOf(bytes + data, captured, limit, tagged)) break;
      positions[2 * index] = static_cast<uint32_t>(data);
      positions[2 * index + 1] = captured;
      index++;
      offset = data + captured;
    }
  } else {
    const uint32_t maxBlock = args[kFractionOrBlockLimit];
    const uint32_t interfaces = args[kInterfaceCount];
    const uint32_t* snaplens = args + kInterfaces;
    while (index < capacity && end - offset >= 32) {
      const uint32_t type = read.At(offset);
      const uint32_t length = read.At(offset + 4);
      if (type != kEnhancedPacketBlock || length < 32 || (length & 3) != 0 || length > maxBlock ||
          length > end - offset || read.At(offset + length - 4) != length) {
        break;
      }
      const uint32_t interface = read.At(offset + 8);
      const uint32_t captured = read.At(offset + 20);
      const uint32_t original = read.At(offset + 24);
      if (interface >= interfaces || captured > snaplens[interface] || captured > maxCaptured ||
          captured > original) {
        break;
      }
      const uint64_t padded = uint64_t{captured} + ((4 - (captured & 3)) & 3);
      if (28 + padded > uint64_t{length} - 4) break;
      const uint64_t data = offset + 28;
      if (captured > LimitOf(bytes + data, captured, limit, tagged)) break;
      positions[2 * index] = static_cast<uint32_t>(data);
      positions[2 * index + 1] = captured;
      index++;
      offset += length;
    }
  }
  args[kOffset] = static_cast<uint32_t>(offset);
  args[kCount] = static_cast<uint32_t>(index - first);
  return env.Undefined();
}

}  // namespace

void InitScan(Napi::Env env, Napi::Object exports) {
  exports.Set("scanRecords", Napi::Function::New(env, ScanRecords, "scanRecords"));
}

}  // namespace packet_io
