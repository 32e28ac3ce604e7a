// Tests of DistroStore: install from every compression, the metadata the fs plugin reads,
// export round trips (as root and as an unprivileged user), path escapes, corrupt archives,
// recovery of interrupted installs, uninstall of read-only trees, names and the default.
#include "store/distro_store.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <signal.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "fsmeta/metadata.h"
#include "base/unique_fd.h"
#include "unprivileged.h"

namespace lx::store {
namespace {

namespace sfs = std::filesystem;

constexpr time_t kMtime = 1700000000;

// One archive entry as the tests write and read them.
struct TarEntry {
  std::string name;
  mode_t mode = 0;  // type | permissions
  std::int64_t uid = 0, gid = 0;
  dev_t rdev = 0;
  std::string symlink, hardlink, content;
  time_t mtime = kMtime;
};

TarEntry dir(std::string n, mode_t perm, std::int64_t uid = 0, std::int64_t gid = 0) {
  return {std::move(n), S_IFDIR | perm, uid, gid};
}
TarEntry file(std::string n, mode_t perm, std::string content, std::int64_t uid = 0, std::int64_t gid = 0) {
  TarEntry e{std::move(n), S_IFREG | perm, uid, gid};
  e.content = std::move(content);
  return e;
}
TarEntry symlink(std::string n, std::string target) {
  TarEntry e{std::move(n), S_IFLNK | 0777};
  e.symlink = std::move(target);
  return e;
}
TarEntry hardlink(std::string n, std::string target) {
  TarEntry e{std::move(n), S_IFREG | 0755};
  e.hardlink = std::move(target);
  return e;
}
TarEntry node(std::string n, mode_t mode, dev_t rdev = 0) {
  TarEntry e{std::move(n), mode};
  e.rdev = rdev;
  return e;
}

// A small distro: every file type, set-id bits, restrictive directories, a non-root owner.
std::vector<TarEntry> sample() {
  return {
      dir("bin", 0755),
      file("bin/sh", 0755, "#!/bin/sh-ish\n"),
      file("bin/su", 04755, "setuid binary"),
      file("bin/wall", 02755, "setgid binary", 0, 5),
      hardlink("bin/zsh-link", "bin/sh"),
      dir("dev", 0755),
      node("dev/null", S_IFCHR | 0666, makedev(1, 3)),
      node("dev/sda", S_IFBLK | 0660, makedev(8, 0)),
      dir("etc", 0755),
      file("etc/shadow", 0640, "root:*:19000::::::\n", 0, 42),
      symlink("etc/alt", "../bin/sh"),
      symlink("etc/abs", "/etc/shadow"),
      dir("home", 0755),
      dir("home/user", 0750, 1000, 1000),
      file("home/user/notes", 0600, std::string(200000, 'x'), 1000, 1000),
      dir("root", 0700),
      file("root/.profile", 0600, "PS1='# '\n"),
      dir("run", 0755),
      node("run/initctl", S_IFIFO | 0600),
      dir("srv", 0755),
      dir("srv/ro", 0555),
      file("srv/ro/readme", 0444, "read only"),
      dir("tmp", 01777),
      file("empty", 0644, ""),
  };
}

std::string filter_of(const sfs::path& p) {
  std::string s = p.string();
  for (const char* ext : {".gz", ".xz", ".zst"})
    if (s.size() > 4 && s.compare(s.size() - std::strlen(ext), std::strlen(ext), ext) == 0) return ext;
  return "";
}

void write_tar(const sfs::path& path, const std::vector<TarEntry>& entries) {
  struct archive* a = archive_write_new();
  std::string f = filter_of(path);
  if (f == ".gz") archive_write_add_filter_gzip(a);
  if (f == ".xz") archive_write_add_filter_xz(a);
  if (f == ".zst") archive_write_add_filter_zstd(a);
  archive_write_set_format_pax_restricted(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK) << archive_error_string(a);
  for (const TarEntry& t : entries) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, t.name.c_str());
    archive_entry_set_mode(e, t.mode);
    archive_entry_set_uid(e, t.uid);
    archive_entry_set_gid(e, t.gid);
    archive_entry_set_mtime(e, t.mtime, 0);
    if (S_ISCHR(t.mode) || S_ISBLK(t.mode)) archive_entry_set_rdev(e, t.rdev);
    if (!t.symlink.empty()) archive_entry_set_symlink(e, t.symlink.c_str());
    if (!t.hardlink.empty()) archive_entry_set_hardlink(e, t.hardlink.c_str());
    bool data = S_ISREG(t.mode) && t.hardlink.empty();
    archive_entry_set_size(e, data ? static_cast<la_int64_t>(t.content.size()) : 0);
    ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK) << archive_error_string(a);
    if (data && !t.content.empty()) archive_write_data(a, t.content.data(), t.content.size());
    archive_entry_free(e);
  }
  ASSERT_EQ(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
}

