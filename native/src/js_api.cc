// js_api.cc — module-level functions. open() loads a family off the
// JavaScript thread and resolves to a Probe (js_probe.cc); dropCapabilities()
// runs the process-wide drop of caps.cc on the calling (JavaScript) thread.
#include "js_api.h"

#include <cstdio>
#include <utility>

#include "caps.h"
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

namespace {

std::string CapHex(uint64_t v) {
  char b[20];
  snprintf(b, sizeof b, "%016llx", (unsigned long long)v);
  return b;
}

Napi::Array CapNames(Napi::Env env, uint64_t mask) {
  Napi::Array a = Napi::Array::New(env);
  for (int c = 0; c < 64; c++)
    if (mask & (1ull << c)) a.Set(a.Length(), v2::CapName(c));
  return a;
}

Napi::Object ReportObject(Napi::Env env, const v2::CapDropReport& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("kept", CapNames(env, r.target));
  o.Set("keptMask", CapHex(r.target));
  o.Set("dropped", CapNames(env, (r.beforePrm | r.beforeEff) & ~r.target));
  o.Set("before", CapHex(r.beforePrm));
  o.Set("boundingDropped", r.boundingDropped);
  o.Set("noNewPrivs", r.noNewPrivs);
  o.Set("signal", r.signal);
  o.Set("rounds", r.rounds);
  Napi::Array threads = Napi::Array::New(env, r.threads.size());
  for (size_t i = 0; i < r.threads.size(); i++) {
    const auto& t = r.threads[i];
    Napi::Object x = Napi::Object::New(env);
    x.Set("tid", t.tid);
    x.Set("name", t.name);
    x.Set("via", t.via);
    x.Set("ok", t.ok);
    if (t.err) {
      x.Set("errno", t.err);
      x.Set("code", v2::ErrnoName(t.err));
      x.Set("step", t.step);
    }
    x.Set("capEff", CapHex(t.eff));
    x.Set("capPrm", CapHex(t.prm));
    x.Set("capInh", CapHex(t.inh));
    x.Set("capBnd", CapHex(t.bnd));
    x.Set("capAmb", CapHex(t.amb));
    x.Set("noNewPrivs", t.noNewPrivs);
    threads.Set(uint32_t(i), x);
  }
  o.Set("threads", threads);
  return o;
}

}  // namespace

// dropCapabilities(keep: Array<string | number>, opts?: { timeoutMs?, noNewPrivs?, dropBounding? })
// Synchronous: the calling thread changes itself and waits for the others.
Napi::Value DropCapabilities(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) ThrowType(env, "expected keep to be an array of capability names or numbers");
  Napi::Array keep = info[0].As<Napi::Array>();
  v2::CapDropOptions o;
  for (uint32_t i = 0; i < keep.Length(); i++) {
    Napi::Value v = keep.Get(i);
    int cap = -1;
    if (v.IsNumber()) {
      uint64_t n = 0;
      ReadUint(env, v, "keep[" + std::to_string(i) + "]", 0, 63, &n);
      cap = int(n);
    } else if (v.IsString()) {
      cap = v2::CapFromName(v.As<Napi::String>().Utf8Value());
      if (cap < 0) ThrowType(env, "keep[" + std::to_string(i) + "]: unknown capability '" + v.As<Napi::String>().Utf8Value() + "'");
    } else {
      ThrowType(env, "expected keep[" + std::to_string(i) + "] to be a capability name or number");
    }
    o.keep |= 1ull << cap;
  }
  Napi::Object opts = ReadOptObject(env, info[1], "opts");
  uint64_t timeout = uint64_t(o.timeoutMs);
  ReadUint(env, opts.Get("timeoutMs"), "opts.timeoutMs", 1, 600000, &timeout);
  o.timeoutMs = int(timeout);
  for (const char* k : {"noNewPrivs", "dropBounding"}) {
    Napi::Value v = opts.Get(k);
    if (v.IsUndefined()) continue;
    if (!v.IsBoolean()) ThrowType(env, std::string("expected opts.") + k + " to be a boolean");
    (std::string(k) == "noNewPrivs" ? o.noNewPrivs : o.dropBounding) = v.As<Napi::Boolean>().Value();
  }

  v2::CapDropReport report;
  v2::Status st = v2::DropCapabilities(o, &report);
  Napi::Object r = ReportObject(env, report);
  if (st.ok()) return r;
  Napi::Error e = Napi::Error::New(env, st.message);
  Napi::Object eo = e.Value();
  eo.Set("code", v2::ErrnoName(st.err));
  eo.Set("errno", st.err);
  if (report.failedTid) eo.Set("tid", report.failedTid);
  eo.Set("report", r);
  throw e;
}

}  // namespace v2js
