// js_util.h — small N-API helpers shared by the glue files: errors with
// {code, errno, probe}, argument checks that throw TypeError("expected ..."),
// and Buffers that take over a std::vector without copying.
#pragma once

#include <napi.h>

#include <cmath>
#include <string>
#include <unordered_set>
#include <vector>

#include "probe.h"

namespace v2js {

class ProbeWrap;

// Per-environment state (napi instance data).
struct AddonData {
  Napi::FunctionReference probeCtor;
  std::unordered_set<ProbeWrap*> probes;  // open or not yet finalized
};

inline Napi::Error MakeError(Napi::Env env, const v2::Status& st, const std::string& family) {
  if (st.typeError) return Napi::TypeError::New(env, st.message);
  Napi::Error e = Napi::Error::New(env, st.message);
  Napi::Object o = e.Value();
  o.Set("code", v2::ErrnoName(st.err));
  o.Set("errno", st.err);
  o.Set("probe", family);
  if (!st.log.empty()) o.Set("log", st.log);
  return e;
}

[[noreturn]] inline void ThrowType(Napi::Env env, const std::string& msg) {
  throw Napi::TypeError::New(env, msg);
}

// An integer in [min, max]; `undefined` leaves *out as it was.
inline void ReadUint(Napi::Env env, Napi::Value v, const std::string& what, double min,
                     double max, uint64_t* out) {
  if (v.IsUndefined()) return;
  if (!v.IsNumber()) ThrowType(env, "expected " + what + " to be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || d < min || d > max)
    ThrowType(env, "expected " + what + " to be an integer from " + std::to_string(uint64_t(min)) +
                       " to " + std::to_string(uint64_t(max)) + ", got " +
                       v.ToString().Utf8Value());
  *out = uint64_t(d);
}

inline std::string ReadString(Napi::Env env, Napi::Value v, const std::string& what) {
  if (!v.IsString()) ThrowType(env, "expected " + what + " to be a string");
  return v.As<Napi::String>().Utf8Value();
}

// Optional plain object (undefined/null -> empty object).
inline Napi::Object ReadOptObject(Napi::Env env, Napi::Value v, const std::string& what) {
  if (v.IsUndefined() || v.IsNull()) return Napi::Object::New(env);
  if (!v.IsObject() || v.IsArray() || v.IsFunction())
    ThrowType(env, "expected " + what + " to be an object");
  return v.As<Napi::Object>();
}

// A Buffer over the vector's heap storage; the Buffer owns it.
inline Napi::Buffer<uint8_t> BufferFrom(Napi::Env env, std::vector<uint8_t>&& bytes) {
  if (bytes.empty()) return Napi::Buffer<uint8_t>::New(env, 0);
  auto* owned = new std::vector<uint8_t>(std::move(bytes));
  return Napi::Buffer<uint8_t>::NewOrCopy(
      env, owned->data(), owned->size(),
      [](Napi::Env, uint8_t*, std::vector<uint8_t>* v) { delete v; }, owned);
}

}  // namespace v2js
