// probe.cc — libbpf work for one probe family: open/load, attach, ring-buffer
// polling on a native thread, map access, program stats. Plain C++, no N-API.
#include "probe.h"
#include "hints.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <bpf/btf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cstddef>
#include <system_error>

#include <linux/types.h>
#include "v2probe.h"

static_assert(sizeof(struct v2_event) == 64, "struct v2_event must stay 64 bytes");
static_assert(sizeof(struct v2_config) == 48, "struct v2_config must stay 48 bytes");

namespace v2 {

namespace {

constexpr size_t kLogTailLines = 20;  // libbpf/verifier lines kept in an error
constexpr size_t kLogKeepLines = 400;
constexpr uint64_t kMaxRingBytes = 1ull << 30;
constexpr size_t kMaxBatchReserve = 4u << 20;

// ---- libbpf log capture ---------------------------------------------------
//
// libbpf has one global print callback. Calls made by this file on any thread
// install a thread-local capture (ScopedLog) so that the lines libbpf prints
// during that call end up in that call's error message. Lines printed
// outside a capture are dropped, unless V2PROBE_LIBBPF_LOG=1 (info and
// warnings) or =debug (everything) echoes them to stderr.

struct LogLines {
  std::vector<std::string> lines;
};
thread_local LogLines* t_log = nullptr;
int g_echo = 0;  // 0 off, 1 info+warn, 2 debug

void AppendLines(LogLines* log, const char* text) {
  const char* p = text;
  while (*p) {
    const char* nl = strchr(p, '\n');
    size_t len = nl ? size_t(nl - p) : strlen(p);
    if (len) log->lines.emplace_back(p, len);
    p += len + (nl ? 1 : 0);
  }
  if (log->lines.size() > kLogKeepLines * 2)
    log->lines.erase(log->lines.begin(), log->lines.end() - kLogKeepLines);
}

int PrintFn(enum libbpf_print_level level, const char* fmt, va_list ap) {
  LogLines* log = t_log;
  bool echo = g_echo == 2 || (g_echo == 1 && level != LIBBPF_DEBUG);
  bool capture = log && level != LIBBPF_DEBUG;
  if (!echo && !capture) return 0;
  char small[512];
  std::string big;
  const char* text = small;
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(small, sizeof small, fmt, copy);
  va_end(copy);
  if (n < 0) return 0;
  if (size_t(n) >= sizeof small) {
    big.resize(size_t(n) + 1);
    va_copy(copy, ap);
    vsnprintf(&big[0], big.size(), fmt, copy);
    va_end(copy);
    text = big.c_str();
  }
  if (capture) AppendLines(log, text);
  if (echo) fputs(text, stderr);
  return n;
}

class ScopedLog {
 public:
  ScopedLog() : prev_(t_log) { t_log = &log_; }
  ~ScopedLog() { t_log = prev_; }
  std::string Tail(size_t n = kLogTailLines) const {
    std::string out;
    size_t from = log_.lines.size() > n ? log_.lines.size() - n : 0;
    for (size_t i = from; i < log_.lines.size(); i++) {
      out += log_.lines[i];
      out += '\n';
    }
    return out;
  }
  bool Contains(const char* s) const {
    for (const auto& l : log_.lines)
      if (l.find(s) != std::string::npos) return true;
    return false;
  }
  // Last line without the "libbpf: " prefix, for a one-line hint.
  std::string Last() const {
    if (log_.lines.empty()) return "";
    std::string l = log_.lines.back();
    if (l.rfind("libbpf: ", 0) == 0) l.erase(0, 8);
    return l;
  }

