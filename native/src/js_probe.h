// js_probe.h — the JavaScript Probe class over v2::Probe: async attach,
// ring-buffer batches through a ThreadSafeFunction, map access, close.
#pragma once

#include <napi.h>

#include <memory>

#include "probe.h"

namespace v2js {

struct AddonData;

class ProbeWrap : public Napi::ObjectWrap<ProbeWrap> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  // Wraps a loaded probe (called from open()'s worker completion).
  static Napi::Object NewInstance(Napi::Env env, std::shared_ptr<v2::Probe> core);

  // Registers a process 'exit' listener that closes every probe of this
  // environment: process.exit() does not run environment cleanup hooks.
  static void InstallExitListener(Napi::Env env);

  explicit ProbeWrap(const Napi::CallbackInfo& info);
  ~ProbeWrap() override;

 private:
  static void CallJs(Napi::Env env, Napi::Function fn, std::nullptr_t* ctx, v2::Batch* batch);
  using Tsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, v2::Batch, &ProbeWrap::CallJs>;

  Napi::Value Programs(const Napi::CallbackInfo& info);
  Napi::Value Maps(const Napi::CallbackInfo& info);
  Napi::Value Attach(const Napi::CallbackInfo& info);
  Napi::Value StartPolling(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value ReadMap(const Napi::CallbackInfo& info);
  Napi::Value UpdateMap(const Napi::CallbackInfo& info);
  Napi::Value DeleteMapEntry(const Napi::CallbackInfo& info);
  Napi::Value ProgramStats(const Napi::CallbackInfo& info);
  Napi::Value RunProgram(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value AttachUprobes(const Napi::CallbackInfo& info);
  Napi::Value AttachPerfEvent(const Napi::CallbackInfo& info);
  Napi::Value Detach(const Napi::CallbackInfo& info);

  // Stops everything; safe to call many times, from close(), the finalizer
  // and the environment cleanup hook.
  void CloseAll();
  void AddHook();
  void RemoveHook();
  static void CleanupHook(void* arg);
  static Napi::Value OnProcessExit(const Napi::CallbackInfo& info);

  napi_env env_;
  AddonData* data_;
  std::shared_ptr<v2::Probe> core_;
  Tsfn tsfn_;
  bool hasTsfn_ = false;
  std::shared_ptr<bool> tsfnLive_;
  bool hookOn_ = false;
};

}  // namespace v2js
