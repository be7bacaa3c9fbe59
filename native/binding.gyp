{
  "variables": {
    # build/bpf/families.h (bpf/Makefile) embeds the BPF objects beside it with
    # .incbin: the assembler finds them through -Wa,-I<families_dir>.
    # build.sh overrides this with V2PROBE_FAMILIES_DIR when set.
    "families_dir%": "<(module_root_dir)/../build/bpf",
  },
  "targets": [
    {
      "target_name": "v2probe_native",
      "sources": [
        "src/addon.cc",
        "src/js_api.cc",
        "src/js_probe.cc",
        "src/probe.cc",
        "src/hints.cc",
        "src/families.cc",
        "src/caps.cc",
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<(families_dir)",
        "<(module_root_dir)/../bpf",
      ],
      # C++ exceptions on (node-addon-api's NAPI_CPP_EXCEPTIONS): argument
      # errors are thrown as Napi::TypeError; the libbpf core returns Status.
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
      ],
      "cflags": ["-Wa,-I<(families_dir)"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++1y", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "libraries": ["-lbpf", "-lelf", "-lz"],
    },
  ],
}