 private:
  LogLines log_;
  LogLines* prev_;
};

// ---- errors ---------------------------------------------------------------

Status Fail(int err, std::string message, std::string log = "") {
  Status st;
  st.err = err ? err : EINVAL;
  st.message = std::move(message);
  st.log = std::move(log);
  return st;
}

Status TypeFail(std::string message) {
  Status st = Fail(EINVAL, std::move(message));
  st.typeError = true;
  return st;
}

// "failed to <what>: <strerror> (<CODE>) — <hint>"
std::string Describe(const std::string& what, int err, const std::string& hint) {
  std::string m = "failed to " + what + ": " + ErrnoText(err) + " (" + ErrnoName(err) + ")";
  if (!hint.empty()) m += " — " + hint;
  return m;
}

std::string WithLog(std::string message, const std::string& tail) {
  if (tail.empty()) return message;
  return message + "\nlibbpf log (last lines):\n" + tail;
}

bool IsPerCpu(uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

bool IsIndexed(uint32_t type) {
  return type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY;
}

bool IsReadable(uint32_t type) {
  switch (type) {
    case BPF_MAP_TYPE_RINGBUF:
    case BPF_MAP_TYPE_USER_RINGBUF:
    case BPF_MAP_TYPE_PERF_EVENT_ARRAY:
    case BPF_MAP_TYPE_PROG_ARRAY:
    case BPF_MAP_TYPE_ARRAY_OF_MAPS:
    case BPF_MAP_TYPE_HASH_OF_MAPS:
    case BPF_MAP_TYPE_QUEUE:
    case BPF_MAP_TYPE_STACK:
    case BPF_MAP_TYPE_BLOOM_FILTER:
      return false;
    default:
      return true;
  }
}

// A load-time option: writes `value` into the `const volatile` global `var`
// of the object's .rodata map (found by name through the object's BTF; 1, 2,
// 4 or 8 bytes, truncated to its size) before load. False: no such global.
bool SetRodata(bpf_object* obj, const std::string& var, uint64_t value) {
  bpf_map* map;
  bpf_object__for_each_map(map, obj) {
    const char* dot = strrchr(bpf_map__name(map), '.');
    if (dot && strcmp(dot, ".rodata") == 0) break;
  }
  if (!map) return false;
  const btf* b = bpf_object__btf(obj);
  size_t size = 0;
  const void* init = bpf_map__initial_value(map, &size);
  if (!b || !init) return false;
  int sec = btf__find_by_name_kind(b, ".rodata", BTF_KIND_DATASEC);
  if (sec < 0) return false;
  const btf_type* t = btf__type_by_id(b, sec);
  const btf_var_secinfo* vs = btf_var_secinfos(t);
  for (int i = 0; i < btf_vlen(t); i++, vs++) {
    const btf_type* vt = btf__type_by_id(b, vs->type);
    if (strcmp(btf__name_by_offset(b, vt->name_off), var.c_str()) != 0) continue;
    if (vs->offset + vs->size > size ||
        (vs->size != 1 && vs->size != 2 && vs->size != 4 && vs->size != 8))
      return false;
    std::vector<uint8_t> copy(static_cast<const uint8_t*>(init),
                              static_cast<const uint8_t*>(init) + size);
    uint8_t* dst = copy.data() + vs->offset;
    switch (vs->size) {
      case 1: { uint8_t v = uint8_t(value); memcpy(dst, &v, 1); break; }
      case 2: { uint16_t v = uint16_t(value); memcpy(dst, &v, 2); break; }
      case 4: { uint32_t v = uint32_t(value); memcpy(dst, &v, 4); break; }
      default: memcpy(dst, &value, 8);
    }
    return bpf_map__set_initial_value(map, copy.data(), copy.size()) == 0;
  }
  return false;
}

uint32_t RoundUp8(uint32_t v) { return (v + 7u) & ~7u; }

uint64_t RingSize(uint64_t bytes) {
  long page = sysconf(_SC_PAGESIZE);
  uint64_t v = page > 0 ? uint64_t(page) : 4096;  // a power of two
  while (v < bytes) v <<= 1;
  return v;
}

}  // namespace

// ---- misc -----------------------------------------------------------------

std::string ErrnoName(int err) {
  if (err == kEnotsupp) return "ENOTSUPP";
  const char* n = strerrorname_np(err);
  return n ? n : "E" + std::to_string(err);
}

std::string ErrnoText(int err) {
  if (err == kEnotsupp) return "Operation not supported";
  char buf[128];
  return strerror_r(err, buf, sizeof buf);  // GNU variant returns char*
}

void InitLibbpf() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* e = getenv("V2PROBE_LIBBPF_LOG");
    if (e && *e && strcmp(e, "0") != 0) g_echo = strcmp(e, "debug") == 0 ? 2 : 1;
    libbpf_set_print(PrintFn);
  });
}

std::string LibbpfVersion() {
  return std::to_string(libbpf_major_version()) + "." + std::to_string(libbpf_minor_version());
}

// ---- open / load ----------------------------------------------------------

