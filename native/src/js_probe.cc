// js_probe.cc — N-API glue for one loaded probe. The libbpf work is in
// probe.cc; this file converts arguments and results and owns the
// ThreadSafeFunction that carries ring-buffer batches to JavaScript.
#include "js_probe.h"

#include <functional>
#include <utility>

#include "js_util.h"

namespace v2js {

namespace {

// attach() runs libbpf's attach calls off the JavaScript thread.
class AttachWorker : public Napi::AsyncWorker {
 public:
  using Fn = std::function<v2::Status(v2::Probe&, std::vector<v2::AttachResult>*)>;
  AttachWorker(Napi::Env env, std::shared_ptr<v2::Probe> core, Fn fn = nullptr)
      : Napi::AsyncWorker(env, "v2probe.attach"),
        deferred_(Napi::Promise::Deferred::New(env)),
        core_(std::move(core)),
        fn_(std::move(fn)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    st_ = fn_ ? fn_(*core_, &results_) : core_->Attach(&results_);
    if (!st_.ok()) SetError(st_.message);
  }
  void OnOK() override {
    try {
      Resolve();
    } catch (const Napi::Error&) {
      // JavaScript cannot run any more (environment shutting down): no one to tell.
    }
  }
  void OnError(const Napi::Error&) override {
    try {
      deferred_.Reject(MakeError(Env(), st_, core_->family()).Value());
    } catch (const Napi::Error&) {
    }
  }