std::string normalize(std::string n) {
  while (n.rfind("./", 0) == 0) n.erase(0, 2);
  while (!n.empty() && n.front() == '/') n.erase(0, 1);
  while (!n.empty() && n.back() == '/') n.pop_back();
  return n;
}

// The entries of an archive by name (errors as a string in `error`).
std::map<std::string, TarEntry> read_tar(const sfs::path& path, std::string& error) {
  std::map<std::string, TarEntry> out;
  struct archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_all(a);
  if (archive_read_open_filename(a, path.c_str(), 1 << 16) != ARCHIVE_OK) {
    error = archive_error_string(a);
    archive_read_free(a);
    return out;
  }
  struct archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    TarEntry t;
    t.name = normalize(archive_entry_pathname(e));
    t.mode = archive_entry_mode(e);
    t.uid = archive_entry_uid(e);
    t.gid = archive_entry_gid(e);
    t.rdev = archive_entry_rdev(e);
    t.mtime = archive_entry_mtime(e);
    if (const char* s = archive_entry_symlink(e)) t.symlink = s;
    if (const char* h = archive_entry_hardlink(e)) t.hardlink = normalize(h);
    const void* buf;
    size_t size;
    la_int64_t off;
    while (archive_read_data_block(a, &buf, &size, &off) == ARCHIVE_OK) {
      if (t.content.size() < static_cast<size_t>(off) + size) t.content.resize(static_cast<size_t>(off) + size);
      std::memcpy(t.content.data() + off, buf, size);
    }
    out[t.name] = t;
  }
  archive_read_free(a);
  return out;
}

// Differences between two archives' entries ("" when equivalent). A hard link's attributes are
// its target's, and hard-link groups must be the same (whichever name comes first).
std::string compare(const std::map<std::string, TarEntry>& want, const std::map<std::string, TarEntry>& got) {
  std::ostringstream diff;
  auto resolve = [](const std::map<std::string, TarEntry>& m, const TarEntry& t) -> const TarEntry& {
    if (t.hardlink.empty()) return t;
    auto it = m.find(t.hardlink);
    return it == m.end() ? t : it->second;
  };
  auto groups = [](const std::map<std::string, TarEntry>& m) {
    std::map<std::string, std::set<std::string>> g;
    for (const auto& [n, t] : m)
      if (!t.hardlink.empty()) {
        g[t.hardlink].insert(t.hardlink);
        g[t.hardlink].insert(n);
      }
    std::set<std::set<std::string>> out;
    for (auto& [k, s] : g) out.insert(s);
    return out;
  };
  for (const auto& [name, w0] : want) {
    auto it = got.find(name);
    if (it == got.end()) {
      diff << "missing " << name << "; ";
      continue;
    }
    const TarEntry& w = resolve(want, w0);
    const TarEntry& g = resolve(got, it->second);
    if ((w.mode & S_IFMT) != (g.mode & S_IFMT)) diff << name << ": type " << std::oct << w.mode << " vs " << g.mode << std::dec << "; ";
    if (!S_ISLNK(w.mode) && (w.mode & 07777) != (g.mode & 07777))
      diff << name << ": mode " << std::oct << (w.mode & 07777) << " vs " << (g.mode & 07777) << std::dec << "; ";
    if (w.uid != g.uid || w.gid != g.gid) diff << name << ": owner " << w.uid << ":" << w.gid << " vs " << g.uid << ":" << g.gid << "; ";
    if ((S_ISCHR(w.mode) || S_ISBLK(w.mode)) && w.rdev != g.rdev) diff << name << ": rdev " << w.rdev << " vs " << g.rdev << "; ";
    if (w.symlink != g.symlink) diff << name << ": symlink " << w.symlink << " vs " << g.symlink << "; ";
    if (w.content != g.content) diff << name << ": content differs (" << w.content.size() << " vs " << g.content.size() << " bytes); ";
    if (w.mtime != g.mtime) diff << name << ": mtime " << w.mtime << " vs " << g.mtime << "; ";
  }
  for (const auto& [name, g] : got)
    if (!want.count(name)) diff << "extra " << name << "; ";
  if (groups(want) != groups(got)) diff << "hard-link groups differ; ";
  return diff.str();
}

