// Route micro-benchmark: ns per getppid() natively and under lx exec on each route (allowed
// through the filter, ERRNO, NOTIFY with and without sync wake-up, TRACE), and the start-up
// cost of `lx exec -- /bin/true` against native and proot. Medians of several runs.
//
// usage: route_bench [--runs N] [--calls N]   (run from the build tree: build/bin/route_bench)
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

extern char** environ;

namespace {

namespace fs = std::filesystem;

// Runs argv, returns its stdout (empty on failure).
std::string capture(const std::vector<std::string>& argv) {
  int p[2];
  if (pipe(p) != 0) return {};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  posix_spawn_file_actions_addclose(&fa, p[0]);
  std::vector<char*> a;
  for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, a[0], &fa, nullptr, a.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(p[1]);
  std::string out;
  if (rc == 0) {
    char buf[4096];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) out.clear();
  }
  close(p[0]);
  return out;
}

// Wall time of one run of argv in ms (stdout discarded); negative on failure.
double time_run(const std::vector<std::string>& argv) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  std::vector<char*> a;
  for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  auto t0 = std::chrono::steady_clock::now();
  pid_t pid;
  int rc = posix_spawnp(&pid, a[0], &fa, nullptr, a.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int st;
  waitpid(pid, &st, 0);
  auto t1 = std::chrono::steady_clock::now();
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return -1;
  return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

// The median of `v` (the upper one of an even count); -1 when empty. The benchmarks' C++ timer;
// bench/lib.sh has the shell one.
double median(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Options {
  int runs = 7;
  long calls = 200000;
};

// --runs N --calls N; false on anything else.
bool parse_options(int argc, char** argv, Options& o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--runs") o.runs = std::max(1, std::atoi(argv[i + 1]));
    else if (a == "--calls") o.calls = std::max(1000L, std::atol(argv[i + 1]));
    else return false;
  }
  return true;
}

// Where the build tree keeps what the benchmark runs.
struct Paths {
  std::string lx, guest, plugins;
};

struct Row {
  std::string name;
  std::vector<std::string> argv;
  long calls;
};

// The routes timed: each runs the guest with its own call count, then "5" rounds.
std::vector<Row> route_rows(const Paths& p, long calls) {
  auto guest = [&](long n, std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {p.guest, std::to_string(n), "5"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  auto lx = [&](std::vector<std::string> a, long n) {
    a.insert(a.begin(), {p.lx, "exec"});
    a.push_back("--");
    for (auto& g : guest(n)) a.push_back(g);
    return a;
  };
  auto probe = [&](std::vector<std::string> sets, long n) {
    std::vector<std::string> a = {"--set", fmt::format("plugins.search_path=[\"{}\"]", p.plugins), "--set",
                                  "families.other.plugin=probe"};
    for (auto& s : sets) a.insert(a.end(), {"--set", s});
    return lx(a, n);
  };
  std::vector<Row> rows = {
      {"native", guest(calls), calls},
      {"any filter (1 insn, floor)", guest(calls, {"allow-filter"}), calls},
      {"allowed through the filter", lx({}, calls), calls},
      {"ERRNO (in kernel)", probe({"probe.getppid_route=errno"}, calls), calls},
      {"NOTIFY (sync wake-up)", probe({"probe.getppid_value=1"}, calls / 10), calls / 10},
      {"NOTIFY (no sync wake-up)", probe({"probe.getppid_value=1", "driver.sync_wakeup=false"}, calls / 20), calls / 20},
      {"TRACE", probe({"probe.getppid_route=trace", "probe.getppid_value=1"}, calls / 20), calls / 20},
  };
  if (access("/usr/bin/proot", X_OK) == 0) {
    auto a = guest(calls / 20);
    a.insert(a.begin(), "/usr/bin/proot");
    rows.push_back({"proot (ptrace on every call)", a, calls / 20});
  }
  return rows;
}

// ns per call on each route, with the ratio to native.
void bench_routes(const Paths& p, const Options& o) {
  std::printf("lxhost route benchmark: getppid(), median of %d runs (each itself a median of 5 rounds)\n", o.runs);
  std::printf("%-28s %12s %10s\n", "route", "ns/call", "x native");
  double native = 0, floor = 0;
  for (const auto& r : route_rows(p, o.calls)) {
    std::vector<double> v;
    for (int k = 0; k < o.runs; ++k) {
      std::string out = capture(r.argv);
      if (!out.empty()) v.push_back(std::stod(out));
    }
    double m = median(v);
    if (r.name == "native") native = m;
    if (r.name.rfind("any filter", 0) == 0) floor = m;
    if (m < 0) std::printf("%-28s %12s\n", r.name.c_str(), "failed");
    else std::printf("%-28s %12.1f %10.2f\n", r.name.c_str(), m, native > 0 ? m / native : 0);
  }
  if (floor > 0) std::printf("(any seccomp filter costs the kernel %.0f ns a call here: the floor for 'allowed')\n", floor - native);
}

// Wall time of one run of /bin/true natively, under lx exec and under proot.
void bench_start_up(const Paths& p, const Options& o) {
  std::printf("\nstart-up: wall time of one run of /bin/true, median of %d runs\n", o.runs * 3);
  std::printf("%-28s %12s %14s\n", "runner", "ms", "ms over native");
  std::vector<std::pair<std::string, std::vector<std::string>>> starts = {
      {"native", {"/bin/true"}},
      {"lx exec", {p.lx, "exec", "--", "/bin/true"}},
  };
  if (access("/usr/bin/proot", X_OK) == 0) starts.push_back({"proot", {"/usr/bin/proot", "/bin/true"}});
  double base = 0;
  for (auto& [name, a] : starts) {
    std::vector<double> v;
    for (int k = 0; k < o.runs * 3; ++k)
      if (double t = time_run(a); t >= 0) v.push_back(t);
    double m = median(v);
    if (name == "native") base = m;
    std::printf("%-28s %12.2f %14.2f\n", name.c_str(), m, m - base);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse_options(argc, argv, o)) {
    std::fprintf(stderr, "usage: route_bench [--runs N] [--calls N]\n");
    return 2;
  }
  fs::path bin = fs::read_symlink("/proc/self/exe").parent_path();
  fs::path build = bin.parent_path();
  Paths p{(bin / "lx").string(), (build / "tests/guest/bench_getppid").string(),
          (build / "test-plugins/plugins").string()};
  if (!fs::exists(p.guest) || !fs::exists(p.plugins + "/lxhost-probe.so")) {
    std::fprintf(stderr, "route_bench: needs %s and %s/lxhost-probe.so (build, then run ctest once)\n",
                 p.guest.c_str(), p.plugins.c_str());
    return 1;
  }
  bench_routes(p, o);
  bench_start_up(p, o);
  return 0;
}