 private:
  void Resolve() {
    Napi::Env env = Env();
    Napi::Array arr = Napi::Array::New(env, results_.size());
    for (size_t i = 0; i < results_.size(); i++) {
      const v2::AttachResult& r = results_[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("program", r.program);
      o.Set("section", r.section);
      o.Set("ok", r.ok);
      if (!r.ok) {
        o.Set("errno", r.err);
        o.Set("code", r.code);
        o.Set("error", r.error);
      }
      arr.Set(uint32_t(i), o);
    }
    deferred_.Resolve(arr);
  }

  Napi::Promise::Deferred deferred_;
  std::shared_ptr<v2::Probe> core_;
  Fn fn_;
  v2::Status st_;
  std::vector<v2::AttachResult> results_;
};

void ThrowStatus(Napi::Env env, const v2::Status& st, const std::string& family) {
  throw MakeError(env, st, family);
}

}  // namespace

Napi::Function ProbeWrap::DefineClass(Napi::Env env) {
  return ObjectWrap<ProbeWrap>::DefineClass(
      env, "Probe",
      {
          InstanceMethod<&ProbeWrap::Programs>("programs"),
          InstanceMethod<&ProbeWrap::Maps>("maps"),
          InstanceMethod<&ProbeWrap::Attach>("attach"),
          InstanceMethod<&ProbeWrap::StartPolling>("startPolling"),
          InstanceMethod<&ProbeWrap::Stats>("stats"),
          InstanceMethod<&ProbeWrap::ReadMap>("readMap"),
          InstanceMethod<&ProbeWrap::UpdateMap>("updateMap"),
          InstanceMethod<&ProbeWrap::DeleteMapEntry>("deleteMapEntry"),
          InstanceMethod<&ProbeWrap::ProgramStats>("programStats"),
          InstanceMethod<&ProbeWrap::RunProgram>("runProgram"),
          InstanceMethod<&ProbeWrap::Close>("close"),
          InstanceMethod<&ProbeWrap::AttachUprobes>("attachUprobes"),
          InstanceMethod<&ProbeWrap::AttachPerfEvent>("attachPerfEvent"),
          InstanceMethod<&ProbeWrap::Detach>("detach"),
      });
}

Napi::Object ProbeWrap::NewInstance(Napi::Env env, std::shared_ptr<v2::Probe> core) {
  auto* data = env.GetInstanceData<AddonData>();
  return data->probeCtor.New({Napi::External<std::shared_ptr<v2::Probe>>::New(env, &core)});
}

ProbeWrap::ProbeWrap(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<ProbeWrap>(info),
      env_(info.Env()),
      data_(info.Env().GetInstanceData<AddonData>()) {
  if (info.Length() != 1 || !info[0].IsExternal())
    ThrowType(info.Env(), "expected no direct construction: a Probe comes from open()");
  core_ = *info[0].As<Napi::External<std::shared_ptr<v2::Probe>>>().Data();
  info.This().As<Napi::Object>().DefineProperty(Napi::PropertyDescriptor::Value(
      "family", Napi::String::New(info.Env(), core_->family()), napi_enumerable));
  data_->probes.insert(this);
  AddHook();
}

ProbeWrap::~ProbeWrap() { CloseAll(); }

// ---- lifetime ---------------------------------------------------------------

void ProbeWrap::AddHook() {
  if (!hookOn_ && napi_add_env_cleanup_hook(env_, &ProbeWrap::CleanupHook, this) == napi_ok)
    hookOn_ = true;
}

void ProbeWrap::RemoveHook() {
  if (hookOn_) napi_remove_env_cleanup_hook(env_, &ProbeWrap::CleanupHook, this);
  hookOn_ = false;
}

// Runs when the environment goes away (process exit, worker exit). Hooks run
// in reverse order of registration; startPolling re-registers ours after
// creating the ThreadSafeFunction, so ours runs first and the poll thread is
// joined before Node tears the ThreadSafeFunction down.
void ProbeWrap::CleanupHook(void* arg) {
  auto* self = static_cast<ProbeWrap*>(arg);
  self->hookOn_ = false;  // Node removes it after this call
  self->CloseAll();
}

void ProbeWrap::CloseAll() {
  if (core_) core_->Close();  // detach, join the poll thread, free the object
  if (hasTsfn_) {
    hasTsfn_ = false;
    if (*tsfnLive_) tsfn_.Release();  // batches already queued are still delivered
  }
  RemoveHook();
  data_->probes.erase(this);
}

void ProbeWrap::InstallExitListener(Napi::Env env) {
  Napi::Value process = env.Global().Get("process");
  if (!process.IsObject()) return;
  Napi::Value on = process.As<Napi::Object>().Get("on");
  if (!on.IsFunction()) return;
  on.As<Napi::Function>().Call(
      process, {Napi::String::New(env, "exit"),
                Napi::Function::New<&ProbeWrap::OnProcessExit>(env, "v2probeCloseAll")});
}

Napi::Value ProbeWrap::OnProcessExit(const Napi::CallbackInfo& info) {
  auto* data = info.Env().GetInstanceData<AddonData>();
  std::vector<ProbeWrap*> all(data->probes.begin(), data->probes.end());
  for (ProbeWrap* p : all) p->CloseAll();
  return info.Env().Undefined();
}

// ---- batches ----------------------------------------------------------------

namespace {

void FinalizeBatch(napi_env env, void* /*data*/, void* hint) {
  auto* b = static_cast<v2::Batch*>(hint);
  int64_t ignored;
  napi_adjust_external_memory(env, -int64_t(b->bytes.size()), &ignored);
  delete b;
}

}  // namespace

// Runs on the JavaScript thread for each queued batch. Plain N-API calls, no
// C++ exceptions: this may run while the environment shuts down, when any
// call can fail. A throw from onBatch becomes an uncaught exception, as for
// any event callback.
void ProbeWrap::CallJs(Napi::Env env, Napi::Function fn, std::nullptr_t*, v2::Batch* raw) {
  std::unique_ptr<v2::Batch> b(raw);
  if (!b) return;
  if (env == nullptr || fn.IsEmpty()) {  // ThreadSafeFunction torn down with this batch queued
    b->stats->Dropped(b->records);
    return;
  }
  const uint32_t records = b->records;
  const size_t size = b->bytes.size();
  std::shared_ptr<v2::PollStats> stats = b->stats;
  napi_value argv[2];
  // The Buffer takes the batch's heap bytes as they are; V8 is told about
  // them so that GC keeps pace with the batches it holds.
  napi_status s = napi_create_external_buffer(env, size, b->bytes.data(), FinalizeBatch, b.get(),
                                              &argv[0]);
  if (s == napi_ok) {
    int64_t ignored;
    napi_adjust_external_memory(env, int64_t(size), &ignored);
    b.release();
  } else if (s == napi_no_external_buffers_allowed) {
    s = napi_create_buffer_copy(env, size, b->bytes.data(), nullptr, &argv[0]);
  }
  napi_value recv;
  if (s != napi_ok || napi_create_uint32(env, records, &argv[1]) != napi_ok ||
      napi_get_undefined(env, &recv) != napi_ok) {
    stats->Dropped(records);
    return;
  }
  stats->Delivered(records);
  if (napi_call_function(env, recv, fn, 2, argv, nullptr) == napi_pending_exception) {
    // onBatch threw: raise it as an uncaught exception (Node 20 would only
    // warn, DEP0168). Without an exception JavaScript just cannot run any more.
    napi_value err;
    napi_valuetype type;
    if (napi_get_and_clear_last_exception(env, &err) == napi_ok &&
        napi_typeof(env, err, &type) == napi_ok && type != napi_undefined)
      napi_fatal_exception(env, err);
  }
}

Napi::Value ProbeWrap::StartPolling(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction())
    ThrowType(env, "expected onBatch to be a function (batch: Buffer, records: number) => void");
  Napi::Object opts = ReadOptObject(env, info[1], "opts");
  uint64_t batchRecords = 4096, batchMs = 100, maxQueued = 64;
  ReadUint(env, opts.Get("batchRecords"), "opts.batchRecords", 1, 1 << 20, &batchRecords);
  ReadUint(env, opts.Get("batchMs"), "opts.batchMs", 1, 60000, &batchMs);
  ReadUint(env, opts.Get("maxQueuedBatches"), "opts.maxQueuedBatches", 1, 1 << 20, &maxQueued);
  Napi::Value carry = opts.Get("carryWeight");
  if (!carry.IsUndefined() && !carry.IsBoolean()) ThrowType(env, "expected opts.carryWeight to be a boolean");

  auto live = std::make_shared<bool>(true);  // false once Node finalized this TSFN
  Tsfn tsfn = Tsfn::New(
      env, info[0].As<Napi::Function>(), "v2probe.poll:" + core_->family(), size_t(maxQueued), 1,
      static_cast<std::nullptr_t*>(nullptr),
      [](Napi::Env, std::shared_ptr<bool>* live, std::nullptr_t*) {
        **live = false;
        delete live;
      },
      new std::shared_ptr<bool>(live));

  v2::PollOptions po;
  po.batchRecords = uint32_t(batchRecords);
  po.batchMs = uint32_t(batchMs);
  po.carryWeight = carry.IsBoolean() && carry.As<Napi::Boolean>().Value();
  v2::Status st = core_->StartPolling(po, [tsfn](std::unique_ptr<v2::Batch>& b) {
    napi_status s = tsfn.NonBlockingCall(b.get());
    if (s == napi_ok) {
      b.release();  // CallJs owns it now
      return v2::SinkResult::kAccepted;
    }
    return s == napi_queue_full ? v2::SinkResult::kFull : v2::SinkResult::kClosed;
  });
  if (!st.ok()) {
    tsfn.Release();
    ThrowStatus(env, st, core_->family());
  }
  tsfn_ = tsfn;
  tsfnLive_ = live;
  hasTsfn_ = true;
  // Move our cleanup hook after the ThreadSafeFunction's (see CleanupHook).
  RemoveHook();
  AddHook();
  return env.Undefined();
}

Napi::Value ProbeWrap::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto s = core_->stats();
  Napi::Object o = Napi::Object::New(env);
  o.Set("deliveredRecords", double(s->deliveredRecords.load()));
  o.Set("deliveredBatches", double(s->deliveredBatches.load()));
  o.Set("droppedRecords", double(s->droppedRecords.load()));
  o.Set("droppedBatches", double(s->droppedBatches.load()));
  o.Set("pendingWeight", double(s->pendingWeight.load()));
  o.Set("polling", s->polling.load());
  {
    std::lock_guard<std::mutex> lk(s->errMu);
    if (!s->error.empty()) o.Set("pollError", s->error);
  }
  return o;
}

// ---- introspection ----------------------------------------------------------

Napi::Value ProbeWrap::Programs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<v2::ProgramInfo> progs;
  v2::Status st = core_->Programs(&progs);
  if (!st.ok()) ThrowStatus(env, st, core_->family());
  Napi::Array arr = Napi::Array::New(env, progs.size());
  for (size_t i = 0; i < progs.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", progs[i].name);
    o.Set("section", progs[i].section);
    o.Set("autoload", progs[i].autoload);
    arr.Set(uint32_t(i), o);
  }
  return arr;
}

