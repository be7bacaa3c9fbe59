// caps.cc — DropCapabilities(): capset on every thread of the process through
// a signal broadcast (psx-style), then verification from /proc. See caps.h.
#include "caps.h"

#include <dirent.h>
#include <errno.h>
#include <linux/capability.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <set>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

namespace v2 {

namespace {

const char* const kCapNames[] = {
    "CAP_CHOWN",           "CAP_DAC_OVERRIDE",  "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    "CAP_FSETID",          "CAP_KILL",          "CAP_SETGID",          "CAP_SETUID",
    "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",       "CAP_NET_RAW",       "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",      "CAP_SYS_RAWIO",     "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",     "CAP_SYS_BOOT",        "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",      "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
    "CAP_LEASE",           "CAP_AUDIT_WRITE",   "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",     "CAP_SYSLOG",          "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",    "CAP_PERFMON",         "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};
constexpr int kNamedCaps = int(sizeof kCapNames / sizeof kCapNames[0]);
constexpr int kCapSetpcap = 8;
// glibc's SIGCANCEL: never blocked by pthread_sigmask/sigprocmask (see caps.h)
constexpr int kSignal = 32;
constexpr int kMaxSlots = 8192;
constexpr int kMaxRounds = 64;

// ---- the raw rt_sigaction (glibc refuses 32 and 33) ----------------------

struct KSigaction {
  void* handler;
  unsigned long flags;
  void (*restorer)(void);
  uint64_t mask;
};

#if defined(__x86_64__)
// x86-64 returns from a handler through the restorer given with SA_RESTORER;
// this is glibc's __restore_rt (rt_sigreturn = 15).
extern "C" void v2_caps_restore_rt(void);
__asm__(
    ".text\n"
    ".globl v2_caps_restore_rt\n"
    ".hidden v2_caps_restore_rt\n"
    ".type v2_caps_restore_rt,@function\n"
    ".align 16\n"
    "v2_caps_restore_rt:\n"
    "  movq $15, %rax\n"
    "  syscall\n"
    ".size v2_caps_restore_rt, .-v2_caps_restore_rt\n");
constexpr bool kSupported = true;
#elif defined(__aarch64__)
// arm64 returns through the vDSO's sigreturn trampoline: no restorer needed.
constexpr bool kSupported = true;
#else
constexpr bool kSupported = false;
#endif

int RawSigaction(int sig, const KSigaction* act, KSigaction* old) {
  return int(syscall(SYS_rt_sigaction, sig, act, old, sizeof(uint64_t)));
}

// ---- state shared with the handler (async-signal-safe reads only) --------

enum : int { kPending = 0, kDone = 1, kFailed = 2 };
enum : int { kStepNone = 0, kStepAmbient, kStepBounding, kStepNnp, kStepCapget, kStepCapset };

const char* StepName(int s) {
  switch (s) {
    case kStepAmbient: return "ambient";
    case kStepBounding: return "bounding";
    case kStepNnp: return "no_new_privs";
    case kStepCapget: return "capget";
    case kStepCapset: return "capset";
    default: return "";
  }
}

struct Plan {
  uint64_t keep = 0;
  int lastCap = 40;
  bool dropBounding = false;
  bool noNewPrivs = false;
};

struct Slot {
  std::atomic<int> tid{0};
  std::atomic<int> state{kPending};
  std::atomic<int> err{0};
  std::atomic<int> step{kStepNone};
};

static_assert(std::atomic<int>::is_always_lock_free, "the handler needs lock-free atomics");
static_assert(std::atomic<bool>::is_always_lock_free, "the handler needs lock-free atomics");

Plan g_plan;
Slot g_slots[kMaxSlots];
std::atomic<int> g_nslots{0};
std::atomic<bool> g_active{false};
pid_t g_pid = 0;
KSigaction g_old{};
std::mutex g_mu;  // one drop at a time

long Prctl(long op, long a = 0, long b = 0, long c = 0, long d = 0) {
  return syscall(SYS_prctl, op, a, b, c, d);
}

// Everything a thread does to itself. Async-signal-safe: raw syscalls only.
// Returns 0 or the errno of the failing step (in *step).
int ApplyPlan(const Plan& p, int* step) {
  *step = kStepAmbient;
  if (Prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL) != 0 && errno != EINVAL) return errno;
  if (p.dropBounding) {
    *step = kStepBounding;
    for (int c = 0; c <= p.lastCap && c < 64; c++) {
      if (p.keep & (1ull << c)) continue;
      if (Prctl(PR_CAPBSET_READ, c) == 1 && Prctl(PR_CAPBSET_DROP, c) != 0) return errno;
    }
  }
  if (p.noNewPrivs) {
    *step = kStepNnp;
    if (Prctl(PR_SET_NO_NEW_PRIVS, 1) != 0) return errno;
  }
  *step = kStepCapget;
  __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2];
  memset(d, 0, sizeof d);
  if (syscall(SYS_capget, &h, d) != 0) return errno;
  uint64_t prm = uint64_t(d[0].permitted) | (uint64_t(d[1].permitted) << 32);
  uint64_t want = prm & p.keep;
  for (int i = 0; i < 2; i++) {
    d[i].permitted = d[i].effective = uint32_t(want >> (32 * i));
    d[i].inheritable = 0;
  }
  *step = kStepCapset;
  h = {_LINUX_CAPABILITY_VERSION_3, 0};
  if (syscall(SYS_capset, &h, d) != 0) return errno;
  *step = kStepNone;
  return 0;
}

void ChainToOld(int sig, siginfo_t* si, void* uc) {
  void* h = g_old.handler;
  if (h == reinterpret_cast<void*>(SIG_DFL) || h == reinterpret_cast<void*>(SIG_IGN)) return;
  if (g_old.flags & SA_SIGINFO)
    reinterpret_cast<void (*)(int, siginfo_t*, void*)>(h)(sig, si, uc);
  else
    reinterpret_cast<void (*)(int)>(h)(sig);
}

void Handler(int sig, siginfo_t* si, void* uc) {
  int saved = errno;
  bool mine = false;
  if (g_active.load(std::memory_order_acquire) && si && si->si_code == SI_TKILL &&
      si->si_pid == g_pid) {
    int tid = int(syscall(SYS_gettid));
    int n = g_nslots.load(std::memory_order_acquire);
    for (int i = 0; i < n; i++) {
      Slot& s = g_slots[i];
      if (s.tid.load(std::memory_order_relaxed) != tid) continue;
      if (s.state.load(std::memory_order_acquire) == kPending) {
        int step = kStepNone;
        int err = ApplyPlan(g_plan, &step);
        s.err.store(err, std::memory_order_relaxed);
        s.step.store(step, std::memory_order_relaxed);
        s.state.store(err ? kFailed : kDone, std::memory_order_release);
      }
      mine = true;
      break;
    }
  }
  if (!mine) ChainToOld(sig, si, uc);
  errno = saved;
}

// ---- /proc -------------------------------------------------------------

std::vector<int> ListTasks() {
  std::vector<int> out;
  DIR* d = opendir("/proc/self/task");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    out.push_back(atoi(e->d_name));
  }
  closedir(d);
  return out;
}

