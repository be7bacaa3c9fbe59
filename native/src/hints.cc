// hints.cc — errno → what to do, for the error messages of probe.cc.
#include "hints.h"

#include <errno.h>

namespace v2 {

const char* const kNeedPriv = "need root or CAP_BPF+CAP_PERFMON";

std::string LoadHint(int err, bool verifierRejected) {
  if (verifierRejected)
    return "the verifier rejected a program (log below): fix it, or disable it with autoload";
  switch (err) {
    case EPERM:
      return std::string(kNeedPriv) +
             "; some kernels refuse fentry/fexit or kprobes even to root: disable those "
             "programs with autoload and use the tracepoint variant";
    case EACCES:
      return std::string(kNeedPriv) + " (see the libbpf log below)";
    case ENOENT:
    case ESRCH:
      return "a kernel function, tracepoint or BTF type this family needs is missing (is "
             "/sys/kernel/btf/vmlinux there?): disable that program with autoload";
    case EOPNOTSUPP:
    case kEnotsupp:
      return "program or map type not supported by this kernel: disable that program with "
             "autoload";
    case E2BIG:
    case ENOMEM:
      return "not enough memory for the maps: lower ringBytes or maxEntries";
    default:
      return "see the libbpf log below (V2PROBE_LIBBPF_LOG=debug prints all of it)";
  }
}

std::string AttachHint(int err, const std::string& lastLogLine) {
  switch (err) {
    case ENOENT:
      return "tracepoint missing: is tracefs mounted at /sys/kernel/tracing?";
    case EPERM:
    case EACCES:
      return kNeedPriv;
    case EOPNOTSUPP:
    case kEnotsupp:
      return "attach type not supported by this kernel";
    default:
      return lastLogLine.empty() ? "see V2PROBE_LIBBPF_LOG=1 output" : "libbpf: " + lastLogLine;
  }
}

std::string UprobeHint(int err) {
  switch (err) {
    case ENOENT:
      return "no such binary (or the process is gone): check the path and pid";
    case EINVAL:
      return "offset is not an instruction start in an executable mapping of the binary";
    case ESRCH:
      return "no such process";
    case EPERM:
    case EACCES:
      return kNeedPriv;
    default:
      return "";
  }
}

std::string PerfEventHint(int err) {
  switch (err) {
    case ENODEV:
      return "CPU offline";
    case EACCES:
    case EPERM:
      return std::string(kNeedPriv) + " (or kernel.perf_event_paranoid)";
    default:
      return "";
  }
}

std::string MapUpdateHint(int err, uint32_t maxEntries) {
  switch (err) {
    case E2BIG:
      return "map is full (max_entries " + std::to_string(maxEntries) + ")";
    case EPERM:
      return "map is read-only, or " + std::string(kNeedPriv);
    case EINVAL:
      return "key out of range or bad value for this map type";
    default:
      return "";
  }
}

std::string MapDeleteHint(int err) {
  return err == EINVAL ? "array maps have no deletable entries" : "";
}

}  // namespace v2