std::shared_ptr<Probe> Probe::Open(const std::string& family, const OpenOptions& opts,
                                   Status* st) {
  const std::string what = "load " + family;
  const Family* fam = nullptr;
  for (const auto& f : Families())
    if (family == f.name) fam = &f;
  if (!fam) {
    std::string known;
    for (const auto& f : Families()) known += (known.empty() ? "" : ", ") + std::string(f.name);
    *st = Fail(ENOENT, "failed to " + what + ": unknown probe family (ENOENT) — known families: " +
                           known);
    return nullptr;
  }
  if (opts.ringBytes > kMaxRingBytes) {
    *st = TypeFail("expected opts.ringBytes <= 1 GiB, got " + std::to_string(opts.ringBytes));
    return nullptr;
  }

  ScopedLog log;
  bpf_object_open_opts oo;
  memset(&oo, 0, sizeof oo);
  oo.sz = sizeof oo;
  oo.object_name = fam->name;
  bpf_object* obj = bpf_object__open_mem(fam->elf, fam->elfSize, &oo);
  if (!obj) {
    int err = errno;
    *st = Fail(err, WithLog(Describe(what, err, "the embedded BPF object is invalid: rebuild it"),
                            log.Tail()),
               log.Tail());
    return nullptr;
  }
  std::shared_ptr<Probe> p(new Probe(family));
  p->obj_ = obj;  // from here on, ~Probe closes it on every failure path

  auto listPrograms = [&] {
    std::string s;
    bpf_program* prog;
    bpf_object__for_each_program(prog, obj) s += (s.empty() ? "" : ", ") +
                                                 std::string(bpf_program__name(prog));
    return s;
  };
  auto listMaps = [&] {
    std::string s;
    bpf_map* map;
    bpf_object__for_each_map(map, obj) s += (s.empty() ? "" : ", ") +
                                            std::string(bpf_map__name(map));
    return s;
  };

  for (const auto& [name, on] : opts.autoload) {
    bpf_program* prog = bpf_object__find_program_by_name(obj, name.c_str());
    if (!prog) {
      *st = Fail(ENOENT, "failed to " + what + ": no program '" + name +
                             "' for autoload (ENOENT) — programs: " + listPrograms());
      return nullptr;
    }
    int err = bpf_program__set_autoload(prog, on);
    if (err) {
      *st = Fail(-err, Describe(what + " (autoload " + name + ")", -err, "libbpf refused it"));
      return nullptr;
    }
  }
  auto setMax = [&](const std::string& name, uint32_t n, const char* opt) -> bool {
    bpf_map* map = bpf_object__find_map_by_name(obj, name.c_str());
    if (!map) {
      *st = Fail(ENOENT, "failed to " + what + ": no map '" + name + "' for " + opt +
                             " (ENOENT) — maps: " + listMaps());
      return false;
    }
    int err = bpf_map__set_max_entries(map, n);
    if (err) {
      *st = Fail(-err, Describe(what + " (" + opt + " " + name + "=" + std::to_string(n) + ")",
                                -err, "libbpf refused the size"));
      return false;
    }
    return true;
  };
  for (const auto& [name, n] : opts.maxEntries)
    if (!setMax(name, n, "maxEntries")) return nullptr;
  for (const auto& [var, value] : opts.rodata) {
    if (!SetRodata(obj, var, value)) {
      *st = Fail(ENOENT, "failed to " + what + ": no load-time option (const volatile global) '" + var +
                             "' in the object's .rodata (ENOENT)");
      return nullptr;
    }
  }
  if (opts.ringBytes) {
    bpf_map* events = bpf_object__find_map_by_name(obj, "events");
    if (events && bpf_map__type(events) != BPF_MAP_TYPE_RINGBUF) {
      *st = Fail(EINVAL, "failed to " + what + ": map 'events' is not a ring buffer (EINVAL)");
      return nullptr;
    }
    if (!setMax("events", uint32_t(RingSize(opts.ringBytes)), "ringBytes")) return nullptr;
  }

  int err = bpf_object__load(obj);
  if (err) {
    err = -err;
    std::string tail = log.Tail();
    std::string hint = LoadHint(err, log.Contains("BEGIN PROG LOAD LOG"));
    *st = Fail(err, WithLog(Describe(what, err, hint), tail), tail);
    return nullptr;
  }
  return p;
}

Probe::~Probe() { Close(); }

bool Probe::closed() {
  std::lock_guard<std::mutex> lk(mu_);
  return closed_;
}

