// The tests' backend knob (see test_backend.h).
#include "test_backend.h"

#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include <gtest/gtest.h>

#include "driver/namespaces.h"

namespace lx::test {
namespace {

constexpr const char* kConfigHome = "XDG_CONFIG_HOME=";

bool is_lx(const std::string& word) {
  return word == "lx" || (word.size() > 3 && word.compare(word.size() - 3, 3, "/lx") == 0);
}

bool names_config_home(const std::string& word) { return word.rfind(kConfigHome, 0) == 0; }

// Writes `[instance] backend` into DIR/lxhost/lxhost.toml unless that file is there; the
// directory and the file belong to DIR's owner (a test may have handed DIR to another user).
bool write_user_config(const std::string& dir) {
  struct stat st{};
  if (dir.empty() || dir[0] != '/' || stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  std::string sub = dir + "/lxhost", file = sub + "/lxhost.toml";
  if (access(file.c_str(), F_OK) == 0) return true;
  if (mkdir(sub.c_str(), 0755) == 0 && geteuid() == 0) (void)!chown(sub.c_str(), st.st_uid, st.st_gid);
  {
    std::ofstream out(file);
    out << "# written by the tests' support layer (LXHOST_TEST_BACKEND)\n[instance]\nbackend = \""
        << test_backend() << "\"\n";
    if (!out) return false;
  }
  if (geteuid() == 0) (void)!chown(file.c_str(), st.st_uid, st.st_gid);
  return true;
}

// Whether `argv` (or `env`) names a config directory, writing its config file when it does.
bool config_home_written(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  bool written = false;
  for (const auto* list : {&env, &argv})
    for (const auto& w : *list)
      if (names_config_home(w)) written = write_user_config(w.substr(std::string(kConfigHome).size())) || written;
  return written;
}

// Whether the options from `from` on (up to "--") hold a --set, or one naming `key`.
bool has_set(const std::vector<std::string>& argv, std::size_t from, const std::string& key = "") {
  for (std::size_t i = from; i < argv.size() && argv[i] != "--"; ++i) {
    std::string value;
    if (argv[i] == "--set" && i + 1 < argv.size()) value = argv[i + 1];
    else if (argv[i].rfind("--set=", 0) == 0) value = argv[i].substr(6);
    else continue;
    if (key.empty() || value.rfind(key + "=", 0) == 0) return true;
  }
  return false;
}

// Under LXHOST_TEST_BACKEND=kernel on a host that refuses user namespaces, every test skips.
class BackendEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (test_backend() == "kernel" && !kernel_refusal().empty())
      GTEST_SKIP() << "LXHOST_TEST_BACKEND=kernel, but this host refuses user namespaces: " << kernel_refusal();
  }
};

[[maybe_unused]] ::testing::Environment* const g_environment =
    ::testing::AddGlobalTestEnvironment(new BackendEnvironment);

}  // namespace

const std::string& test_backend() {
  static const std::string backend = [] {
    const char* v = std::getenv("LXHOST_TEST_BACKEND");
    std::string b = v ? v : "";
    if (!b.empty() && b != "kernel" && b != "emulated") {
      std::fprintf(stderr, "LXHOST_TEST_BACKEND=%s: expected kernel or emulated\n", b.c_str());
      std::abort();
    }
    return b;
  }();
  return backend;
}

std::vector<std::string> with_test_backend(std::vector<std::string> argv, const std::vector<std::string>& env) {
  if (test_backend().empty()) return argv;
  bool config_home = config_home_written(argv, env);
  for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i].find(' ') != std::string::npos) {
      argv[i] = with_test_backend_line(argv[i]);
      continue;
    }
    if (!is_lx(argv[i])) continue;
    const std::string& sub = argv[i + 1];
    // A command naming its backend itself (a test of the choice) keeps it.
    if (has_set(argv, i + 2, "instance.backend")) break;
    if (sub == "exec" || sub == "syscalls" || (sub == "run" && (has_set(argv, i + 2) || !config_home)))
      argv.insert(argv.begin() + static_cast<std::ptrdiff_t>(i) + 2, {"--set", "instance.backend=" + test_backend()});
    break;
  }
  return argv;
}

std::string with_test_backend_line(const std::string& command_line) {
  if (test_backend().empty()) return command_line;
  std::vector<std::string> words;
  std::size_t start = 0;
  for (std::size_t p; (p = command_line.find(' ', start)) != std::string::npos; start = p + 1)
    words.push_back(command_line.substr(start, p - start));
  words.push_back(command_line.substr(start));
  words = with_test_backend(words);
  std::string out = words[0];
  for (std::size_t i = 1; i < words.size(); ++i) out += " " + words[i];
  return out;
}

const std::string& kernel_refusal() {
  static const std::string why = driver::probe_user_namespace();
  return why;
}

pid_t find_host_pid(pid_t guest_pid, const std::string& command_has);

pid_t host_pid(pid_t guest_pid, const std::string& command_has) {
  if (test_backend() == "emulated" || (test_backend().empty() && !kernel_refusal().empty())) return guest_pid;
  // Looked for a few times: a process just forked may not be listed at the first look.
  for (int tries = 0; tries < 20; ++tries) {
    if (pid_t found = find_host_pid(guest_pid, command_has); found > 0) return found;
    usleep(100000);
  }
  return -1;
}

pid_t find_host_pid(pid_t guest_pid, const std::string& command_has) {
  pid_t found = -1;
  DIR* d = opendir("/proc");
  if (!d) return -1;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (!end || *end || pid <= 0) continue;
    std::ifstream status(std::string("/proc/") + e->d_name + "/status");
    std::string line, last;
    int fields = 0;
    while (std::getline(status, line)) {
      if (line.rfind("NSpid:", 0) != 0) continue;
      std::istringstream in(line.substr(6));
      for (std::string f; in >> f;) last = f, ++fields;
    }
    if (fields < 2 || last != std::to_string(guest_pid)) continue;
    std::ifstream cmd(std::string("/proc/") + e->d_name + "/cmdline");
    std::string text((std::istreambuf_iterator<char>(cmd)), {});
    for (auto& c : text) if (c == '\0') c = ' ';
    if (text.find(command_has) == std::string::npos) continue;
    found = static_cast<pid_t>(pid);
  }
  closedir(d);
  return found;
}

bool is_namespace_init(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("NSpid:", 0) == 0) {
      std::istringstream in(line.substr(6));
      std::vector<std::string> f;
      for (std::string w; in >> w;) f.push_back(w);
      return f.size() >= 2 && f.back() == "1";
    }
  return false;
}

}  // namespace lx::test
