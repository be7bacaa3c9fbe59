// js_api.h — the module-level functions: families(), libbpfVersion(), open(),
// dropCapabilities().
#pragma once

#include <napi.h>

namespace v2js {

Napi::Value Families(const Napi::CallbackInfo& info);
Napi::Value LibbpfVersion(const Napi::CallbackInfo& info);
Napi::Value Open(const Napi::CallbackInfo& info);
Napi::Value DropCapabilities(const Napi::CallbackInfo& info);

}  // namespace v2js
