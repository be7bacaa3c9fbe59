// js_api.cc — module-level functions. open() loads a family off the
// JavaScript thread and resolves to a Probe (js_probe.cc).
#include "js_api.h"

#include <utility>

#include "js_probe.h"
#include "js_util.h"
#include "probe.h"

namespace v2js {

namespace {

class OpenWorker : public Napi::AsyncWorker {
 public:
  OpenWorker(Napi::Env env, std::string family, v2::OpenOptions opts)
      : Napi::AsyncWorker(env, "v2probe.open"),
        deferred_(Napi::Promise::Deferred::New(env)),
        family_(std::move(family)),
        opts_(std::move(opts)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    core_ = v2::Probe::Open(family_, opts_, &st_);
    if (!core_) SetError(st_.message);
  }
  // Neither may throw: they can run while the environment shuts down. A
  // probe that cannot be handed over is closed by ~Probe.
  void OnOK() override {
    try {
      deferred_.Resolve(ProbeWrap::NewInstance(Env(), std::move(core_)));
    } catch (const Napi::Error& e) {
      try {
        deferred_.Reject(e.Value());
      } catch (const Napi::Error&) {
      }
    }
  }
  void OnError(const Napi::Error&) override {
    try {
      deferred_.Reject(MakeError(Env(), st_, family_).Value());
    } catch (const Napi::Error&) {
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string family_;
  v2::OpenOptions opts_;
  v2::Status st_;
  std::shared_ptr<v2::Probe> core_;  // closed by ~Probe if never handed to JS
};

}  // namespace

Napi::Value Families(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& fams = v2::Families();
  Napi::Array arr = Napi::Array::New(env, fams.size());
  for (size_t i = 0; i < fams.size(); i++) arr.Set(uint32_t(i), fams[i].name);
  return arr;
}

Napi::Value LibbpfVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), v2::LibbpfVersion());
}

// open(family, { ringBytes?, autoload?: {prog: bool}, maxEntries?: {map: n} })
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string family = ReadString(env, info[0], "family");
  Napi::Object opts = ReadOptObject(env, info[1], "opts");
  v2::OpenOptions o;
  ReadUint(env, opts.Get("ringBytes"), "opts.ringBytes", 1, double(1u << 30), &o.ringBytes);

  Napi::Object autoload = ReadOptObject(env, opts.Get("autoload"), "opts.autoload");
  Napi::Array names = autoload.GetPropertyNames();
  for (uint32_t i = 0; i < names.Length(); i++) {
    std::string prog = names.Get(i).ToString().Utf8Value();
    Napi::Value v = autoload.Get(prog);
    if (!v.IsBoolean()) ThrowType(env, "expected opts.autoload." + prog + " to be a boolean");
    o.autoload.emplace_back(prog, v.As<Napi::Boolean>().Value());
  }

  Napi::Object maxEntries = ReadOptObject(env, opts.Get("maxEntries"), "opts.maxEntries");
  names = maxEntries.GetPropertyNames();
  for (uint32_t i = 0; i < names.Length(); i++) {
    std::string map = names.Get(i).ToString().Utf8Value();
    Napi::Value v = maxEntries.Get(map);
    uint64_t n = 0;
    if (v.IsUndefined()) ThrowType(env, "expected opts.maxEntries." + map + " to be a number");
    ReadUint(env, v, "opts.maxEntries." + map, 1, 4294967295.0, &n);
    o.maxEntries.emplace_back(map, uint32_t(n));
  }

  Napi::Object rodata = ReadOptObject(env, opts.Get("rodata"), "opts.rodata");
  names = rodata.GetPropertyNames();
  for (uint32_t i = 0; i < names.Length(); i++) {
    std::string var = names.Get(i).ToString().Utf8Value();
    Napi::Value v = rodata.Get(var);
    uint64_t n = 0;
    if (v.IsUndefined()) ThrowType(env, "expected opts.rodata." + var + " to be a number");
    ReadUint(env, v, "opts.rodata." + var, 0, 18446744073709551615.0, &n);
    o.rodata.emplace_back(var, n);
  }

  auto* w = new OpenWorker(env, std::move(family), std::move(o));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace v2js
