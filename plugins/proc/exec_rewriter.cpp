// ExecRewriter: #! chains, ELF interpreters with --argv0, argv rebuilt below the guest's stack.
#include "exec_rewriter.h"

#include "base/acting_as.h"
#include "base/unique_fd.h"

#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <utility>
#include <vector>

#include <lxhost/plugin.h>

namespace lx::proc {
namespace {

using sdk::fail;
using sdk::SyscallContext;
using sdk::SyscallResult;

// One argv entry of the rewritten call: a pointer already in guest memory, or a new string.
struct ArgvItem {
  std::uint64_t ptr = 0;
  std::string text;
};

// Whether the image process `pid` just exec'd was loaded with no ELF interpreter (AT_BASE 0).
bool loaded_no_interpreter(pid_t pid) {
  std::FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/auxv").c_str(), "re");
  if (!f) return false;
  std::uint64_t pair[2];
  bool none = false;
  while (std::fread(pair, sizeof pair, 1, f) == 1 && pair[0] != AT_NULL)
    if (pair[0] == AT_BASE) none = pair[1] == 0;
  std::fclose(f);
  return none;
}

// The "#!" line of host file `path` (without "#!"), or "" (also when it is not file `resolved`).
std::string shebang_of(const std::string& path, const sdk::PathResolver::FileId& resolved) {
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return {};
  // The file resolved, not one a symlink swapped into the host path since leads to (whose first
  // line would reach the guest in the interpreter's argv); an exec of such a file dies anyway.
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_dev != resolved.dev || st.st_ino != resolved.ino) {
    close(fd);
    return {};
  }
  char head[256];
  ssize_t k = pread(fd, head, sizeof head - 1, 0);
  close(fd);
  if (k <= 2 || head[0] != '#' || head[1] != '!') return {};
  std::string line(head + 2, static_cast<std::size_t>(k - 2));
  return line.substr(0, line.find('\n'));
}

// "#!interp [arg]" split into the interpreter and its one optional argument (blanks around
// it dropped); an empty interpreter when the line has none.
std::pair<std::string, std::string> split_shebang(const std::string& shebang) {
  std::size_t b = shebang.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  std::size_t e = shebang.find_first_of(" \t", b);
  std::string interp = shebang.substr(b, e == std::string::npos ? std::string::npos : e - b);
  std::string arg;
  if (e != std::string::npos) {
    std::size_t ab = shebang.find_first_not_of(" \t", e);
    if (ab != std::string::npos) {
      arg = shebang.substr(ab);
      while (!arg.empty() && (arg.back() == ' ' || arg.back() == '\t' || arg.back() == '\r')) arg.pop_back();
    }
  }
  return {interp, arg};
}

// The name an interpreter is given for the program it runs: the guest path (execveat's
// dirfd-relative paths become absolute: the interpreter resolves from the cwd).
std::string script_name(sdk::PathResolver& paths, const ExecCall& call, const std::string& path,
                        const std::string& prog_host) {
  bool relative_to_dirfd = call.execveat && call.dirfd != AT_FDCWD && !path.empty() && path[0] != '/';
  return relative_to_dirfd ? paths.guest_path(prog_host) : path;
}

// Reads the guest's argv (its pointers only, at most 65536) at `argv`.
int read_argv(SyscallContext& c, std::uint64_t argv, std::vector<ArgvItem>& items) {
  for (std::uint64_t a = argv; a && items.size() < 65536; a += 8) {
    std::uint64_t p;
    if (int e = c.read(a, p); e != 0) return e;
    if (!p) break;
    items.push_back({p, {}});
  }
  return 0;
}

// The pid whose /proc/<pid>/exe `path` names (/proc/self, /proc/thread-self, /proc/N, or
// /proc/N/task/T), `self` for the caller's own; 0 when it names no such link.
pid_t exe_link_pid(const std::string& path, pid_t self) {
  static const std::regex re("^/proc/(self|thread-self|([0-9]+)(/task/[0-9]+)?)/exe$");
  std::smatch m;
  if (!std::regex_match(path, m, re)) return 0;
  if (!m[2].matched) return self;
  return static_cast<pid_t>(std::stol(m[2].str()));
}

// Whether any process has host file `path` open for writing: a read lease is refused (EAGAIN)
// exactly then (the kernel's check_conflicting_open). It is released at once. Taking it makes
// this process the file's owner, which a writer breaking the lease meanwhile would signal: with
// SIGURG, ignored by default, rather than SIGIO, which would end lx. Unknown (no lease on this
// filesystem, or not the file's owner without CAP_LEASE): false.
bool open_for_writing(const std::string& path) {
  // A regular file only (opening a device can act), that very file reopened for the lease.
  UniqueFd entry(::open(path.c_str(), O_PATH | O_CLOEXEC | O_NOFOLLOW));
  struct stat st;
  if (!entry || fstat(entry.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  UniqueFd fd(::open(("/proc/self/fd/" + std::to_string(entry.get())).c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd || fcntl(fd.get(), F_SETSIG, SIGURG) != 0) return false;
  if (fcntl(fd.get(), F_SETLEASE, F_RDLCK) == 0) {
    fcntl(fd.get(), F_SETLEASE, F_UNLCK);
    return false;
  }
  return errno == EAGAIN;
}

}  // namespace

std::string ExecRewriter::program_of(pid_t pid) noexcept {
  std::lock_guard lock(mu_);
  auto it = programs_.find(pid);
  return it == programs_.end() ? std::string() : it->second;
}

bool ExecRewriter::runs(dev_t dev, ino_t ino) noexcept {
  std::lock_guard lock(mu_);
  for (const auto& [pid, file] : files_)
    if (file.first == dev && file.second == ino) return true;
  return false;
}

void ExecRewriter::inherit(pid_t child, pid_t parent) noexcept {
  try {
    std::lock_guard lock(mu_);
    auto it = programs_.find(parent);
    if (it == programs_.end()) return;
    programs_[child] = it->second;
    requested_[child] = requested_[parent];
    if (auto f = files_.find(parent); f != files_.end()) files_[child] = f->second;
  } catch (...) {
  }
}

void ExecRewriter::forget(pid_t pid) noexcept {
  std::lock_guard lock(mu_);
  programs_.erase(pid);
  requested_.erase(pid);
  files_.erase(pid);
}

ExecRewriter::~ExecRewriter() {
  if (links_dir_.empty()) return;
  for (const auto& [key, link] : links_) unlink(link.c_str());
  for (const auto& [interp, i] : interp_index_) rmdir((links_dir_ + "/" + std::to_string(i)).c_str());
  rmdir(links_dir_.c_str());
}

std::string ExecRewriter::named_interp(const std::string& interp, const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.size() > 200) return interp;
  ActingAs::AsLx lx;  // lx's own directory
  std::lock_guard lock(mu_);
  std::string key = interp + '\0' + name;
  if (auto it = links_.find(key); it != links_.end()) return it->second;
  if (links_dir_.empty()) {
    // Ours (mkdtemp: a new name), so nobody else can plant a link in it; searchable (0711) by
    // every guest, as a guest that dropped to another user must still exec through it.
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/lxhost-exec-XXXXXX";
    if (!mkdtemp(tmpl.data())) return interp;
    chmod(tmpl.c_str(), 0711);
    links_dir_ = tmpl;
  }
  auto [it, added] = interp_index_.try_emplace(interp, static_cast<int>(interp_index_.size()));
  std::string dir = links_dir_ + "/" + std::to_string(it->second);
  if (added && mkdir(dir.c_str(), 0711) != 0 && errno != EEXIST) return interp;
  if (added) chmod(dir.c_str(), 0711);  // whatever the umask
  std::string link = dir + "/" + name;
  if (symlink(interp.c_str(), link.c_str()) != 0 && errno != EEXIST) return interp;
  links_.emplace(key, link);
  return link;
}

void ExecRewriter::fix_execfn(sdk::SyscallContext& ctx) noexcept {
  try {
    std::string want;
    {
      std::lock_guard lock(mu_);
      auto it = requested_.find(ctx.pid());
      if (it == requested_.end()) return;
      want = std::move(it->second);
      requested_.erase(it);
    }
    // Find AT_EXECFN in the new image's auxiliary vector.
    FILE* f = std::fopen(("/proc/" + std::to_string(ctx.pid()) + "/auxv").c_str(), "re");
    if (!f) return;
    std::uint64_t kv[2], addr = 0;
    while (std::fread(kv, sizeof kv, 1, f) == 1 && kv[0] != 0)
      if (kv[0] == AT_EXECFN) addr = kv[1];
    std::fclose(f);
    if (!addr) return;
    std::string current;
    if (ctx.read_string(addr, current, 4096) != 0 || current.size() < want.size()) return;
    ctx.write_memory(addr, want.c_str(), want.size() + 1);
  } catch (...) {
  }
}

bool ExecRewriter::interp_has_argv0(const std::string& interp) {
  std::lock_guard lock(mu_);
  auto it = argv0_support_.find(interp);
  if (it != argv0_support_.end()) return it->second;
  bool has = false;
  if (FILE* f = std::fopen(interp.c_str(), "re")) {
    std::vector<char> data(4 << 20);
    std::size_t n = std::fread(data.data(), 1, data.size(), f);
    std::fclose(f);
    static const char kNeedle[] = "--argv0";
    has = memmem(data.data(), n, kNeedle, sizeof kNeedle - 1) != nullptr;
  }
  argv0_support_[interp] = has;
  return has;
}

// What the rewritten call runs: the guest path it reached, the host program and ELF
// interpreter, and the new argv when it differs from the guest's.
struct ExecRewriter::Plan {
  std::string path;             // the guest path run (after "#!" chains: the last interpreter)
  std::vector<ArgvItem> items;  // argv
  std::string prog_host;        // the host path of the program
  std::string interp_host;      // the guest root's ELF interpreter on the host ("" for static)
  bool new_argv = false;        // whether argv changed
  sdk::PathResolver::FileId runs{};  // the file resolved that the kernel must load
};

// Follows "#!" lines from plan.path: each makes argv { interp, [arg,] script, argv[1], ... }, as
// the kernel does, up to 4 deep.
int ExecRewriter::follow_scripts(pid_t tid, const ExecCall& call, Plan& plan) {
  for (int depth = 0;; ++depth) {
    int dirfd = depth == 0 ? call.dirfd : AT_FDCWD;
    if (int e = paths_->exec_paths(tid, dirfd, plan.path, plan.prog_host, plan.interp_host, plan.runs);
        e != 0)
      return e;
    std::string shebang = shebang_of(plan.prog_host, plan.runs);
    if (shebang.empty()) return 0;
    if (depth >= 4) return ELOOP;
    auto [interp, arg] = split_shebang(shebang);
    if (interp.empty()) return ENOEXEC;
    std::vector<ArgvItem> next = {{0, interp}};
    if (!arg.empty()) next.push_back({0, arg});
    next.push_back({0, script_name(*paths_, call, plan.path, plan.prog_host)});
    for (std::size_t i = 1; i < plan.items.size(); ++i) next.push_back(plan.items[i]);
    plan.items = std::move(next);
    plan.path = interp;
    plan.new_argv = true;
  }
}

// A dynamic program runs through the guest root's ELF interpreter: argv becomes { interp,
// [--argv0 argv[0],] program, argv[1], ... }. Returns the host path to run.
std::string ExecRewriter::through_interpreter(const ExecCall& call, Plan& plan) {
  std::vector<ArgvItem> next = {{0, plan.interp_host}};
  if (!plan.items.empty() && interp_has_argv0(plan.interp_host)) {
    next.push_back({0, "--argv0"});
    next.push_back(plan.items[0]);
  }
  // The program by its guest path: the interpreter opens it through the fs family like any
  // guest open, and so makes AT_EXECFN and /proc/self/cmdline show what the guest asked for.
  // A bare name ("prog", which the kernel finds in the cwd) would be searched for as a library by
  // ld.so: "./prog" is the same file.
  std::string name = script_name(*paths_, call, plan.path, plan.prog_host);
  if (name.find('/') == std::string::npos) name = "./" + name;
  next.push_back({0, name});
  for (std::size_t i = 1; i < plan.items.size(); ++i) next.push_back(plan.items[i]);
  plan.items = std::move(next);
  plan.new_argv = true;
  // Natively the process is named after the exec'd file (comm: ps, pidof, pgrep, killall),
  // so the interpreter runs through a link named like the program.
  return named_interp(plan.interp_host, call.path.substr(call.path.rfind('/') + 1));
}

void ExecRewriter::remember(pid_t pid, const std::string& program, const std::string& requested,
                            const std::string& host) {
  struct stat st;
  bool known = ::stat(host.c_str(), &st) == 0;
  std::lock_guard lock(mu_);
  programs_[pid] = program;
  requested_[pid] = requested;  // AT_EXECFN natively: the file name the guest passed
  if (known) files_[pid] = {st.st_dev, st.st_ino};
  else files_.erase(pid);
}

SyscallResult ExecRewriter::rewrite(SyscallContext& c, const ExecCall& call) {
  Plan plan{call.path, {}, {}, {}, false};
  // /proc/<pid>/exe of a dynamic program is its interpreter on the host: re-executing oneself
  // (lock helpers, sandboxes, Go- and Chromium-style launchers) must run the program.
  if (pid_t pid = exe_link_pid(call.path, c.pid()); pid > 0 && !call.execveat)
    if (std::string program = program_of(pid); !program.empty()) plan.path = program;
  if (int e = read_argv(c, call.argv, plan.items); e != 0) return fail(e);
  if (int e = follow_scripts(c.tid(), call, plan); e != 0) return fail(e);
  if (call.execveat) {  // execveat(dirfd, path, argv, envp, flags) -> execve(path, argv, envp)
    c.set_nr(sdk::sys::execve);
    c.set_arg(1, call.argv);
    c.set_arg(2, call.envp);
  }
  // Natively a file open for writing cannot be exec'd (ETXTBSY); the interpreter only maps it.
  if (open_for_writing(plan.prog_host)) return fail(ETXTBSY);
  remember(c.pid(), paths_->guest_path(plan.prog_host), call.path, plan.prog_host);
  std::string exec_path = plan.interp_host.empty() ? plan.prog_host : through_interpreter(call, plan);
  std::uint64_t top = c.scratch_top();
  std::uint64_t path_p = c.push(&top, exec_path);
  if (!path_p) return fail(EFAULT);
  // The kernel walks the host path again: a symlink a guest swapped into it since the resolution
  // (or a rewrite of the pushed path by another process) would run a file outside its world. At
  // the exec's stop, before the new image runs, it must be the file resolved; else it dies.
  // What lx runs never has an ELF interpreter of its own (a static program, or the interpreter
  // itself): one the kernel found anyway (program headers lx did not read as the kernel does)
  // would be a host file.
  c.check_return([runs = plan.runs](pid_t tid, long ret) {
    if (ret < 0) return true;  // nothing was run
    struct stat st;
    return ::stat(("/proc/" + std::to_string(tid) + "/exe").c_str(), &st) == 0 && st.st_dev == runs.dev &&
           st.st_ino == runs.ino && loaded_no_interpreter(tid);
  });
  c.set_arg(0, path_p);
  if (!plan.new_argv) return SyscallResult::rewritten();
  std::vector<std::uint64_t> arr;
  for (auto& it : plan.items) {
    if (!it.text.empty() || it.ptr == 0) {
      it.ptr = c.push(&top, it.text);
      if (!it.ptr) return fail(EFAULT);
    }
    arr.push_back(it.ptr);
  }
  arr.push_back(0);
  std::uint64_t at = (top - arr.size() * 8) & ~std::uint64_t{15};
  if (c.write_memory(at, arr.data(), arr.size() * 8) != 0) return fail(EFAULT);
  c.set_arg(1, at);
  return SyscallResult::rewritten();
}

}  // namespace lx::proc