Probe::Guard::Guard(Probe& p, const std::string& verb)
    : lock_(p.mu_),
      status_(p.closed_ ? Fail(EBADF, "failed to " + verb + " " + p.family_ +
                                          ": probe is closed (EBADF) — open it again")
                        : Status{}) {}

// ---- introspection --------------------------------------------------------

Status Probe::Programs(std::vector<ProgramInfo>* out) {
  Guard g(*this, "list programs of");
  if (!g.ok()) return g.status();
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj_) {
    const char* sec = bpf_program__section_name(prog);
    out->push_back({bpf_program__name(prog), sec ? sec : "", bpf_program__autoload(prog)});
  }
  return {};
}

Status Probe::Maps(std::vector<MapInfo>* out) {
  Guard g(*this, "list maps of");
  if (!g.ok()) return g.status();
  bpf_map* map;
  bpf_object__for_each_map(map, obj_) {
    out->push_back({bpf_map__name(map), uint32_t(bpf_map__type(map)), bpf_map__key_size(map),
                    bpf_map__value_size(map), bpf_map__max_entries(map)});
  }
  return {};
}

// ---- attach ---------------------------------------------------------------

Status Probe::Attach(std::vector<AttachResult>* out) {
  Guard g(*this, "attach");
  if (!g.ok()) return g.status();
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj_) {
    if (!bpf_program__autoload(prog) || bpf_program__fd(prog) < 0) continue;
    // SEC("syscall") programs attach nowhere: userspace runs them (RunProgram)
    if (bpf_program__type(prog) == BPF_PROG_TYPE_SYSCALL) continue;
    const char* sec = bpf_program__section_name(prog);
    // SEC("uprobe") without a target (shm_ring): AttachUprobes places it, per target
    if (sec && (strcmp(sec, "uprobe") == 0 || strcmp(sec, "uretprobe") == 0)) continue;
    AttachResult r;
    r.program = bpf_program__name(prog);
    r.section = sec ? sec : "";
    bool attached = std::any_of(links_.begin(), links_.end(),
                                [&](const auto& l) { return l.first == prog; });
    if (attached) {
      r.ok = true;
    } else {
      ScopedLog log;
      bpf_link* link = bpf_program__attach(prog);
      int err = errno;
      if (link) {
        links_.emplace_back(prog, link);
        r.ok = true;
      } else {
        if (!err) err = EINVAL;
        r.err = err;
        r.code = ErrnoName(err);
        r.error = Describe("attach " + family_ + "/" + r.program + " at " + r.section, err,
                           AttachHint(err, log.Last()));
      }
    }
    out->push_back(std::move(r));
  }
  return {};
}

// ---- uprobes and perf events ----------------------------------------------

Status Probe::AttachUprobes(const std::vector<UprobeSpec>& specs, std::vector<AttachResult>* out) {
  Guard g(*this, "attach uprobes of");
  if (!g.ok()) return g.status();
  for (const auto& sp : specs) {
    AttachResult r;
    r.program = sp.program;
    r.section = "uprobe " + sp.binary + "+0x" + [&] {
      char b[32];
      snprintf(b, sizeof b, "%llx", (unsigned long long)sp.offset);
      return std::string(b);
    }() + (sp.pid >= 0 ? " pid " + std::to_string(sp.pid) : "");
    bpf_program* prog = bpf_object__find_program_by_name(obj_, sp.program.c_str());
    if (!prog || bpf_program__fd(prog) < 0) {
      r.err = ENOENT;
      r.code = ErrnoName(ENOENT);
      r.error = "failed to attach " + family_ + "/" + sp.program + ": no such loaded program (ENOENT)";
      out->push_back(std::move(r));
      continue;
    }
    ScopedLog log;
    bpf_uprobe_opts uo;
    memset(&uo, 0, sizeof uo);
    uo.sz = sizeof uo;
    uo.bpf_cookie = sp.cookie;
    uo.retprobe = false;
    errno = 0;
    bpf_link* link = bpf_program__attach_uprobe_opts(prog, sp.pid, sp.binary.c_str(),
                                                     size_t(sp.offset), &uo);
    int err = errno;
    if (link) {
      links_.emplace_back(prog, link);
      r.ok = true;
    } else {
      if (!err) err = EINVAL;
      r.err = err;
      r.code = ErrnoName(err);
      std::string hint = UprobeHint(err);
      if (hint.empty()) hint = AttachHint(err, log.Last());
      r.error = Describe("attach " + family_ + "/" + sp.program + " at " + r.section, err, hint);
    }
    out->push_back(std::move(r));
  }
  return {};
}

