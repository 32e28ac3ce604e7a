// ExecRewriter: #! chains, ELF interpreters with --argv0, argv rebuilt below the guest's stack.
#include "exec_rewriter.h"

#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace lx::proc {
namespace {

using sdk::SyscallContext;
using sdk::SyscallResult;

SyscallResult fail(int e) { return SyscallResult::error(e); }

// One argv entry of the rewritten call: a pointer already in guest memory, or a new string.
struct ArgvItem {
  std::uint64_t ptr = 0;
  std::string text;
};

// Writes `s` (NUL-terminated) below `*top` in guest memory; returns its address (0 on failure).
std::uint64_t push_string(SyscallContext& c, std::uint64_t* top, const std::string& s) {
  std::uint64_t addr = (*top - s.size() - 1) & ~std::uint64_t{15};
  if (c.write_memory(addr, s.c_str(), s.size() + 1) != 0) return 0;
  *top = addr;
  return addr;
}

// The "#!" line of host file `path` (without "#!"), or "".
std::string shebang_of(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char head[256];
  ssize_t k = pread(fd, head, sizeof head - 1, 0);
  close(fd);
  if (k <= 2 || head[0] != '#' || head[1] != '!') return {};
  std::string line(head + 2, static_cast<std::size_t>(k - 2));
  return line.substr(0, line.find('\n'));
}

}  // namespace

std::string ExecRewriter::program_of(pid_t pid) noexcept {
  std::lock_guard lock(mu_);
  auto it = programs_.find(pid);
  return it == programs_.end() ? std::string() : it->second;
}

void ExecRewriter::forget(pid_t pid) noexcept {
  std::lock_guard lock(mu_);
  programs_.erase(pid);
  requested_.erase(pid);
}

ExecRewriter::~ExecRewriter() {
  if (links_dir_.empty()) return;
  for (const auto& [key, link] : links_) unlink(link.c_str());
  for (const auto& [interp, i] : interp_index_) rmdir((links_dir_ + "/" + std::to_string(i)).c_str());
  rmdir(links_dir_.c_str());
}

std::string ExecRewriter::named_interp(const std::string& interp, const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.size() > 200) return interp;
  std::lock_guard lock(mu_);
  std::string key = interp + '\0' + name;
  if (auto it = links_.find(key); it != links_.end()) return it->second;
  if (links_dir_.empty()) {
    // Private (mkdtemp: 0700, a new name), so nobody else can plant a link in it.
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/lxhost-exec-XXXXXX";
    if (!mkdtemp(tmpl.data())) return interp;
    links_dir_ = tmpl;
  }
  auto [it, added] = interp_index_.try_emplace(interp, static_cast<int>(interp_index_.size()));
  std::string dir = links_dir_ + "/" + std::to_string(it->second);
  if (added && mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return interp;
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
      if (kv[0] == 31 /* AT_EXECFN */) addr = kv[1];
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

SyscallResult ExecRewriter::rewrite(SyscallContext& c, int dirfd, std::uint64_t path_addr, std::uint64_t argv_addr,
                                    bool execveat) {
  std::string path;
  if (int e = c.read_string(path_addr, path); e != 0) return fail(e);
  std::vector<ArgvItem> items;
  for (std::uint64_t a = argv_addr; a && items.size() < 65536; a += 8) {
    std::uint64_t p;
    if (int e = c.read(a, p); e != 0) return fail(e);
    if (!p) break;
    items.push_back({p, {}});
  }
  std::string prog_host, interp_host;
  bool rewritten_argv = false;
  for (int depth = 0;; ++depth) {
    if (int e = paths_.exec_paths(c.tid(), depth == 0 ? dirfd : AT_FDCWD, path, prog_host, interp_host); e != 0)
      return fail(e);
    std::string shebang = shebang_of(prog_host);
    if (shebang.empty()) break;
    if (depth >= 4) return fail(ELOOP);
    // "#!interp [arg]": argv becomes { interp, [arg,] script, argv[1], ... }, as the kernel does.
    std::size_t b = shebang.find_first_not_of(" \t");
    if (b == std::string::npos) return fail(ENOEXEC);
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
    std::vector<ArgvItem> next = {{0, interp}};
    if (!arg.empty()) next.push_back({0, arg});
    // (execveat's dirfd-relative paths become absolute: the interpreter resolves from the cwd.)
    bool relative_to_dirfd = execveat && dirfd != AT_FDCWD && !path.empty() && path[0] != '/';
    next.push_back({0, relative_to_dirfd ? paths_.guest_path(prog_host) : path});
    for (std::size_t i = 1; i < items.size(); ++i) next.push_back(items[i]);
    items = std::move(next);
    path = interp;
    rewritten_argv = true;
  }
  if (execveat) {  // execveat(dirfd, path, argv, envp, flags) → execve(path, argv, envp)
    c.set_nr(SYS_execve);
    c.set_arg(1, argv_addr);
    c.set_arg(2, c.arg(3));
  }
  {
    std::lock_guard lock(mu_);
    programs_[c.pid()] = paths_.guest_path(prog_host);
  }
  std::string requested;  // AT_EXECFN natively: the file name the guest passed
  if (c.read_string(path_addr, requested) == 0) {
    std::lock_guard lock(mu_);
    requested_[c.pid()] = requested;
  }
  std::uint64_t top = c.stack_pointer() - 128;  // below the red zone
  std::string exec_path = prog_host;
  if (!interp_host.empty()) {
    // A dynamic program runs through the guest root's ELF interpreter.
    std::vector<ArgvItem> next = {{0, interp_host}};
    if (!items.empty() && interp_has_argv0(interp_host)) {
      next.push_back({0, "--argv0"});
      next.push_back(items[0]);
    }
    // The program by its guest path: the interpreter opens it through the fs family like any
    // guest open, and so makes AT_EXECFN and /proc/self/cmdline show what the guest asked for.
    // (execveat's dirfd-relative paths become absolute: the interpreter resolves from the cwd.)
    bool relative_to_dirfd = execveat && dirfd != AT_FDCWD && !path.empty() && path[0] != '/';
    next.push_back({0, relative_to_dirfd ? paths_.guest_path(prog_host) : path});
    for (std::size_t i = 1; i < items.size(); ++i) next.push_back(items[i]);
    items = std::move(next);
    // Natively the process is named after the exec'd file (comm: ps, pidof, pgrep, killall),
    // so the interpreter runs through a link named like the program.
    exec_path = named_interp(interp_host, requested.substr(requested.rfind('/') + 1));
    rewritten_argv = true;
  }
  std::uint64_t path_p = push_string(c, &top, exec_path);
  if (!path_p) return fail(EFAULT);
  c.set_arg(0, path_p);
  if (!rewritten_argv) return SyscallResult::rewritten();
  std::vector<std::uint64_t> arr;
  for (auto& it : items) {
    if (!it.text.empty() || it.ptr == 0) {
      it.ptr = push_string(c, &top, it.text);
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