std::map<std::string, TarEntry> by_name(const std::vector<TarEntry>& v) {
  std::map<std::string, TarEntry> m;
  for (const TarEntry& t : v) m[normalize(t.name)] = t;
  return m;
}

// What the fs plugin's stat shows for `path`: the real lstat overlaid with the metadata.
struct stat guest_stat(const DistroStore& store, const std::string& distro, const std::string& rel) {
  struct stat st {};
  sfs::path p = store.rootfs(distro) / rel;
  if (lstat(p.c_str(), &st) != 0) {
    ADD_FAILURE() << "lstat " << p << ": " << std::strerror(errno);
    return st;
  }
  if (S_ISLNK(st.st_mode)) return st;
  fsmeta::MetadataStore meta;
  meta.configure(fsmeta::MetadataStore::Mode::kAuto, store.metadata_dir(distro).string());
  UniqueFd fd(::open(p.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  fsmeta::Metadata m;
  if (fd && meta.read(fd.get(), m) == 0) fsmeta::apply_metadata(m, st);
  return st;
}

// A fresh directory for one test, under the build tree (a real filesystem with user xattrs).
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sfs::create_directories(TEST_TMP_DIR);
    std::string tmpl = std::string(TEST_TMP_DIR) + "/storeXXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    DistroStore s(dir_);
    // Let the removal through restrictive directories a test may leave.
    std::string cmd = fmt::format("chmod -R u+rwx '{}' 2>/dev/null; rm -rf '{}'", dir_.string(), dir_.string());
    (void)std::system(cmd.c_str());
  }
  sfs::path dir_;
};

// Checks what the guest sees in an installed sample distro; returns the problems found.
std::string check_sample_view(const DistroStore& store, const std::string& name) {
  std::ostringstream bad;
  auto expect = [&](const std::string& rel, mode_t mode, uid_t uid, gid_t gid, dev_t rdev = 0) {
    struct stat st = guest_stat(store, name, rel);
    if (st.st_mode != mode) bad << rel << ": mode 0" << std::oct << st.st_mode << " want 0" << mode << std::dec << "; ";
    if (st.st_uid != uid || st.st_gid != gid)
      bad << rel << ": owner " << st.st_uid << ":" << st.st_gid << " want " << uid << ":" << gid << "; ";
    if (rdev && st.st_rdev != rdev) bad << rel << ": rdev " << st.st_rdev << " want " << rdev << "; ";
  };
  expect("bin/su", S_IFREG | 04755, 0, 0);
  expect("bin/wall", S_IFREG | 02755, 0, 5);
  expect("bin/sh", S_IFREG | 0755, 0, 0);
  expect("dev/null", S_IFCHR | 0666, 0, 0, makedev(1, 3));
  expect("dev/sda", S_IFBLK | 0660, 0, 0, makedev(8, 0));
  expect("etc/shadow", S_IFREG | 0640, 0, 42);
  expect("root", S_IFDIR | 0700, 0, 0);
  expect("srv/ro", S_IFDIR | 0555, 0, 0);
  expect("srv/ro/readme", S_IFREG | 0444, 0, 0);
  expect("home/user", S_IFDIR | 0750, 1000, 1000);
  expect("home/user/notes", S_IFREG | 0600, 1000, 1000);
  expect("tmp", S_IFDIR | 01777, 0, 0);
  struct stat fifo;
  if (lstat((store.rootfs(name) / "run/initctl").c_str(), &fifo) != 0 || !S_ISFIFO(fifo.st_mode)) bad << "run/initctl is not a FIFO; ";
  struct stat a, b;
  if (lstat((store.rootfs(name) / "bin/sh").c_str(), &a) != 0 || lstat((store.rootfs(name) / "bin/zsh-link").c_str(), &b) != 0 ||
      a.st_ino != b.st_ino)
    bad << "bin/zsh-link is not a hard link of bin/sh; ";
  std::error_code ec;
  if (sfs::read_symlink(store.rootfs(name) / "etc/alt", ec) != "../bin/sh") bad << "etc/alt has the wrong target; ";
  return bad.str();
}