Status Probe::AttachPerfEvent(const PerfEventSpec& spec, std::vector<AttachResult>* out) {
  Guard g(*this, "attach perf events of");
  if (!g.ok()) return g.status();
  bpf_program* prog = bpf_object__find_program_by_name(obj_, spec.program.c_str());
  if (!prog || bpf_program__fd(prog) < 0)
    return Fail(ENOENT, "failed to attach " + family_ + "/" + spec.program +
                            ": no such loaded program (ENOENT)");
  std::vector<int> cpus = spec.cpus;
  if (cpus.empty()) {
    // "0-3,5,7-8"
    FILE* f = fopen("/sys/devices/system/cpu/online", "re");
    if (!f) return Fail(errno, Describe("read the online CPUs", errno, "is /sys mounted?"));
    char buf[1024] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    for (char* p = buf; *p && *p != '\n';) {
      char* end;
      long a = strtol(p, &end, 10), b = a;
      if (end == p) break;
      if (*end == '-') b = strtol(end + 1, &end, 10);
      for (long c = a; c <= b && c < 4096; c++) cpus.push_back(int(c));
      p = *end == ',' ? end + 1 : end;
      if (*end != ',') break;
    }
    if (cpus.empty()) return Fail(ENODEV, "failed to read the online CPUs: none listed (ENODEV)");
  }
  for (int cpu : cpus) {
    AttachResult r;
    r.program = spec.program;
    r.section = "perf_event cpu " + std::to_string(cpu);
    perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = spec.type;
    attr.config = spec.config;
    if (spec.frequency) {
      attr.freq = 1;
      attr.sample_freq = spec.frequency;
    } else {
      attr.sample_period = spec.period ? spec.period : 1;
    }
    int fd = int(syscall(__NR_perf_event_open, &attr, spec.pid, cpu, -1, PERF_FLAG_FD_CLOEXEC));
    if (fd < 0) {
      int err = errno;
      r.err = err;
      r.code = ErrnoName(err);
      r.error = Describe("open a perf event on cpu " + std::to_string(cpu), err, PerfEventHint(err));
      out->push_back(std::move(r));
      continue;
    }
    ScopedLog log;
    errno = 0;
    bpf_link* link = bpf_program__attach_perf_event(prog, fd);
    int err = errno;
    if (link) {
      links_.emplace_back(prog, link);  // the link owns fd from now on
      r.ok = true;
    } else {
      close(fd);
      if (!err) err = EINVAL;
      r.err = err;
      r.code = ErrnoName(err);
      r.error = Describe("attach " + family_ + "/" + spec.program + " to " + r.section, err,
                         AttachHint(err, log.Last()));
    }
    out->push_back(std::move(r));
  }
  return {};
}

Status Probe::Detach(const std::string& program, uint32_t* destroyed) {
  Guard g(*this, "detach");
  if (!g.ok()) return g.status();
  *destroyed = 0;
  for (auto it = links_.begin(); it != links_.end();) {
    if (program.empty() || program == bpf_program__name(it->first)) {
      bpf_link__destroy(it->second);
      it = links_.erase(it);
      (*destroyed)++;
    } else {
      ++it;
    }
  }
  return {};
}

// ---- polling --------------------------------------------------------------

Status Probe::FindMap(const std::string& name, const char* verb, bpf_map** map, int* fd) {
  // caller holds a Guard (the probe is open)
  std::string what = std::string(verb) + " map " + family_ + "/" + name;
  *map = bpf_object__find_map_by_name(obj_, name.c_str());
  if (!*map) return Fail(ENOENT, "failed to " + what + ": no such map (ENOENT) — see maps()");
  *fd = bpf_map__fd(*map);
  if (*fd < 0) return Fail(EBADF, "failed to " + what + ": map is not loaded (EBADF)");
  return {};
}

