// addon.cc — registers the exports of v2probe_native; nothing else.
#include <napi.h>

#include "js_api.h"
#include "js_probe.h"
#include "js_util.h"
#include "probe.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  v2::InitLibbpf();
  auto* data = new v2js::AddonData();
  data->probeCtor = Napi::Persistent(v2js::ProbeWrap::DefineClass(env));
  env.SetInstanceData(data);
  v2js::ProbeWrap::InstallExitListener(env);
  exports.Set("families", Napi::Function::New<v2js::Families>(env, "families"));
  exports.Set("libbpfVersion", Napi::Function::New<v2js::LibbpfVersion>(env, "libbpfVersion"));
  exports.Set("open", Napi::Function::New<v2js::Open>(env, "open"));
  exports.Set("dropCapabilities", Napi::Function::New<v2js::DropCapabilities>(env, "dropCapabilities"));
  return exports;
}

NODE_API_MODULE(v2probe_native, Init)