TEST_F(StoreTest, InstallsEveryCompressionAndExportRoundTrips) {
  for (std::string ext : {".tar", ".tar.gz", ".tar.xz", ".tar.zst"}) {
    SCOPED_TRACE(ext);
    sfs::path tarball = dir_ / ("sample" + ext);
    write_tar(tarball, sample());
    DistroStore store(dir_ / ("store" + ext));
    std::vector<Progress> reports;
    auto info = store.install("debian", tarball, [&](const Progress& p) { reports.push_back(p); });
    ASSERT_TRUE(info.ok()) << info.error().message;
    EXPECT_EQ(info->name, "debian");
    EXPECT_EQ(info->state, "installed");
    EXPECT_EQ(info->source, sfs::absolute(tarball).string());
    EXPECT_TRUE(info->is_default);
    EXPECT_EQ(info->rootfs, store.rootfs("debian"));
    EXPECT_GE(info->size_bytes, 200000u);
    EXPECT_FALSE(info->installed_at.empty());
    ASSERT_FALSE(reports.empty());
    EXPECT_EQ(reports.back().done_bytes, reports.back().total_bytes);
    EXPECT_EQ(reports.back().total_bytes, sfs::file_size(tarball));
    EXPECT_EQ(reports.back().entries, sample().size());

    auto list = store.list();
    ASSERT_TRUE(list.ok());
    ASSERT_EQ(list->size(), 1u);
    EXPECT_EQ((*list)[0].name, "debian");
    EXPECT_TRUE((*list)[0].is_default);
    EXPECT_EQ(*store.default_name(), "debian");
    EXPECT_EQ(check_sample_view(store, "debian"), "");

    sfs::path out = dir_ / ("export" + ext);
    std::vector<Progress> export_reports;
    auto ex = store.export_tar("debian", out, [&](const Progress& p) { export_reports.push_back(p); });
    ASSERT_TRUE(ex.ok()) << ex.error().message;
    EXPECT_FALSE(sfs::exists(out.string() + ".tmp"));
    ASSERT_FALSE(export_reports.empty());
    EXPECT_EQ(export_reports.back().done_bytes, export_reports.back().total_bytes);
    std::string err;
    auto exported = read_tar(out, err);
    ASSERT_EQ(err, "");
    EXPECT_EQ(compare(by_name(sample()), exported), "");

    // The exported archive installs to the same thing again.
    auto again = store.install("again", out);
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_FALSE(again->is_default);
    EXPECT_EQ(check_sample_view(store, "again"), "");
  }
}

// Install, check the metadata, export, import and uninstall as the unprivileged user (the caller).
std::string unprivileged_round_trip(const sfs::path& dir, const sfs::path& tarball) {
  std::ostringstream bad;
  DistroStore store(dir / "store");
  auto info = store.install("debian", tarball);
  if (!info) return "install: " + info.error().message;
  bad << check_sample_view(store, "debian");
  struct stat st;
  if (lstat((store.rootfs("debian") / "bin/su").c_str(), &st) != 0 || st.st_uid != getuid()) bad << "bin/su is not really the installing user's; ";
  if (st.st_mode & 06000) bad << "bin/su has real set-id bits; ";
  fsmeta::Metadata m;
  UniqueFd fd(::open((store.rootfs("debian") / "bin/su").c_str(), O_PATH | O_CLOEXEC));
  fsmeta::MetadataStore meta;
  meta.configure(fsmeta::MetadataStore::Mode::kAuto, store.metadata_dir("debian").string());
  if (meta.read(fd.get(), m) != 0 || !m.uid || *m.uid != 0 || !m.mode || *m.mode != (S_IFREG | 04755))
    bad << "bin/su metadata is '" << m.encode() << "'; ";

  sfs::path out = dir / "export.tar.gz";
  if (auto r = store.export_tar("debian", out); !r) return bad.str() + "export: " + r.error().message;
  std::string err;
  auto exported = read_tar(out, err);
  if (!err.empty()) return bad.str() + "read export: " + err;
  std::string d = compare(by_name(sample()), exported);
  if (!d.empty()) bad << "export differs: " << d;

  auto copy = store.import_dir("copy", store.rootfs("debian"));
  if (!copy) return bad.str() + "import: " + copy.error().message;
  if (auto r = store.export_tar("copy", dir / "copy.tar"); !r) return bad.str() + "export copy: " + r.error().message;
  d = compare(by_name(sample()), read_tar(dir / "copy.tar", err));
  if (!d.empty()) bad << "import+export differs: " << d;

  for (const char* n : {"debian", "copy"})
    if (auto r = store.uninstall(n); !r) bad << "uninstall: " << r.error().message << "; ";
  if (sfs::exists(store.dir() / "distros/debian") || sfs::exists(store.dir() / "distros/.debian.removing"))
    bad << "uninstall left files; ";
  return bad.str();
}