Status Probe::StartPolling(const PollOptions& opts, BatchSink sink) {
  Guard g(*this, "start polling");
  if (!g.ok()) return g.status();
  if (thread_.joinable())
    return Fail(EBUSY, "failed to start polling " + family_ +
                           ": already polling (EBUSY) — startPolling is called once per probe");
  bpf_map* map;
  int fd;
  Status st = FindMap("events", "poll", &map, &fd);
  if (!st.ok()) return st;
  if (bpf_map__type(map) != BPF_MAP_TYPE_RINGBUF)
    return Fail(EINVAL, "failed to poll map " + family_ + "/events: not a ring buffer (EINVAL)");
  ScopedLog log;
  ring_buffer* rb = ring_buffer__new(fd, &Probe::OnRecord, this, nullptr);
  if (!rb) {
    int err = errno;
    return Fail(err, Describe("create the ring buffer reader of " + family_, err,
                              AttachHint(err, log.Last())));
  }
  rb_ = rb;
  sink_ = std::move(sink);
  pollOpts_ = opts;
  if (pollOpts_.batchRecords == 0) pollOpts_.batchRecords = 1;
  stop_ = false;
  stats_->polling = true;
  try {
    thread_ = std::thread(&Probe::PollLoop, this);
  } catch (const std::system_error& e) {
    stats_->polling = false;
    ring_buffer__free(rb_);
    rb_ = nullptr;
    sink_ = nullptr;
    int err = e.code().value();
    return Fail(err, Describe("start the poll thread of " + family_, err, "too many threads?"));
  }
  return {};
}

int Probe::OnRecord(void* ctx, void* data, size_t size) {
  auto* p = static_cast<Probe*>(ctx);
  if (!p->batch_) {
    p->batch_ = std::make_unique<Batch>();
    p->batch_->stats = p->stats_;
    p->batch_->bytes.reserve(
        std::min<size_t>(size_t(p->pollOpts_.batchRecords) * sizeof(v2_event), kMaxBatchReserve));
  }
  Batch& b = *p->batch_;
  if (b.records == 0) p->batchStart_ = std::chrono::steady_clock::now();
  const auto* bytes = static_cast<const uint8_t*>(data);
  b.bytes.insert(b.bytes.end(), bytes, bytes + size);
  b.records++;
  if (p->carryTotal_ > 0 && size == sizeof(v2_event)) p->ApplyCarry(b.bytes.data() + b.bytes.size() - size);
  if (b.records >= p->pollOpts_.batchRecords) p->Flush();
  return 0;
}

void Probe::Flush() {
  if (!batch_ || batch_->records == 0) return;
  std::unique_ptr<Batch> b = std::move(batch_);
  uint32_t records = b->records;
  SinkResult r = sink_ ? sink_(b) : SinkResult::kClosed;
  if (r == SinkResult::kAccepted && !b) return;
  if (pollOpts_.carryWeight && b) CarryDropped(*b);
  stats_->Dropped(records);
  if (r == SinkResult::kClosed) stop_ = true;
}

// A dropped batch: its records' weight (>= 1 each, as the decoder reads it)
// waits per event kind for the next record of that kind.
void Probe::CarryDropped(const Batch& b) {
  if (b.bytes.size() % sizeof(v2_event) != 0) return;  // not v2_event records
  for (size_t o = 0; o < b.bytes.size(); o += sizeof(v2_event)) {
    uint32_t w;
    memcpy(&w, b.bytes.data() + o + offsetof(v2_event, weight), sizeof(w));
    const uint8_t ev = b.bytes[o + offsetof(v2_event, event)];
    carry_[ev] += w ? w : 1;
    carryTotal_ += w ? w : 1;
  }
  stats_->pendingWeight = carryTotal_;
}

// A record joining a batch takes the weight waiting for its event kind (up to
// the u32 field's maximum; the rest waits for the next one).
void Probe::ApplyCarry(uint8_t* record) {
  const uint8_t ev = record[offsetof(v2_event, event)];
  if (carry_[ev] == 0) return;
  uint32_t w;
  memcpy(&w, record + offsetof(v2_event, weight), sizeof(w));
  const uint64_t total = uint64_t(w ? w : 1) + carry_[ev];
  const uint32_t nw = total > UINT32_MAX ? UINT32_MAX : uint32_t(total);
  carryTotal_ -= total - (w ? w : 1) - (total - nw);
  carry_[ev] = total - nw;
  memcpy(record + offsetof(v2_event, weight), &nw, sizeof(nw));
  stats_->pendingWeight = carryTotal_;
}