Napi::Value ProbeWrap::Maps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<v2::MapInfo> maps;
  v2::Status st = core_->Maps(&maps);
  if (!st.ok()) ThrowStatus(env, st, core_->family());
  Napi::Array arr = Napi::Array::New(env, maps.size());
  for (size_t i = 0; i < maps.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", maps[i].name);
    o.Set("type", maps[i].type);
    o.Set("keySize", maps[i].keySize);
    o.Set("valueSize", maps[i].valueSize);
    o.Set("maxEntries", maps[i].maxEntries);
    arr.Set(uint32_t(i), o);
  }
  return arr;
}

Napi::Value ProbeWrap::Attach(const Napi::CallbackInfo& info) {
  auto* w = new AttachWorker(info.Env(), core_);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// ---- maps -------------------------------------------------------------------

Napi::Value ProbeWrap::ReadMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = ReadString(env, info[0], "map name");
  v2::MapDump d;
  v2::Status st = core_->ReadMap(name, &d);
  if (!st.ok()) ThrowStatus(env, st, core_->family());
  Napi::Object o = Napi::Object::New(env);
  o.Set("keySize", d.keySize);
  o.Set("valueSize", d.valueSize);
  o.Set("perCpu", d.perCpu);
  o.Set("nCpu", d.nCpu);
  o.Set("keys", BufferFrom(env, std::move(d.keys)));
  o.Set("values", BufferFrom(env, std::move(d.values)));
  o.Set("count", d.count);
  return o;
}

