// FsPathResolver: host paths of guest paths, and what execve of a guest program runs.
#include "path_resolver.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace lx::fs {

namespace {

// elf_interp for one ELF class, as the kernel's load_elf_binary reads the program headers: all
// of them (their table at most a page), the first PT_INTERP, up to PATH_MAX bytes. Where the
// kernel would refuse the file, lx runs it as a static program and the kernel refuses it.
template <class Ehdr, class Phdr>
std::string interp_of(int fd) {
  Ehdr eh;
  if (pread(fd, &eh, sizeof eh, 0) != static_cast<ssize_t>(sizeof eh)) return {};
  if (eh.e_phentsize != sizeof(Phdr) || eh.e_phnum == 0 || eh.e_phnum * sizeof(Phdr) > 4096) return {};
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Phdr ph;
    if (pread(fd, &ph, sizeof ph, static_cast<off_t>(eh.e_phoff + i * sizeof ph)) != static_cast<ssize_t>(sizeof ph))
      return {};
    if (ph.p_type != PT_INTERP) continue;
    if (ph.p_filesz < 2 || ph.p_filesz > PATH_MAX) return {};
    std::string s(ph.p_filesz, '\0');
    if (pread(fd, s.data(), ph.p_filesz, static_cast<off_t>(ph.p_offset)) != static_cast<ssize_t>(ph.p_filesz)) return {};
    s.resize(std::strlen(s.c_str()));
    return s;
  }
  return {};
}

}  // namespace

std::string elf_interp(int fd) {
  unsigned char ident[EI_NIDENT];
  if (pread(fd, ident, sizeof ident, 0) != static_cast<ssize_t>(sizeof ident)) return {};
  if (std::memcmp(ident, ELFMAG, SELFMAG) != 0) return {};
  if (ident[EI_CLASS] == ELFCLASS64) return interp_of<Elf64_Ehdr, Elf64_Phdr>(fd);
  if (ident[EI_CLASS] == ELFCLASS32) return interp_of<Elf32_Ehdr, Elf32_Phdr>(fd);
  return {};
}

int FsPathResolver::host_path(pid_t tid, int dirfd, const std::string& path, bool follow, std::string& out) noexcept {
  try {
    Resolved r;
    if (int e = s_.root.resolve(tid, dirfd, path, follow ? Follow::kYes : Follow::kNo, r); e != 0) return e;
    std::string dir;
    Resolved self;
    self.parent = UniqueFd(fcntl(r.parent.get(), F_DUPFD_CLOEXEC, 0));
    if (int e = host_path_of(self, 0, dir); e != 0) return e;
    out = r.name.empty() ? dir : join_path(dir, r.name);
    return 0;
  } catch (...) {
    return ENOMEM;
  }
}

std::string FsPathResolver::guest_path(const std::string& host) noexcept {
  try {
    return s_.root.to_guest(host);
  } catch (...) {
    return {};
  }
}

int FsPathResolver::exec_paths(pid_t tid, int dirfd, const std::string& path, std::string& program,
                               std::string& interpreter, FileId& runs) noexcept {
  try {
    Resolved r;
    if (int e = s_.root.resolve(tid, dirfd, path, Follow::kYes, r); e != 0) return e;
    if (!r.exists) return ENOENT;
    UniqueFd fd;
    {
      ActingAs::AsLx lx;  // exec needs no read permission: lx reads the ELF header itself
      fd = open_entry(r, O_RDONLY);  // a /proc/self/fd/N link (fexecve) is opened through
    }
    if (!fd) return errno;
    // As the kernel's exec: a regular file the caller may execute (the caller is the guest
    // thread here: the proc family acts as it), else EACCES.
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return errno;
    if (!S_ISREG(st.st_mode)) return EACCES;
    if (faccessat(fd.get(), "", X_OK, AT_EACCESS | AT_EMPTY_PATH) != 0) return errno;
    std::string guest_interp = elf_interp(fd.get());
    char buf[PATH_MAX + 1];
    ssize_t n = readlink(("/proc/self/fd/" + std::to_string(fd.get())).c_str(), buf, PATH_MAX);
    if (n < 0) return EACCES;
    program.assign(buf, static_cast<std::size_t>(n));
    interpreter.clear();
    runs = {st.st_dev, st.st_ino};
    if (guest_interp.empty()) return 0;
    Resolved ri;
    if (int e = s_.root.resolve(tid, AT_FDCWD, guest_interp, Follow::kYes, ri); e != 0 || !ri.exists) return ENOENT;
    UniqueFd interp = open_entry(ri, O_PATH);
    struct stat ist;
    if (!interp || fstat(interp.get(), &ist) != 0) return ENOENT;
    runs = {ist.st_dev, ist.st_ino};
    return host_path_of_fd(interp.get(), interpreter);
  } catch (...) {
    return ENOMEM;
  }
}

}  // namespace lx::fs