void Probe::PollLoop() {
  using namespace std::chrono;
  auto due = [&](int* remainingMs) {
    if (!batch_ || batch_->records == 0) {
      *remainingMs = 50;
      return false;
    }
    auto elapsed = duration_cast<milliseconds>(steady_clock::now() - batchStart_).count();
    long rem = long(pollOpts_.batchMs) - long(elapsed);
    *remainingMs = int(std::clamp(rem, 0L, 50L));
    return rem <= 0;
  };
  while (!stop_.load()) {
    int timeout;
    if (due(&timeout)) {
      Flush();
      continue;
    }
    int n = ring_buffer__poll(rb_, timeout);
    // rows submitted with BPF_RB_NO_WAKEUP (v2_wakeup_bytes) raise no epoll
    // event: after a quiet timeout, take whatever is waiting anyway
    if (n == 0) n = ring_buffer__consume(rb_);
    if (n < 0 && n != -EINTR) {
      std::lock_guard<std::mutex> lk(stats_->errMu);
      stats_->error = Describe("poll the ring buffer of " + family_, -n, "polling stopped");
      break;
    }
    if (due(&timeout)) Flush();
  }
  // Close() destroys the links before stopping us: take what is left.
  ring_buffer__consume(rb_);
  Flush();
  stats_->polling = false;
}

// ---- maps -----------------------------------------------------------------

Status Probe::ReadMap(const std::string& name, MapDump* out) {
  Guard g(*this, "read map " + name + " of");
  if (!g.ok()) return g.status();
  bpf_map* map;
  int fd;
  Status st = FindMap(name, "read", &map, &fd);
  if (!st.ok()) return st;
  const std::string what = "read map " + family_ + "/" + name;
  uint32_t type = bpf_map__type(map);
  if (!IsReadable(type))
    return Fail(EOPNOTSUPP, "failed to " + what + ": map type " + std::to_string(type) +
                                " cannot be read by key (EOPNOTSUPP)");
  out->keySize = bpf_map__key_size(map);
  out->valueSize = bpf_map__value_size(map);
  out->perCpu = IsPerCpu(type);
  out->nCpu = 1;
  if (out->perCpu) {
    int n = libbpf_num_possible_cpus();
    if (n <= 0) return Fail(-n, Describe(what + " (possible CPUs)", -n, "is /sys mounted?"));
    out->nCpu = uint32_t(n);
  }
  const size_t slot =
      out->perCpu ? size_t(RoundUp8(out->valueSize)) * out->nCpu : size_t(out->valueSize);
  const uint32_t maxEntries = bpf_map__max_entries(map);
  std::vector<uint8_t> value(slot);

  if (IsIndexed(type)) {
    out->keys.reserve(size_t(maxEntries) * 4);
    out->values.reserve(size_t(maxEntries) * slot);
    for (uint32_t i = 0; i < maxEntries; i++) {
      if (bpf_map_lookup_elem(fd, &i, value.data())) {
        int err = errno;
        return Fail(err, Describe(what + " at index " + std::to_string(i), err, kNeedPriv));
      }
      const auto* k = reinterpret_cast<const uint8_t*>(&i);
      out->keys.insert(out->keys.end(), k, k + sizeof i);
      out->values.insert(out->values.end(), value.begin(), value.end());
    }
    out->count = maxEntries;
    return {};
  }

  // Hash-like maps. Entries deleted meanwhile are skipped; a deletion can make
  // get_next_key restart from the first key, so stop after max_entries rows.
  std::vector<uint8_t> cur(out->keySize), next(out->keySize);
  bool first = true;
  uint32_t count = 0;
  while (count < maxEntries) {
    if (bpf_map_get_next_key(fd, first ? nullptr : cur.data(), next.data())) {
      int err = errno;
      if (err == ENOENT) break;
      return Fail(err, Describe(what + " (next key)", err, kNeedPriv));
    }
    first = false;
    cur.swap(next);
    if (bpf_map_lookup_elem(fd, cur.data(), value.data())) {
      int err = errno;
      if (err == ENOENT) continue;
      return Fail(err, Describe(what, err, kNeedPriv));
    }
    out->keys.insert(out->keys.end(), cur.begin(), cur.end());
    out->values.insert(out->values.end(), value.begin(), value.end());
    count++;
  }
  out->count = count;
  return {};
}