struct TaskStatus {
  bool present = false;
  std::string name;
  char state = '?';
  uint64_t inh = 0, prm = 0, eff = 0, bnd = 0, amb = 0;
  bool noNewPrivs = false;
};

TaskStatus ReadTask(int tid) {
  TaskStatus t;
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/status");
  if (!f) return t;
  std::string line;
  auto hex = [](const std::string& l) { return uint64_t(strtoull(l.c_str() + l.find(':') + 1, nullptr, 16)); };
  while (std::getline(f, line)) {
    if (line.rfind("Name:", 0) == 0) {
      t.name = line.substr(5);
      t.name.erase(0, t.name.find_first_not_of(" \t"));
    } else if (line.rfind("State:", 0) == 0) {
      size_t p = line.find_first_not_of(" \t", 6);
      if (p != std::string::npos) t.state = line[p];
    } else if (line.rfind("CapInh:", 0) == 0) t.inh = hex(line);
    else if (line.rfind("CapPrm:", 0) == 0) t.prm = hex(line);
    else if (line.rfind("CapEff:", 0) == 0) t.eff = hex(line);
    else if (line.rfind("CapBnd:", 0) == 0) t.bnd = hex(line);
    else if (line.rfind("CapAmb:", 0) == 0) t.amb = hex(line);
    else if (line.rfind("NoNewPrivs:", 0) == 0) t.noNewPrivs = atoi(line.c_str() + 11) == 1;
  }
  t.present = !t.name.empty() || t.prm || t.bnd;
  return t;
}

