// caps.h — a process-wide capability drop (every thread, not just the caller),
// in the manner of libcap's psx, without linking libpsx. Plain C++, no N-API.
//
// Linux capabilities, the bounding set, the ambient set and no_new_privs are
// per-thread attributes, and capset(2)/prctl(2) change the calling thread
// only. DropCapabilities() changes the caller itself, then makes every other
// thread of the process do the same from a signal handler (tgkill), re-scans
// /proc/self/task until a scan finds no thread it has not handled, and finally
// verifies every thread from /proc/self/task/*/status.
//
// The signal is 32 (glibc's SIGCANCEL), installed with the raw rt_sigaction
// syscall for the duration of the call. It is the one signal no thread can have
// blocked: glibc's sigprocmask/pthread_sigmask never block 32 and 33, while
// Node's inspector I/O thread and chDB's (jemalloc) background threads block
// every other signal, so SIGRTMIN+n would never reach them. Signals that are
// not ours are passed to the previous handler; the previous disposition is
// restored afterwards (through SIG_IGN, which discards a late duplicate).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "probe.h"  // Status

namespace v2 {

// "CAP_BPF" for 39 (cap_last_cap may be above the table: "CAP_<n>").
std::string CapName(int cap);
// Accepts "CAP_BPF", "cap_bpf" or "bpf"; -1 when unknown.
int CapFromName(const std::string& name);

struct CapDropOptions {
  uint64_t keep = 0;         // bit n = capability n; kept only if already permitted
  int timeoutMs = 5000;      // per round, for the other threads to answer
  bool noNewPrivs = true;    // PR_SET_NO_NEW_PRIVS on every thread
  bool dropBounding = true;  // PR_CAPBSET_DROP the rest (needs CAP_SETPCAP; skipped without it)
};

struct CapThreadReport {
  int tid = 0;
  std::string name;   // comm
  std::string via;    // "self" | "signal" | "inherited" (created by a thread that had dropped already)
  bool ok = false;    // dropped and verified
  int err = 0;        // errno of the failing step; ETIMEDOUT when the thread never answered
  std::string step;   // "ambient" | "bounding" | "no_new_privs" | "capget" | "capset" | "signal" | "verify"
  uint64_t eff = 0, prm = 0, inh = 0, bnd = 0, amb = 0;  // as verified in /proc
  bool noNewPrivs = false;
};

struct CapDropReport {
  uint64_t target = 0;       // what every thread should hold now: keep & permitted of the caller
  uint64_t beforePrm = 0, beforeEff = 0, beforeBnd = 0;  // the caller, before
  bool boundingDropped = false;
  bool noNewPrivs = false;
  int signal = 0;
  int rounds = 0;            // /proc/self/task scans that found threads to handle
  std::vector<CapThreadReport> threads;
  // the first failure, for the error message
  int failedTid = 0;
};

// Returns an error Status (and a filled report) when any thread could not be
// changed or still holds more than `target` afterwards.
Status DropCapabilities(const CapDropOptions& opts, CapDropReport* report);

}  // namespace v2
