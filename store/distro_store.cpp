// DistroStore: install records, atomic renames, install/import/export/uninstall and the default.
#include "store/distro_store.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/unique_fd.h"
#include "store/file_ops.h"
#include "store/rootfs_reader.h"
#include "store/rootfs_writer.h"
#include "store/tar_archive.h"

namespace lx::store {
namespace {

constexpr const char* kInstalled = "installed";

Error name_error(const char* verb, const std::string& name) {
  return Error{EINVAL, fmt::format("{}: invalid distro name '{}': use 1 to 64 letters, digits, '.', '_' or '-', "
                                   "starting with a letter or digit",
                                   verb, name)};
}

Error prefixed(const std::string& prefix, const Error& e) { return Error{e.code, prefix + e.message}; }

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void sync_dir(const std::filesystem::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd) fsync(fd.get());
}

// Copies the regular file `name` of `dirfd` into `out`, counting bytes into `progress`.
Result<void> copy_data(int dirfd, const std::string& name, int out, Progress& p, ProgressReporter& reporter) {
  UniqueFd in(openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!in) return Error{errno, fmt::format("cannot open the source file: {}", std::strerror(errno))};
  std::vector<char> buf(1 << 17);
  std::uint64_t written = 0;
  for (;;) {
    ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{errno, fmt::format("cannot read the source file: {}", std::strerror(errno))};
    if (n == 0) break;
    LX_TRY(write_all(out, buf.data(), static_cast<std::size_t>(n), static_cast<off_t>(written)));
    written += static_cast<std::uint64_t>(n);
    p.done_bytes += static_cast<std::uint64_t>(n);
    reporter.update(p);
  }
  return ok();
}

// Copies the directory tree `src` through `writer`, file data included.
Result<void> copy_tree(const std::filesystem::path& src, RootfsWriter& writer, const ProgressFn& progress) {
  RootfsReader reader(src, {}, RootfsReader::Owners::kReal);
  LX_TRY_ASSIGN(total, reader.data_size());
  ProgressReporter reporter(progress);
  Progress p;
  p.total_bytes = total;
  LX_TRY(reader.walk([&](const FsEntry& e, int dirfd, const std::string& n) -> Result<void> {
    p.current = e.path;
    auto w = writer.add(e, [&](int fd) { return copy_data(dirfd, n, fd, p, reporter); });
    ++p.entries;
    reporter.update(p);
    return w;
  }));
  p.current.clear();
  reporter.update(p, true);
  return ok();
}

}  // namespace

DistroStore::DistroStore(std::filesystem::path dir) : dir_(std::move(dir)) {}

std::filesystem::path DistroStore::default_dir() {
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x == '/') return std::filesystem::path(x) / "lxhost";
  if (const char* h = std::getenv("HOME"); h && *h) return std::filesystem::path(h) / ".local/share/lxhost";
  if (struct passwd* pw = getpwuid(getuid()); pw && pw->pw_dir && *pw->pw_dir)
    return std::filesystem::path(pw->pw_dir) / ".local/share/lxhost";
  return std::filesystem::path("/tmp") / fmt::format("lxhost-{}", getuid());
}

bool DistroStore::valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

std::filesystem::path DistroStore::rootfs(const std::string& name) const { return distro_dir(name) / "rootfs"; }
std::filesystem::path DistroStore::config_file(const std::string& name) const { return distro_dir(name) / "lxhost.toml"; }
std::filesystem::path DistroStore::metadata_dir(const std::string& name) const { return distro_dir(name) / "metadata"; }

Result<void> DistroStore::recover() {
  std::error_code ec;
  std::filesystem::directory_iterator it(distros(), ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return ok();
    return Error{ec.value(), fmt::format("recover: cannot read {}: {}", distros().string(), ec.message())};
  }
  Result<void> result;
  for (const auto& ent : it) {
    std::string n = ent.path().filename().string();
    bool leftover = n.starts_with(".") && (n.ends_with(".partial") || n.ends_with(".removing"));
    if (leftover) {
      if (auto r = remove_tree(ent.path()); !r && result) result = prefixed("recover: ", r.error());
    } else if (!n.starts_with(".")) {
      // Temporary record files of an interrupted write.
      std::error_code ec2;
      for (const auto& f : std::filesystem::directory_iterator(ent.path(), ec2))
        if (f.path().filename().string().starts_with("state.json.tmp.")) std::filesystem::remove(f.path(), ec2);
    }
  }
  std::error_code ec3;
  for (const auto& f : std::filesystem::directory_iterator(dir_, ec3))
    if (f.path().filename().string().starts_with("default.tmp.")) std::filesystem::remove(f.path(), ec3);
  return result;
}

