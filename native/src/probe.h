// probe.h — one loaded v2probe BPF family, in plain C++ over libbpf.
//
// No N-API here: the JavaScript glue (js_*.cc) wraps these types. Every
// failure is returned as a Status whose message is ready for a user:
//   failed to <verb> <thing>: <strerror> (<ERRNO>) — <what to do>
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

struct bpf_object;
struct bpf_link;
struct bpf_map;
struct bpf_program;
struct ring_buffer;

namespace v2 {

struct Status {
  int err = 0;             // positive errno; 0 = ok
  bool typeError = false;  // bad argument (JS TypeError) rather than a system error
  std::string message;
  std::string log;         // tail of libbpf's log for this call, may be empty
  bool ok() const { return err == 0; }
};

// "EPERM" for EPERM, "ENOTSUPP" for the kernel-internal 524, "E<n>" otherwise.
std::string ErrnoName(int err);
// strerror, with a readable text for the kernel-internal 524.
std::string ErrnoText(int err);

// Installs the libbpf print callback once (idempotent, thread-safe).
void InitLibbpf();
std::string LibbpfVersion();

// Names of the BPF objects compiled into the addon (families.cc).
struct Family {
  const char* name;
  const void* elf;  // the .bpf.o file's bytes
  size_t elfSize;
};
const std::vector<Family>& Families();

struct OpenOptions {
  uint64_t ringBytes = 0;                                   // 0: as compiled
  std::vector<std::pair<std::string, bool>> autoload;      // program name -> load it
  std::vector<std::pair<std::string, uint32_t>> maxEntries; // map name -> max_entries
  std::vector<std::pair<std::string, uint64_t>> rodata;     // const volatile global -> value (before load)
};

struct ProgramInfo {
  std::string name, section;
  bool autoload;
};

struct MapInfo {
  std::string name;
  uint32_t type, keySize, valueSize, maxEntries;
};

struct AttachResult {
  std::string program, section;
  bool ok = false;
  int err = 0;
  std::string code, error;
};

struct MapDump {
  uint32_t keySize = 0, valueSize = 0, nCpu = 1, count = 0;
  bool perCpu = false;
  std::vector<uint8_t> keys, values;  // values: count * (perCpu ? round_up(valueSize, 8) * nCpu : valueSize)
};

// One uprobe to attach (attachUprobes): an entry uprobe on `binary` at file
// offset `offset`. pid -1: every process running the binary, now and later.
struct UprobeSpec {
  std::string program, binary;
  uint64_t offset = 0;
  int pid = -1;
  uint64_t cookie = 0;  // bpf_get_attach_cookie()
};

// Sampling perf events (attachPerfEvent): one per CPU (or per listed CPU).
struct PerfEventSpec {
  std::string program;
  uint32_t type = 1;       // PERF_TYPE_SOFTWARE
  uint64_t config = 0;     // PERF_COUNT_SW_CPU_CLOCK
  uint64_t frequency = 99; // samples per second (freq mode); 0: use period
  uint64_t period = 0;
  int pid = -1;            // -1: every task on the CPU
  std::vector<int> cpus;   // empty: every online CPU
};

struct ProgramStat {
  std::string name;
  uint64_t runTimeNs = 0, runCnt = 0;
  uint32_t id = 0;
};

// Delivery counters, shared by the probe, its poll thread and every batch in
// flight (a batch may reach JavaScript, or be dropped, after close()).
struct PollStats {
  std::atomic<uint64_t> deliveredRecords{0}, deliveredBatches{0};
  std::atomic<uint64_t> droppedRecords{0}, droppedBatches{0};
  // Weight of dropped records not yet carried by a delivered one (carryWeight).
  std::atomic<uint64_t> pendingWeight{0};
  std::atomic<bool> polling{false};
  std::mutex errMu;
  std::string error;  // why the poll thread stopped on its own, if it did