// Whether every ancestor of `p` lets others through.
bool traversable(const sfs::path& p) {
  for (sfs::path q = p; !q.empty() && q != q.root_path(); q = q.parent_path()) {
    struct stat st;
    if (stat(q.c_str(), &st) != 0 || !(st.st_mode & S_IXOTH)) return false;
  }
  return true;
}

TEST_F(StoreTest, UnprivilegedInstallKeepsOwnersInMetadataAndExportsThem) {
  if (geteuid() != 0) {  // already unprivileged: run it here
    write_tar(dir_ / "sample.tar.xz", sample());
    EXPECT_EQ(unprivileged_round_trip(dir_, dir_ / "sample.tar.xz"), "");
    return;
  }
  if (test::unprivileged_uid() == 0) GTEST_SKIP() << "root without setpriv: no unprivileged user to switch to";
  // The build tree may be out of the unprivileged user's reach (a clone in /root, mode 0700).
  std::optional<test::TempDir> elsewhere;
  sfs::path base = dir_;
  if (!traversable(base)) {
    elsewhere.emplace("lxhost-store-test", 0755);
    base = elsewhere->path();
  }
  sfs::path work = base / "unprivileged";
  sfs::create_directories(work);
  ASSERT_EQ(chown(work.c_str(), test::unprivileged_uid(), test::unprivileged_gid()), 0);
  chmod(base.c_str(), 0755);
  write_tar(work / "sample.tar.xz", sample());

  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    std::string result;
    if (setgroups(0, nullptr) != 0 || setgid(test::unprivileged_gid()) != 0 || setuid(test::unprivileged_uid()) != 0)
      result = "cannot switch to the unprivileged user";
    else result = unprivileged_round_trip(work, work / "sample.tar.xz");
    (void)!write(fds[1], result.data(), result.size());
    _exit(result.empty() ? 0 : 1);
  }
  close(fds[1]);
  std::string result;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) result.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_EQ(result, "");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