Result<DistroInfo> DistroStore::read_record(const std::string& name) const {
  std::filesystem::path record = distro_dir(name) / "state.json";
  auto text = read_file(record);
  if (!text) {
    if (text.error().code == ENOENT || text.error().code == ENOTDIR)
      return Error{ENOENT, fmt::format("distro '{}' is not installed", name)};
    return text.error();
  }
  DistroInfo info;
  try {
    auto j = nlohmann::json::parse(*text);
    info.name = j.at("name").get<std::string>();
    info.state = j.at("state").get<std::string>();
    info.source = j.value("source", "");
    info.installed_at = j.value("installed_at", "");
    info.size_bytes = j.value("size_bytes", std::uint64_t{0});
  } catch (const std::exception& e) {
    return Error{EIO, fmt::format("distro '{}': damaged install record {}: {}", name, record.string(), e.what())};
  }
  if (info.state != kInstalled || info.name != name) return Error{ENOENT, fmt::format("distro '{}' is not installed", name)};
  info.rootfs = rootfs(name);
  return info;
}

Result<DistroInfo> DistroStore::get(const std::string& name) const {
  if (!valid_name(name)) return name_error("get", name);
  auto info = read_record(name);
  if (!info) return info;
  auto def = default_name();
  info->is_default = def && *def == name;
  return info;
}

Result<std::vector<DistroInfo>> DistroStore::list() const {
  std::vector<DistroInfo> out;
  std::error_code ec;
  std::filesystem::directory_iterator it(distros(), ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return out;
    return Error{ec.value(), fmt::format("list: cannot read {}: {}", distros().string(), ec.message())};
  }
  auto def = default_name();
  for (const auto& ent : it) {
    std::string n = ent.path().filename().string();
    if (!valid_name(n)) continue;
    auto info = read_record(n);
    if (!info) continue;
    info->is_default = def && *def == n;
    out.push_back(std::move(*info));
  }
  std::sort(out.begin(), out.end(), [](const DistroInfo& a, const DistroInfo& b) { return a.name < b.name; });
  return out;
}

Result<DistroInfo> DistroStore::create(Operation op, const std::string& name, const std::filesystem::path& source,
                                       const ProgressFn& progress) {
  const char* verb = op == Operation::kInstall ? "install" : "import";
  if (!valid_name(name)) return name_error(verb, name);
  if (read_record(name)) return Error{EEXIST, fmt::format("{}: distro '{}' is already installed", verb, name)};
  std::filesystem::path src = std::filesystem::absolute(source);
  struct stat st;
  if (::stat(src.c_str(), &st) != 0) return Error{errno, fmt::format("{}: {}: {}", verb, src.string(), std::strerror(errno))};
  if (op == Operation::kImport && !S_ISDIR(st.st_mode))
    return Error{ENOTDIR, fmt::format("{}: {}: not a directory", verb, src.string())};
  LX_TRY_ASSIGN(partial, make_partial(verb, name));
  if (auto r = fill_and_commit(op, name, src, partial, progress); !r) {
    (void)remove_tree(partial);
    return r.error();
  }
  sync_dir(distros());
  if (auto def = default_name(); def && def->empty()) (void)set_default(name);
  return get(name);
}

Result<std::filesystem::path> DistroStore::make_partial(const char* verb, const std::string& name) {
  std::error_code ec;
  std::filesystem::create_directories(distros(), ec);
  if (ec) return Error{ec.value(), fmt::format("{}: cannot create {}: {}", verb, distros().string(), ec.message())};
  std::filesystem::path partial = distros() / ("." + name + ".partial");
  if (::mkdir(partial.c_str(), 0755) == 0) return partial;
  if (errno == EEXIST)
    return Error{EBUSY, fmt::format("{}: distro '{}' is being installed by another process, or an install was "
                                    "interrupted ({} exists; recover() removes it)",
                                    verb, name, partial.string())};
  return Error{errno, fmt::format("{}: cannot create {}: {}", verb, partial.string(), std::strerror(errno))};
}