Napi::Value ProbeWrap::UpdateMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = ReadString(env, info[0], "map name");
  if (!info[1].IsBuffer()) ThrowType(env, "expected key to be a Buffer");
  if (!info[2].IsBuffer()) ThrowType(env, "expected value to be a Buffer");
  auto key = info[1].As<Napi::Buffer<uint8_t>>();
  auto value = info[2].As<Napi::Buffer<uint8_t>>();
  v2::Status st = core_->UpdateMap(name, key.Data(), key.Length(), value.Data(), value.Length());
  if (!st.ok()) ThrowStatus(env, st, core_->family());
  return env.Undefined();
}

Napi::Value ProbeWrap::DeleteMapEntry(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = ReadString(env, info[0], "map name");
  if (!info[1].IsBuffer()) ThrowType(env, "expected key to be a Buffer");
  auto key = info[1].As<Napi::Buffer<uint8_t>>();
  bool deleted = false;
  v2::Status st = core_->DeleteMapEntry(name, key.Data(), key.Length(), &deleted);
  if (!st.ok()) ThrowStatus(env, st, core_->family());
  return Napi::Boolean::New(env, deleted);
}

Napi::Value ProbeWrap::RunProgram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = ReadString(env, info[0], "program name");
  int32_t retval = 0;
  v2::Status st = core_->RunProgram(name, &retval);
  if (!st.ok()) ThrowStatus(env, st, core_->family());
  return Napi::Number::New(env, retval);
}

Napi::Value ProbeWrap::ProgramStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<v2::ProgramStat> stats;
  v2::Status st = core_->ProgramStats(&stats);
  if (!st.ok()) ThrowStatus(env, st, core_->family());
  Napi::Array arr = Napi::Array::New(env, stats.size());
  for (size_t i = 0; i < stats.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", stats[i].name);
    o.Set("runTimeNs", Napi::BigInt::New(env, stats[i].runTimeNs));
    o.Set("runCnt", Napi::BigInt::New(env, stats[i].runCnt));
    o.Set("id", stats[i].id);
    arr.Set(uint32_t(i), o);
  }
  return arr;
}

Napi::Value ProbeWrap::Close(const Napi::CallbackInfo& info) {
  CloseAll();
  return info.Env().Undefined();
}

// ---- uprobes, perf events, detach -------------------------------------------