Status Probe::UpdateMap(const std::string& name, const uint8_t* key, size_t keyLen,
                        const uint8_t* value, size_t valueLen) {
  Guard g(*this, "update map " + name + " of");
  if (!g.ok()) return g.status();
  bpf_map* map;
  int fd;
  Status st = FindMap(name, "update", &map, &fd);
  if (!st.ok()) return st;
  uint32_t type = bpf_map__type(map);
  size_t wantKey = bpf_map__key_size(map);
  size_t wantValue = bpf_map__value_size(map);
  if (IsPerCpu(type)) {
    int n = libbpf_num_possible_cpus();
    if (n <= 0) return Fail(-n, Describe("update map " + name + " (possible CPUs)", -n, ""));
    wantValue = size_t(RoundUp8(uint32_t(wantValue))) * size_t(n);
  }
  if (keyLen != wantKey)
    return TypeFail("expected key of " + std::to_string(wantKey) + " bytes for map " + family_ +
                    "/" + name + ", got " + std::to_string(keyLen));
  if (valueLen != wantValue)
    return TypeFail("expected value of " + std::to_string(wantValue) + " bytes for map " +
                    family_ + "/" + name + (IsPerCpu(type) ? " (per-CPU: 8-byte slots x CPUs)" : "") +
                    ", got " + std::to_string(valueLen));
  if (bpf_map_update_elem(fd, key, value, BPF_ANY)) {
    int err = errno;
    return Fail(err, Describe("update map " + family_ + "/" + name, err,
                              MapUpdateHint(err, bpf_map__max_entries(map))));
  }
  return {};
}

Status Probe::DeleteMapEntry(const std::string& name, const uint8_t* key, size_t keyLen, bool* deleted) {
  *deleted = false;
  Guard g(*this, "delete from map " + name + " of");
  if (!g.ok()) return g.status();
  bpf_map* map;
  int fd;
  Status st = FindMap(name, "delete from", &map, &fd);
  if (!st.ok()) return st;
  size_t wantKey = bpf_map__key_size(map);
  if (keyLen != wantKey)
    return TypeFail("expected key of " + std::to_string(wantKey) + " bytes for map " + family_ +
                    "/" + name + ", got " + std::to_string(keyLen));
  if (bpf_map_delete_elem(fd, key)) {
    int err = errno;
    if (err == ENOENT) return {};
    return Fail(err, Describe("delete from map " + family_ + "/" + name, err, MapDeleteHint(err)));
  }
  *deleted = true;
  return {};
}

// ---- run a program ---------------------------------------------------------

Status Probe::RunProgram(const std::string& name, int32_t* retval) {
  Guard g(*this, "run program " + name + " of");
  if (!g.ok()) return g.status();
  bpf_program* prog = bpf_object__find_program_by_name(obj_, name.c_str());
  if (!prog)
    return Fail(ENOENT, "failed to run " + family_ + "/" + name + ": no such program (ENOENT) — see programs()");
  int fd = bpf_program__fd(prog);
  if (fd < 0)
    return Fail(EBADF, "failed to run " + family_ + "/" + name + ": not loaded (EBADF; autoload off?)");
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  if (bpf_prog_test_run_opts(fd, &opts)) {
    int err = errno;
    return Fail(err, Describe("run " + family_ + "/" + name, err, kNeedPriv));
  }
  *retval = int32_t(opts.retval);
  return {};
}

// ---- program stats --------------------------------------------------------

Status Probe::ProgramStats(std::vector<ProgramStat>* out) {
  Guard g(*this, "read program stats of");
  if (!g.ok()) return g.status();
  bpf_program* prog;
  bpf_object__for_each_program(prog, obj_) {
    int fd = bpf_program__fd(prog);
    if (fd < 0) continue;  // not loaded (autoload off)
    bpf_prog_info info;
    memset(&info, 0, sizeof info);
    __u32 len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
      int err = errno;
      return Fail(err, Describe("read stats of " + family_ + "/" + bpf_program__name(prog), err,
                                kNeedPriv));
    }
    out->push_back({bpf_program__name(prog), info.run_time_ns, info.run_cnt, info.id});
  }
  return {};
}

// ---- close ----------------------------------------------------------------

void Probe::Close() {
  std::lock_guard<std::mutex> lk(mu_);
  if (closed_) return;
  closed_ = true;
  for (auto& l : links_) bpf_link__destroy(l.second);  // detach first: nothing new arrives
  links_.clear();
  stop_ = true;
  if (thread_.joinable()) thread_.join();  // the thread drains the ring and flushes
  sink_ = nullptr;
  if (rb_) ring_buffer__free(rb_);
  rb_ = nullptr;
  bpf_object__close(obj_);
  obj_ = nullptr;
}

}  // namespace v2
