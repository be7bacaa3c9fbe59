{
  "variables": {
    # build/bpf/families.h (bpf/Makefile) lists the BPF skeletons to embed.
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
        "src/families.cc",
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except",
      ],
      "include_dirs": [
        "<(families_dir)",
        "<(module_root_dir)/../bpf",
      ],
      "defines": [
        "NAPI_VERSION=8",
      ],
      "cflags_cc!": ["-std=gnu++17", "-std=gnu++1y", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "libraries": ["-lbpf", "-lelf", "-lz"],
    },
  ],
}