  void Delivered(uint32_t records) {
    deliveredRecords += records;
    deliveredBatches += 1;
  }
  void Dropped(uint32_t records) {
    droppedRecords += records;
    droppedBatches += 1;
  }
};

// Ring-buffer records, concatenated as they came.
struct Batch {
  std::vector<uint8_t> bytes;
  uint32_t records = 0;
  std::shared_ptr<PollStats> stats;
};

struct PollOptions {
  uint32_t batchRecords = 4096;
  uint32_t batchMs = 100;
  // Records are struct v2_event: the weight of a batch the consumer could not
  // take (queue full) is carried to the next record of the same event kind,
  // as the BPF side does for a full ring buffer, so sum(weight) over the
  // delivered records still estimates the events seen.
  bool carryWeight = false;
};

// What the consumer did with a batch it was offered.
enum class SinkResult {
  kAccepted,  // took ownership (released the unique_ptr)
  kFull,      // queue full: the batch is dropped and counted
  kClosed,    // consumer gone: drop, count and stop polling
};
// Called on the poll thread; must never block.
using BatchSink = std::function<SinkResult(std::unique_ptr<Batch>& batch)>;

class Probe {
 public:
  // Opens and loads family `family`. Returns null and fills *st on failure.
  static std::shared_ptr<Probe> Open(const std::string& family, const OpenOptions& opts,
                                     Status* st);
  ~Probe();
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  const std::string& family() const { return family_; }
  bool closed();

  Status Programs(std::vector<ProgramInfo>* out);
  Status Maps(std::vector<MapInfo>* out);
  // Attaches every autoloaded program that is not attached yet; one failure
  // does not stop the others. Fails as a whole only when the probe is closed.
  Status Attach(std::vector<AttachResult>* out);
  // Entry uprobes at explicit file offsets (never uretprobes: Go binaries
  // move their stacks). One result per spec; one failure does not stop the others.
  Status AttachUprobes(const std::vector<UprobeSpec>& specs, std::vector<AttachResult>* out);
  // perf_event_open per CPU + bpf_program__attach_perf_event. One result per CPU.
  Status AttachPerfEvent(const PerfEventSpec& spec, std::vector<AttachResult>* out);
  // Destroys the links of program `program` made by AttachUprobes /
  // AttachPerfEvent / Attach. Returns how many were destroyed.
  Status Detach(const std::string& program, uint32_t* destroyed);
  // Starts the poll thread over map `events`.
  Status StartPolling(const PollOptions& opts, BatchSink sink);
  std::shared_ptr<PollStats> stats() const { return stats_; }
  Status ReadMap(const std::string& name, MapDump* out);
  Status UpdateMap(const std::string& name, const uint8_t* key, size_t keyLen,
                   const uint8_t* value, size_t valueLen);
  // Deletes one key; *deleted is false when the key was not there (not an error).
  Status DeleteMapEntry(const std::string& name, const uint8_t* key, size_t keyLen, bool* deleted);
  Status ProgramStats(std::vector<ProgramStat>* out);
  // Runs a loaded program once (BPF_PROG_TEST_RUN; SEC("syscall") programs:
  // work userspace asks for, e.g. a sweep before a read). *retval: its return value.
  Status RunProgram(const std::string& name, int32_t* retval);
  // Detaches, stops and joins the poll thread (which drains the ring and
  // hands over the last batch), frees everything. Idempotent.
  void Close();

 private:
  explicit Probe(std::string family) : family_(std::move(family)) {}
  // Holds mu_ for its scope and says whether the probe is still open: every
  // method that touches the object starts with one (Close excepted). When
  // closed, status() is "failed to <verb> <family>: probe is closed (EBADF)".
  class Guard {
   public:
    Guard(Probe& p, const std::string& verb);
    bool ok() const { return status_.ok(); }
    const Status& status() const { return status_; }

   private:
    std::lock_guard<std::mutex> lock_;
    Status status_;
  };
  Status FindMap(const std::string& name, const char* verb, bpf_map** map, int* fd);
  void PollLoop();
  static int OnRecord(void* ctx, void* data, size_t size);
  void Flush();

  const std::string family_;
  std::mutex mu_;  // guards obj_, links_, rb_, closed_ against the JS thread and workers (Guard)
  bpf_object* obj_ = nullptr;
  std::vector<std::pair<bpf_program*, bpf_link*>> links_;
  bool closed_ = false;

  // Polling. rb_ and the batch are touched only by the poll thread while it runs.
  ring_buffer* rb_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  BatchSink sink_;
  PollOptions pollOpts_;
  std::unique_ptr<Batch> batch_;
  std::chrono::steady_clock::time_point batchStart_;
  // carryWeight: weight of dropped records per event kind (poll thread only).
  std::array<uint64_t, 256> carry_{};
  uint64_t carryTotal_ = 0;
  void CarryDropped(const Batch& b);
  void ApplyCarry(uint8_t* record);
  std::shared_ptr<PollStats> stats_ = std::make_shared<PollStats>();
};

}  // namespace v2