// attachUprobes([{ program, binary, offset, pid?, cookie? }]) -> Promise<AttachResult[]>
Napi::Value ProbeWrap::AttachUprobes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray())
    ThrowType(env, "expected specs to be an array of { program, binary, offset, pid?, cookie? }");
  Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<v2::UprobeSpec> specs;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    std::string at = "specs[" + std::to_string(i) + "]";
    Napi::Object o = ReadOptObject(env, arr.Get(i), at);
    v2::UprobeSpec sp;
    sp.program = ReadString(env, o.Get("program"), at + ".program");
    sp.binary = ReadString(env, o.Get("binary"), at + ".binary");
    if (o.Get("offset").IsUndefined()) ThrowType(env, "expected " + at + ".offset to be a number");
    ReadUint(env, o.Get("offset"), at + ".offset", 0, 9007199254740991.0, &sp.offset);
    uint64_t pid = 0;
    Napi::Value pv = o.Get("pid");
    if (!pv.IsUndefined() && !(pv.IsNumber() && pv.As<Napi::Number>().Int64Value() == -1)) {
      ReadUint(env, pv, at + ".pid", 1, 4194304, &pid);
      sp.pid = int(pid);
    }
    Napi::Value cv = o.Get("cookie");
    if (cv.IsBigInt()) {
      bool lossless;
      sp.cookie = cv.As<Napi::BigInt>().Uint64Value(&lossless);
    } else {
      ReadUint(env, cv, at + ".cookie", 0, 9007199254740991.0, &sp.cookie);
    }
    specs.push_back(std::move(sp));
  }
  auto* w = new AttachWorker(env, core_, [specs](v2::Probe& p, std::vector<v2::AttachResult>* out) {
    return p.AttachUprobes(specs, out);
  });
  Napi::Promise pr = w->Promise();
  w->Queue();
  return pr;
}

// attachPerfEvent({ program, frequency?, period?, type?, config?, pid?, cpus? }) -> Promise<AttachResult[]>
Napi::Value ProbeWrap::AttachPerfEvent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = ReadOptObject(env, info[0], "spec");
  v2::PerfEventSpec sp;
  sp.program = ReadString(env, o.Get("program"), "spec.program");
  uint64_t v = 0;
  if (!o.Get("period").IsUndefined()) {
    ReadUint(env, o.Get("period"), "spec.period", 1, 9007199254740991.0, &sp.period);
    sp.frequency = 0;
  }
  ReadUint(env, o.Get("frequency"), "spec.frequency", 1, 100000, &sp.frequency);
  v = sp.type;
  ReadUint(env, o.Get("type"), "spec.type", 0, 0xffffffff, &v);
  sp.type = uint32_t(v);
  ReadUint(env, o.Get("config"), "spec.config", 0, 9007199254740991.0, &sp.config);
  Napi::Value pv = o.Get("pid");
  if (!pv.IsUndefined() && !(pv.IsNumber() && pv.As<Napi::Number>().Int64Value() == -1)) {
    uint64_t pid = 0;
    ReadUint(env, pv, "spec.pid", 1, 4194304, &pid);
    sp.pid = int(pid);
  }
  Napi::Value cv = o.Get("cpus");
  if (!cv.IsUndefined()) {
    if (!cv.IsArray()) ThrowType(env, "expected spec.cpus to be an array of CPU numbers");
    Napi::Array a = cv.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      uint64_t c = 0;
      ReadUint(env, a.Get(i), "spec.cpus[" + std::to_string(i) + "]", 0, 4095, &c);
      sp.cpus.push_back(int(c));
    }
  }
  auto* w = new AttachWorker(env, core_, [sp](v2::Probe& p, std::vector<v2::AttachResult>* out) {
    return p.AttachPerfEvent(sp, out);
  });
  Napi::Promise pr = w->Promise();
  w->Queue();
  return pr;
}

// detach(program?) -> number of links destroyed ("" or undefined: all)
Napi::Value ProbeWrap::Detach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string prog = info.Length() > 0 && !info[0].IsUndefined() ? ReadString(env, info[0], "program") : "";
  uint32_t n = 0;
  v2::Status st = core_->Detach(prog, &n);
  if (!st.ok()) ThrowStatus(env, st, core_->family());
  return Napi::Number::New(env, n);
}

}  // namespace v2js
