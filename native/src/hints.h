// hints.h — what to do after a failed libbpf or kernel call: the text after
// the dash in "failed to <verb> <thing>: <strerror> (<ERRNO>) — <what to do>".
// Each hint maps an errno (and what libbpf logged) to advice for the user.
#pragma once

#include <cstdint>
#include <string>

namespace v2 {

constexpr int kEnotsupp = 524;  // kernel-internal ENOTSUPP, leaks out of bpf()

extern const char* const kNeedPriv;  // "need root or CAP_BPF+CAP_PERFMON"

// Opening or loading an object. verifierRejected: libbpf logged a program
// load log (the verifier said no).
std::string LoadHint(int err, bool verifierRejected);
// Attaching a program (and creating a ring-buffer reader). lastLogLine: the
// last line libbpf logged during the call, "libbpf: " prefix removed.
std::string AttachHint(int err, const std::string& lastLogLine);
// Attaching a uprobe; "" when AttachHint says it better.
std::string UprobeHint(int err);
// perf_event_open on one CPU; "" when there is nothing to add.
std::string PerfEventHint(int err);
// bpf_map_update_elem.
std::string MapUpdateHint(int err, uint32_t maxEntries);
// bpf_map_delete_elem (ENOENT is not an error there).
std::string MapDeleteHint(int err);

}  // namespace v2