TEST_F(StoreTest, NothingEscapesTheRootfs) {
  DistroStore store(dir_ / "store");
  std::string marker = fmt::format("lxhost-store-test-evil-{}", getpid());
  auto nothing_outside = [&] {
    EXPECT_FALSE(sfs::exists(dir_ / marker));
    EXPECT_FALSE(sfs::exists(dir_ / "store" / marker));
    EXPECT_FALSE(sfs::exists(dir_ / "store/distros" / marker));
    EXPECT_FALSE(sfs::exists(sfs::path("/") / marker));
    EXPECT_FALSE(sfs::exists(sfs::path("/tmp") / marker));
    auto list = store.list();
    ASSERT_TRUE(list.ok());
    EXPECT_TRUE(list->empty());
    EXPECT_FALSE(sfs::exists(dir_ / "store/distros/.evil.partial"));
  };
  struct Case {
    std::string what;
    std::vector<TarEntry> entries;
    std::string message;
  };
  std::vector<Case> cases = {
      {"dotdot", {file("../../" + marker, 0644, "x")}, "'..'"},
      {"deep dotdot", {dir("a", 0755), file("a/../../../../" + marker, 0644, "x")}, "'..'"},
      {"symlink to /", {symlink("x", "/"), file("x/" + marker, 0644, "x")}, "symbolic link 'x'"},
      {"symlink to /tmp", {symlink("t", "/tmp"), file("t/" + marker, 0644, "x")}, "symbolic link 't'"},
      {"symlink up", {symlink("up", "../../.."), file("up/" + marker, 0644, "x")}, "symbolic link 'up'"},
      {"symlink dir then dir", {symlink("d", "/"), dir("d/tmp", 0755), file("d/tmp/" + marker, 0644, "x")}, "symbolic link 'd'"},
      {"hardlink out", {hardlink("h", "../../" + marker)}, "'..'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    sfs::path t = dir_ / "evil.tar";
    write_tar(t, c.entries);
    auto r = store.install("evil", t);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("install: " + t.string() + ": "), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find(c.message), std::string::npos) << r.error().message;
    nothing_outside();
  }
  // An absolute name is taken as relative to the rootfs, as tar does.
  sfs::path t = dir_ / "abs.tar";
  write_tar(t, {file("/" + marker + "/evil", 0644, "inside")});
  auto r = store.install("abs", t);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(sfs::exists(store.rootfs("abs") / marker / "evil"));
  EXPECT_FALSE(sfs::exists(sfs::path("/") / marker));
  // A symlink escaping the rootfs is stored as it is but never followed.
  write_tar(t, {symlink("escape", "/etc/passwd"), file("later", 0644, "x")});
  r = store.install("links", t);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(sfs::read_symlink(store.rootfs("links") / "escape"), "/etc/passwd");
}

TEST_F(StoreTest, CorruptArchiveFailsClearlyAndLeavesNothing) {
  DistroStore store(dir_ / "store");
  sfs::path good = dir_ / "good.tar.gz";
  write_tar(good, sample());
  std::string bytes;
  {
    std::ifstream in(good, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  struct Case {
    std::string name, content, message;
  };
  std::vector<Case> cases = {
      {"garbage.tar.gz", std::string(4096, '\x5a'), "Unrecognized archive format"},
      {"truncated.tar.gz", bytes.substr(0, bytes.size() / 2), ""},
      {"empty.tar", "", "no entries"},
      {"text.tar", "garbage\n", "Unrecognized archive format"},  // not read as an mtree listing
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    sfs::path p = dir_ / c.name;
    std::ofstream(p, std::ios::binary) << c.content;
    auto r = store.install("broken", p);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message.rfind("install: " + p.string() + ": ", 0), 0u) << r.error().message;
    EXPECT_NE(r.error().message.find(c.message), std::string::npos) << r.error().message;
    EXPECT_FALSE(store.get("broken").ok());
    EXPECT_TRUE(store.list()->empty());
    EXPECT_FALSE(sfs::exists(store.dir() / "distros/.broken.partial"));
    EXPECT_FALSE(sfs::exists(store.dir() / "distros/broken"));
    EXPECT_EQ(*store.default_name(), "");
  }
  auto missing = store.install("broken", dir_ / "nope.tar");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ENOENT);
  EXPECT_NE(missing.error().message.find("nope.tar: No such file or directory"), std::string::npos) << missing.error().message;
}

TEST_F(StoreTest, RecoverRemovesInterruptedInstallsAndUninstalls) {
  DistroStore store(dir_ / "store");
  write_tar(dir_ / "s.tar", sample());
  ASSERT_TRUE(store.install("kept", dir_ / "s.tar").ok());
  // As SIGKILL would leave them: a half-extracted install with a read-only directory, a half-removed distro.
  sfs::path partial = store.dir() / "distros/.half.partial";
  sfs::create_directories(partial / "rootfs/usr/ro");
  std::ofstream(partial / "rootfs/usr/ro/file") << "x";
  chmod((partial / "rootfs/usr/ro").c_str(), 0500);
  sfs::create_directories(store.dir() / "distros/.gone.removing/rootfs");
  auto list = store.list();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_FALSE(store.get("half").ok());
  // An install of the same name refuses to use the leftover before recovery.
  auto busy = store.install("half", dir_ / "s.tar");
  ASSERT_FALSE(busy.ok());
  EXPECT_NE(busy.error().message.find(".half.partial exists"), std::string::npos) << busy.error().message;

  ASSERT_TRUE(store.recover().ok());
  EXPECT_FALSE(sfs::exists(partial));
  EXPECT_FALSE(sfs::exists(store.dir() / "distros/.gone.removing"));
  list = store.list();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "kept");
  EXPECT_TRUE(store.install("half", dir_ / "s.tar").ok());
  // A store that was never used recovers to nothing.
  EXPECT_TRUE(DistroStore(dir_ / "unused").recover().ok());
}