Result<void> DistroStore::fill_and_commit(Operation op, const std::string& name, const std::filesystem::path& src,
                                          const std::filesystem::path& partial, const ProgressFn& progress) {
  const char* verb = op == Operation::kInstall ? "install" : "import";
  std::filesystem::path root = partial / "rootfs";
  if (::mkdir(root.c_str(), 0755) != 0)
    return Error{errno, fmt::format("{}: cannot create {}: {}", verb, root.string(), std::strerror(errno))};
  auto writer = RootfsWriter::open(root, partial / "metadata");
  if (!writer) return prefixed(fmt::format("{}: ", verb), writer.error());
  std::string where = fmt::format("{}: {}: ", verb, src.string());
  auto filled = op == Operation::kInstall ? TarArchive::extract(src, **writer, progress)
                                          : copy_tree(src, **writer, progress);
  if (!filled) return prefixed(where, filled.error());
  if (auto r = (*writer)->finish(); !r) return prefixed(where, r.error());

  nlohmann::json record = {{"name", name},
                           {"state", kInstalled},
                           {"source", src.string()},
                           {"installed_at", utc_now()},
                           {"size_bytes", (*writer)->data_bytes()}};
  if (auto r = write_file_atomic(partial / "state.json", record.dump(2) + "\n"); !r)
    return prefixed(fmt::format("{}: ", verb), r.error());
  sync_dir(partial);
  // The commit point: the complete directory, record included, appears under its name at once.
  if (auto r = rename_noreplace(partial, distro_dir(name)); !r) {
    if (r.error().code == EEXIST || r.error().code == ENOTEMPTY)
      return Error{EEXIST, fmt::format("{}: distro '{}' is already installed", verb, name)};
    return prefixed(fmt::format("{}: ", verb), r.error());
  }
  return ok();
}

Result<DistroInfo> DistroStore::install(const std::string& name, const std::filesystem::path& tarball,
                                        const ProgressFn& progress) {
  return create(Operation::kInstall, name, tarball, progress);
}

Result<DistroInfo> DistroStore::import_dir(const std::string& name, const std::filesystem::path& dir,
                                           const ProgressFn& progress) {
  return create(Operation::kImport, name, dir, progress);
}

Result<void> DistroStore::export_tar(const std::string& name, const std::filesystem::path& out,
                                     const ProgressFn& progress) {
  if (!valid_name(name)) return name_error("export", name);
  if (auto info = read_record(name); !info) return prefixed("export: ", info.error());
  auto compression = TarArchive::compression_for(out);
  if (!compression) return prefixed(fmt::format("export: {}: ", out.string()), compression.error());
  std::filesystem::path tmp = out;
  tmp += ".tmp";
  RootfsReader reader(rootfs(name), metadata_dir(name), RootfsReader::Owners::kHostUserIsRoot);
  reader.set_subordinate_ids(sub_uids_, sub_gids_);
  if (auto r = TarArchive::create(reader, tmp, *compression, progress); !r) {
    ::unlink(tmp.c_str());
    return prefixed(fmt::format("export: {}: ", out.string()), r.error());
  }
  UniqueFd fd(::open(tmp.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd || fsync(fd.get()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return Error{e, fmt::format("export: {}: cannot sync: {}", tmp.string(), std::strerror(e))};
  }
  if (::rename(tmp.c_str(), out.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return Error{e, fmt::format("export: cannot rename {} to {}: {}", tmp.string(), out.string(), std::strerror(e))};
  }
  return ok();
}

Result<void> DistroStore::uninstall(const std::string& name) {
  if (!valid_name(name)) return name_error("uninstall", name);
  if (auto info = read_record(name); !info) return prefixed("uninstall: ", info.error());
  std::filesystem::path removing = distros() / ("." + name + ".removing");
  if (auto r = remove_tree(removing); !r) return prefixed("uninstall: ", r.error());
  if (::rename(distro_dir(name).c_str(), removing.c_str()) != 0)
    return Error{errno, fmt::format("uninstall: cannot rename {} to {}: {}", distro_dir(name).string(),
                                    removing.string(), std::strerror(errno))};
  sync_dir(distros());
  auto raw = read_file(dir_ / "default");
  if (raw) {
    std::string def = *raw;
    while (!def.empty() && (def.back() == '\n' || def.back() == ' ')) def.pop_back();
    if (def == name && ::unlink((dir_ / "default").c_str()) != 0 && errno != ENOENT)
      return Error{errno, fmt::format("uninstall: cannot clear the default {}: {}", (dir_ / "default").string(),
                                      std::strerror(errno))};
  }
  if (auto r = remove_tree(removing); !r) return prefixed("uninstall: ", r.error());
  return ok();
}

Result<void> DistroStore::set_default(const std::string& name) {
  if (!valid_name(name)) return name_error("set default", name);
  if (auto info = read_record(name); !info) return prefixed("set default: ", info.error());
  if (auto r = write_file_atomic(dir_ / "default", name + "\n"); !r) return prefixed("set default: ", r.error());
  return ok();
}

Result<std::string> DistroStore::default_name() const {
  auto raw = read_file(dir_ / "default");
  if (!raw) {
    if (raw.error().code == ENOENT || raw.error().code == ENOTDIR) return std::string();
    return raw.error();
  }
  std::string name = *raw;
  while (!name.empty() && (name.back() == '\n' || name.back() == ' ' || name.back() == '\r')) name.pop_back();
  if (!valid_name(name) || !read_record(name)) return std::string();
  return name;
}

}  // namespace lx::store
