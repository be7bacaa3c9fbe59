#!/usr/bin/env bash
# build.sh — builds native/build/Release/v2probe_native.node from any cwd.
#
# node-gyp cannot download Node's headers here, so it builds against the
# installed Node's own headers (<prefix of node>/include/node).
# Needs: build/bpf/families.h and the *.bpf.o beside it (bpf/Makefile), libbpf-dev, libelf-dev,
# zlib1g-dev, a C++17 compiler, python3, make, and npm deps (node-gyp,
# node-addon-api). V2PROBE_FAMILIES_DIR=<dir> uses another families.h.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
fail() { echo "native/build.sh: $*" >&2; exit 1; }

command -v node >/dev/null || fail "node not found in PATH"
nodedir="$(dirname "$(dirname "$(command -v node)")")"
[[ -f "$nodedir/include/node/node_api.h" ]] ||
  fail "Node headers not found at $nodedir/include/node (install Node with its headers, e.g. the nodejs package)"

families_dir="${V2PROBE_FAMILIES_DIR:-$root/build/bpf}"
[[ -f "$families_dir/families.h" ]] ||
  fail "$families_dir/families.h is missing: build the BPF objects first (make -C bpf)"

gyp="$root/node_modules/node-gyp/bin/node-gyp.js"
[[ -f "$gyp" ]] || fail "node-gyp not installed: run npm install in $root"
[[ -d "$root/node_modules/node-addon-api" ]] || fail "node-addon-api not installed: run npm install in $root"

for h in bpf/libbpf.h gelf.h zlib.h; do
  echo "#include <$h>" | ${CXX:-c++} -x c++ -fsyntax-only - 2>/dev/null ||
    fail "<$h> not found: apt-get install libbpf-dev libelf-dev zlib1g-dev"
done

# One build at a time (setup.sh and a developer may start one together):
# node-gyp rebuild deletes native/build/ first.
exec 9<"$here/build.sh"
if command -v flock >/dev/null; then flock 9; fi

cd "$here"
echo "native/build.sh: building v2probe_native (node $(node -v), headers $nodedir/include/node, families $families_dir)"
export npm_config_nodedir="$nodedir"
if ! node "$gyp" rebuild --release --nodedir="$nodedir" --jobs="$(nproc 2>/dev/null || echo 2)" \
    -- -Dfamilies_dir="$families_dir" >"$here/build.log" 2>&1; then
  tail -n 40 "$here/build.log" >&2
  fail "node-gyp rebuild failed (full log: native/build.log)"
fi
out="$here/build/Release/v2probe_native.node"
[[ -f "$out" ]] || fail "node-gyp succeeded but $out is missing"
node -e "const m = require(process.argv[1]); if (typeof m.open !== 'function') process.exit(1)" "$out" ||
  fail "$out does not load (see the error above)"
echo "native/build.sh: ok: $out ($(node -e "const m=require(process.argv[1]); console.log('families: ' + m.families().join(', ') + '; libbpf ' + m.libbpfVersion())" "$out"))"