TEST_F(StoreTest, InstallKilledMidwayNeverShowsAsInstalled) {
  std::vector<TarEntry> big = {dir("usr", 0755)};
  for (int i = 0; i < 2000; ++i) big.push_back(file(fmt::format("usr/f{}", i), 0644, std::string(1000, 'a' + i % 26)));
  write_tar(dir_ / "big.tar.gz", big);
  DistroStore store(dir_ / "store");
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // SIGKILL at the first progress report: some entries are extracted, the install is not finished.
    (void)store.install("big", dir_ / "big.tar.gz", [](const Progress& p) {
      if (p.entries > 0) kill(getpid(), SIGKILL);
    });
    _exit(3);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
  EXPECT_TRUE(sfs::exists(store.dir() / "distros/.big.partial/rootfs/usr"));
  EXPECT_FALSE(store.get("big").ok());
  EXPECT_TRUE(store.list()->empty());
  EXPECT_EQ(*store.default_name(), "");
  ASSERT_TRUE(store.recover().ok());
  EXPECT_FALSE(sfs::exists(store.dir() / "distros/.big.partial"));
  auto info = store.install("big", dir_ / "big.tar.gz");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->size_bytes, 2000u * 1000u);
}

TEST_F(StoreTest, UninstallRemovesRestrictiveTreesAndClearsTheDefault) {
  DistroStore store(dir_ / "store");
  write_tar(dir_ / "s.tar", sample());
  ASSERT_TRUE(store.install("a", dir_ / "s.tar").ok());
  ASSERT_TRUE(store.install("b", dir_ / "s.tar").ok());
  EXPECT_EQ(*store.default_name(), "a");
  sfs::path ro = store.rootfs("a") / "locked";
  sfs::create_directories(ro / "inner");
  std::ofstream(ro / "inner/f") << "x";
  chmod((ro / "inner").c_str(), 0500);
  chmod(ro.c_str(), 0000);
  ASSERT_TRUE(store.uninstall("a").ok());
  EXPECT_FALSE(sfs::exists(store.dir() / "distros/a"));
  EXPECT_FALSE(sfs::exists(store.dir() / "distros/.a.removing"));
  EXPECT_EQ(*store.default_name(), "");
  EXPECT_FALSE(store.get("a").ok());
  auto again = store.uninstall("a");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ENOENT);
  EXPECT_EQ(again.error().message, "uninstall: distro 'a' is not installed");
  // b stays, and is not made default behind the user's back.
  ASSERT_EQ(store.list()->size(), 1u);
  EXPECT_FALSE(store.get("b")->is_default);
}

TEST_F(StoreTest, DefaultsAndDuplicates) {
  DistroStore store(dir_ / "store");
  EXPECT_EQ(*store.default_name(), "");
  auto none = store.get("nope");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ENOENT);
  EXPECT_EQ(none.error().message, "distro 'nope' is not installed");
  write_tar(dir_ / "s.tar.gz", sample());
  ASSERT_TRUE(store.install("one", dir_ / "s.tar.gz").ok());
  ASSERT_TRUE(store.install("two", dir_ / "s.tar.gz").ok());
  auto dup = store.install("one", dir_ / "s.tar.gz");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, EEXIST);
  EXPECT_EQ(dup.error().message, "install: distro 'one' is already installed");
  EXPECT_EQ(*store.default_name(), "one");
  ASSERT_TRUE(store.set_default("two").ok());
  EXPECT_EQ(*store.default_name(), "two");
  EXPECT_TRUE(store.get("two")->is_default);
  EXPECT_FALSE(store.get("one")->is_default);
  auto bad = store.set_default("three");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ENOENT);
  EXPECT_EQ(store.config_file("two"), store.dir() / "distros/two/lxhost.toml");
  EXPECT_EQ(store.rootfs("two"), store.dir() / "distros/two/rootfs");
  auto list = store.list();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "one");
  EXPECT_EQ((*list)[1].name, "two");
  // The record is JSON that says installed.
  std::ifstream rec(store.dir() / "distros/one/state.json");
  std::string text((std::istreambuf_iterator<char>(rec)), {});
  EXPECT_NE(text.find("\"state\": \"installed\""), std::string::npos) << text;
}