bool Gone(const TaskStatus& t) { return !t.present || t.state == 'Z' || t.state == 'X'; }

int LastCap() {
  FILE* f = fopen("/proc/sys/kernel/cap_last_cap", "r");
  int n = 40;
  if (f) {
    if (fscanf(f, "%d", &n) != 1) n = 40;
    fclose(f);
  }
  return std::min(std::max(n, 0), 63);
}

void SleepMs(int ms) {
  timespec ts{ms / 1000, long(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

std::string Hex(uint64_t v) {
  char b[20];
  snprintf(b, sizeof b, "%016llx", (unsigned long long)v);
  return b;
}

std::string Names(uint64_t mask) {
  std::string out;
  for (int c = 0; c < 64; c++)
    if (mask & (1ull << c)) out += (out.empty() ? "" : ",") + CapName(c);
  return out.empty() ? "none" : out;
}

Status Fail(int err, std::string message) {
  Status st;
  st.err = err ? err : EPERM;
  st.message = std::move(message);
  return st;
}

// Restores the previous disposition. SIG_IGN first: the kernel discards a
// pending copy of the signal on every thread, so a duplicate that was never
// handled cannot reach the old disposition (SIG_DFL terminates).
void RestoreSignal() {
  KSigaction ign{};
  ign.handler = reinterpret_cast<void*>(SIG_IGN);
#if defined(__x86_64__)
  ign.flags = SA_RESTORER;
  ign.restorer = v2_caps_restore_rt;
#endif
  RawSigaction(kSignal, &ign, nullptr);
  KSigaction old = g_old;
#if defined(__x86_64__)
  if (!(old.flags & SA_RESTORER) && old.handler != reinterpret_cast<void*>(SIG_DFL) &&
      old.handler != reinterpret_cast<void*>(SIG_IGN)) {
    old.flags |= SA_RESTORER;
    old.restorer = v2_caps_restore_rt;
  }
#endif
  RawSigaction(kSignal, &old, nullptr);
}

}  // namespace

std::string CapName(int cap) {
  if (cap >= 0 && cap < kNamedCaps) return kCapNames[cap];
  return "CAP_" + std::to_string(cap);
}

int CapFromName(const std::string& name) {
  std::string n;
  for (char c : name) n += char(toupper(static_cast<unsigned char>(c)));
  if (n.rfind("CAP_", 0) != 0) n = "CAP_" + n;
  for (int c = 0; c < kNamedCaps; c++)
    if (n == kCapNames[c]) return c;
  return -1;
}

namespace {

// A thread DropCapabilities() handled: itself (slot -1), signalled (its slot), or
// found only at the end (-2: created after the last scan, by a thread that had dropped).
struct Handled {
  int tid;
  int slot;
  bool gone = false;
};

// Install Handler for kSignal (the previous disposition kept in g_old) and arm it.
Status InstallHandler() {
  KSigaction act{};
  act.handler = reinterpret_cast<void*>(&Handler);
  act.flags = SA_SIGINFO | SA_RESTART;
#if defined(__x86_64__)
  act.flags |= SA_RESTORER;
  act.restorer = v2_caps_restore_rt;
#endif
  if (RawSigaction(kSignal, &act, &g_old) != 0) {
    int e = errno;
    return Fail(e, "failed to drop capabilities: cannot install the handler of signal " +
                       std::to_string(kSignal) + ": " + ErrnoText(e) + " (" + ErrnoName(e) + ")");
  }
  g_active.store(true, std::memory_order_release);
  return Status();
}

// Wait until every slot in `waitFor` has answered, or timeoutMs passed.
void WaitForHandlers(const std::vector<int>& waitFor, int timeoutMs) {
  timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    bool all = true;
    for (int n : waitFor)
      if (g_slots[n].state.load(std::memory_order_acquire) == kPending) { all = false; break; }
    if (all) break;
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
    if (ms >= timeoutMs) break;
    SleepMs(1);
  }
}

// Signal every thread not handled yet, round after round, until a scan of
// /proc/self/task finds none (each round waits for its handlers).
Status SignalOtherThreads(const CapDropOptions& opts, std::set<int>* known, std::vector<Handled>* handled, CapDropReport* report) {
  Status st;
  for (int round = 0;; round++) {
    std::vector<int> fresh;
    for (int tid : ListTasks())
      if (!known->count(tid)) fresh.push_back(tid);
    if (fresh.empty()) break;
    if (round >= kMaxRounds) {
      st = Fail(EAGAIN, "failed to drop capabilities: threads kept appearing after " +
                            std::to_string(kMaxRounds) + " scans of /proc/self/task");
      break;
    }
    report->rounds++;
    std::vector<int> waitFor;
    for (int tid : fresh) {
      known->insert(tid);
      int n = g_nslots.load(std::memory_order_relaxed);
      if (n >= kMaxSlots) {
        st = Fail(E2BIG, "failed to drop capabilities: more than " + std::to_string(kMaxSlots) + " threads");
        break;
      }
      g_slots[n].tid.store(tid, std::memory_order_relaxed);
      g_slots[n].state.store(kPending, std::memory_order_relaxed);
      g_nslots.store(n + 1, std::memory_order_release);
      Handled h{tid, n};
      if (syscall(SYS_tgkill, g_pid, tid, kSignal) != 0) {
        if (errno == ESRCH) h.gone = true;  // exited meanwhile
        else {
          g_slots[n].err.store(errno);
          g_slots[n].step.store(kStepNone);
          g_slots[n].state.store(kFailed);
        }
      } else waitFor.push_back(n);
      handled->push_back(h);
    }
    if (!st.ok()) break;
    WaitForHandlers(waitFor, opts.timeoutMs);
  }
  return st;
}

// One thread as verified in /proc now: what it holds, and the step that failed on it (if any).
CapThreadReport VerifyThread(const Handled& h, const TaskStatus& t, int selfErr, int selfStep) {
  CapThreadReport r;
  r.tid = h.tid;
  r.name = t.name;
  r.via = h.slot == -1 ? "self" : h.slot == -2 ? "inherited" : "signal";
  r.eff = t.eff;
  r.prm = t.prm;
  r.inh = t.inh;
  r.bnd = t.bnd;
  r.amb = t.amb;
  r.noNewPrivs = t.noNewPrivs;
  if (h.slot == -1) {
    r.err = selfErr;
    r.step = selfErr ? StepName(selfStep) : "";
  } else if (h.slot >= 0) {
    int state = g_slots[h.slot].state.load(std::memory_order_acquire);
    if (state == kPending) {
      r.err = ETIMEDOUT;
      r.step = "signal";
    } else if (state == kFailed) {
      r.err = g_slots[h.slot].err.load();
      int s = g_slots[h.slot].step.load();
      r.step = s == kStepNone ? "signal" : StepName(s);
    }
  }
  return r;
}

// The error of the first thread left privileged.
Status ThreadFailure(const CapThreadReport& r, const TaskStatus& t, const CapDropOptions& opts, uint64_t target) {
  std::string why = r.step == "signal" && r.err == ETIMEDOUT
                        ? "it did not answer signal " + std::to_string(kSignal) + " within " +
                              std::to_string(opts.timeoutMs) + " ms (stopped or traced?)"
                        : r.step == "verify" ? "it still holds them after the drop"
                        : r.step + " failed: " + ErrnoText(r.err) + " (" + ErrnoName(r.err) + ")";
  uint64_t extra = (t.eff | t.prm) & ~target;
  return Fail(r.err, "failed to drop capabilities on thread " + std::to_string(r.tid) + " (" + r.name +
                         "): " + why + "; CapEff=" + Hex(t.eff) + " CapPrm=" + Hex(t.prm) +
                         (extra ? " (beyond the kept set: " + Names(extra) + ")" : "") +
                         "; the process is left partly privileged");
}

}  // namespace

Status DropCapabilities(const CapDropOptions& opts, CapDropReport* report) {
  *report = CapDropReport{};
  report->signal = kSignal;
  if (!kSupported)
    return Fail(ENOTSUP, "failed to drop capabilities: not supported on this CPU architecture (x86-64 and arm64 only)");
  std::unique_lock<std::mutex> lk(g_mu, std::try_to_lock);
  if (!lk.owns_lock() || g_active.load())
    return Fail(EBUSY, "failed to drop capabilities: another drop is running (EBUSY)");

  const int self = int(syscall(SYS_gettid));
  TaskStatus me = ReadTask(self);
  report->beforePrm = me.prm;
  report->beforeEff = me.eff;
  report->beforeBnd = me.bnd;

  Plan plan;
  plan.lastCap = LastCap();
  plan.keep = opts.keep;
  plan.noNewPrivs = opts.noNewPrivs;
  // PR_CAPBSET_DROP needs CAP_SETPCAP in the thread's effective set
  plan.dropBounding = opts.dropBounding && (me.eff & (1ull << kCapSetpcap)) && (me.bnd & ~opts.keep);
  report->target = me.prm & opts.keep;
  report->boundingDropped = plan.dropBounding;
  report->noNewPrivs = opts.noNewPrivs;

  // install the handler
  g_pid = getpid();
  g_plan = plan;
  g_nslots.store(0);
  for (auto& s : g_slots) {
    s.tid.store(0, std::memory_order_relaxed);
    s.state.store(kPending, std::memory_order_relaxed);
  }
  Status installed = InstallHandler();
  if (!installed.ok()) return installed;

  std::vector<Handled> handled;
  std::set<int> known;

  // the caller first: threads it creates from now on inherit the result
  int selfStep = kStepNone;
  int selfErr = ApplyPlan(plan, &selfStep);
  known.insert(self);
  handled.push_back({self, -1});

  Status st = SignalOtherThreads(opts, &known, &handled, report);

  g_active.store(false, std::memory_order_release);
  RestoreSignal();

  // verify every thread there is now, and report on each
  std::set<int> byUs;
  for (const auto& h : handled) byUs.insert(h.tid);
  std::vector<int> tasks = ListTasks();
  for (int tid : tasks)
    if (!byUs.count(tid)) handled.push_back({tid, -2});  // created after the last scan
  for (const auto& h : handled) {
    TaskStatus t = ReadTask(h.tid);
    if (h.gone || Gone(t)) continue;  // exited: holds nothing
    CapThreadReport r = VerifyThread(h, t, selfErr, selfStep);
    bool holds = (t.eff & ~report->target) || (t.prm & ~report->target) || t.inh || t.amb ||
                 (plan.dropBounding && (t.bnd & ~opts.keep)) || (plan.noNewPrivs && !t.noNewPrivs);
    if (holds && r.err == 0) {
      r.err = EPERM;
      r.step = "verify";
    }
    r.ok = !holds;
    if (!r.ok && st.ok()) {
      report->failedTid = r.tid;
      st = ThreadFailure(r, t, opts, report->target);
    }
    report->threads.push_back(std::move(r));
  }
  return st;
}

}  // namespace v2