TEST_F(StoreTest, BadNamesAreRefused) {
  DistroStore store(dir_ / "store");
  write_tar(dir_ / "s.tar", sample());
  for (std::string name : {std::string(), std::string(".hidden"), std::string("../x"), std::string("a/b"),
                           std::string("with space"), std::string(65, 'a'), std::string("-dash"), std::string("x.partial/..")}) {
    SCOPED_TRACE(name);
    auto r = store.install(name, dir_ / "s.tar");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, EINVAL);
    EXPECT_NE(r.error().message.find("invalid distro name '" + name + "'"), std::string::npos) << r.error().message;
    EXPECT_FALSE(store.get(name).ok());
    EXPECT_FALSE(store.uninstall(name).ok());
    EXPECT_FALSE(store.set_default(name).ok());
  }
  EXPECT_TRUE(DistroStore::valid_name(std::string(64, 'a')));
  EXPECT_TRUE(DistroStore::valid_name("Ubuntu-24.04_lts"));
  EXPECT_TRUE(store.list()->empty());
}

TEST_F(StoreTest, ImportCopiesATreeWithItsMetadata) {
  DistroStore store(dir_ / "store");
  write_tar(dir_ / "s.tar.zst", sample());
  ASSERT_TRUE(store.install("src", dir_ / "s.tar.zst").ok());
  std::vector<Progress> reports;
  auto copy = store.import_dir("copy", store.rootfs("src"), [&](const Progress& p) { reports.push_back(p); });
  ASSERT_TRUE(copy.ok()) << copy.error().message;
  EXPECT_EQ(check_sample_view(store, "copy"), "");
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().done_bytes, reports.back().total_bytes);
  ASSERT_TRUE(store.export_tar("copy", dir_ / "copy.tar").ok());
  std::string err;
  EXPECT_EQ(compare(by_name(sample()), read_tar(dir_ / "copy.tar", err)), "");
  auto notdir = store.import_dir("x", dir_ / "s.tar.zst");
  ASSERT_FALSE(notdir.ok());
  EXPECT_NE(notdir.error().message.find("not a directory"), std::string::npos);
}

TEST_F(StoreTest, ExportRefusesUnknownTypesAndMissingDistros) {
  DistroStore store(dir_ / "store");
  write_tar(dir_ / "s.tar", sample());
  ASSERT_TRUE(store.install("d", dir_ / "s.tar").ok());
  auto r = store.export_tar("d", dir_ / "out.zip");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, EINVAL);
  EXPECT_NE(r.error().message.find("out.zip: unknown archive type"), std::string::npos) << r.error().message;
  EXPECT_FALSE(sfs::exists(dir_ / "out.zip"));
  r = store.export_tar("nope", dir_ / "out.tar");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ENOENT);
  r = store.export_tar("d", dir_ / "no/such/dir/out.tar");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("export: "), std::string::npos);
}

TEST(DistroStoreDefaultDir, FollowsXdgDataHome) {
  const char* old_xdg = getenv("XDG_DATA_HOME");
  const char* old_home = getenv("HOME");
  std::string saved_xdg = old_xdg ? old_xdg : "", saved_home = old_home ? old_home : "";
  setenv("XDG_DATA_HOME", "/x/data", 1);
  EXPECT_EQ(DistroStore::default_dir(), sfs::path("/x/data/lxhost"));
  unsetenv("XDG_DATA_HOME");
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(DistroStore::default_dir(), sfs::path("/home/u/.local/share/lxhost"));
  if (old_xdg) setenv("XDG_DATA_HOME", saved_xdg.c_str(), 1);
  if (old_home) setenv("HOME", saved_home.c_str(), 1);
  else unsetenv("HOME");
}

}  // namespace
}  // namespace lx::store
