// SDK: errno names ("ENOENT" <-> ENOENT) as constexpr data, the only table of them. Used by the
// config (on_disabled = "EPERM"), the dispatch summary (errno(ENOSYS)) and --trace.
#pragma once

#include <cerrno>
#include <optional>
#include <string_view>

namespace lx::sdk {

/// One errno and its name.
struct ErrnoName {
  std::string_view name;  ///< "ENOENT"
  int value;              ///< ENOENT
};

/// Every Linux errno by its <errno.h> name, in numeric order; the aliases (ENOTSUP, EWOULDBLOCK,
/// EDEADLOCK) come last, so that a value's first entry is the kernel's own name for it.
inline constexpr ErrnoName kErrnoNames[] = {
    {"EPERM", EPERM}, {"ENOENT", ENOENT}, {"ESRCH", ESRCH}, {"EINTR", EINTR}, {"EIO", EIO},
    {"ENXIO", ENXIO}, {"E2BIG", E2BIG}, {"ENOEXEC", ENOEXEC}, {"EBADF", EBADF}, {"ECHILD", ECHILD},
    {"EAGAIN", EAGAIN}, {"ENOMEM", ENOMEM}, {"EACCES", EACCES}, {"EFAULT", EFAULT},
    {"ENOTBLK", ENOTBLK}, {"EBUSY", EBUSY}, {"EEXIST", EEXIST}, {"EXDEV", EXDEV},
    {"ENODEV", ENODEV}, {"ENOTDIR", ENOTDIR}, {"EISDIR", EISDIR}, {"EINVAL", EINVAL},
    {"ENFILE", ENFILE}, {"EMFILE", EMFILE}, {"ENOTTY", ENOTTY}, {"ETXTBSY", ETXTBSY},
    {"EFBIG", EFBIG}, {"ENOSPC", ENOSPC}, {"ESPIPE", ESPIPE}, {"EROFS", EROFS}, {"EMLINK", EMLINK},
    {"EPIPE", EPIPE}, {"EDOM", EDOM}, {"ERANGE", ERANGE}, {"EDEADLK", EDEADLK},
    {"ENAMETOOLONG", ENAMETOOLONG}, {"ENOLCK", ENOLCK}, {"ENOSYS", ENOSYS},
    {"ENOTEMPTY", ENOTEMPTY}, {"ELOOP", ELOOP}, {"ENOMSG", ENOMSG}, {"EIDRM", EIDRM},
    {"ECHRNG", ECHRNG}, {"EL2NSYNC", EL2NSYNC}, {"EL3HLT", EL3HLT}, {"EL3RST", EL3RST},
    {"ELNRNG", ELNRNG}, {"EUNATCH", EUNATCH}, {"ENOCSI", ENOCSI}, {"EL2HLT", EL2HLT},
    {"EBADE", EBADE}, {"EBADR", EBADR}, {"EXFULL", EXFULL}, {"ENOANO", ENOANO},
    {"EBADRQC", EBADRQC}, {"EBADSLT", EBADSLT}, {"EBFONT", EBFONT}, {"ENOSTR", ENOSTR},
    {"ENODATA", ENODATA}, {"ETIME", ETIME}, {"ENOSR", ENOSR}, {"ENONET", ENONET},
    {"ENOPKG", ENOPKG}, {"EREMOTE", EREMOTE}, {"ENOLINK", ENOLINK}, {"EADV", EADV},
    {"ESRMNT", ESRMNT}, {"ECOMM", ECOMM}, {"EPROTO", EPROTO}, {"EMULTIHOP", EMULTIHOP},
    {"EDOTDOT", EDOTDOT}, {"EBADMSG", EBADMSG}, {"EOVERFLOW", EOVERFLOW}, {"ENOTUNIQ", ENOTUNIQ},
    {"EBADFD", EBADFD}, {"EREMCHG", EREMCHG}, {"ELIBACC", ELIBACC}, {"ELIBBAD", ELIBBAD},
    {"ELIBSCN", ELIBSCN}, {"ELIBMAX", ELIBMAX}, {"ELIBEXEC", ELIBEXEC}, {"EILSEQ", EILSEQ},
    {"ERESTART", ERESTART}, {"ESTRPIPE", ESTRPIPE}, {"EUSERS", EUSERS}, {"ENOTSOCK", ENOTSOCK},
    {"EDESTADDRREQ", EDESTADDRREQ}, {"EMSGSIZE", EMSGSIZE}, {"EPROTOTYPE", EPROTOTYPE},
    {"ENOPROTOOPT", ENOPROTOOPT}, {"EPROTONOSUPPORT", EPROTONOSUPPORT},
    {"ESOCKTNOSUPPORT", ESOCKTNOSUPPORT}, {"EOPNOTSUPP", EOPNOTSUPP},
    {"EPFNOSUPPORT", EPFNOSUPPORT}, {"EAFNOSUPPORT", EAFNOSUPPORT}, {"EADDRINUSE", EADDRINUSE},
    {"EADDRNOTAVAIL", EADDRNOTAVAIL}, {"ENETDOWN", ENETDOWN}, {"ENETUNREACH", ENETUNREACH},
    {"ENETRESET", ENETRESET}, {"ECONNABORTED", ECONNABORTED}, {"ECONNRESET", ECONNRESET},
    {"ENOBUFS", ENOBUFS}, {"EISCONN", EISCONN}, {"ENOTCONN", ENOTCONN}, {"ESHUTDOWN", ESHUTDOWN},
    {"ETOOMANYREFS", ETOOMANYREFS}, {"ETIMEDOUT", ETIMEDOUT}, {"ECONNREFUSED", ECONNREFUSED},
    {"EHOSTDOWN", EHOSTDOWN}, {"EHOSTUNREACH", EHOSTUNREACH}, {"EALREADY", EALREADY},
    {"EINPROGRESS", EINPROGRESS}, {"ESTALE", ESTALE}, {"EUCLEAN", EUCLEAN}, {"ENOTNAM", ENOTNAM},
    {"ENAVAIL", ENAVAIL}, {"EISNAM", EISNAM}, {"EREMOTEIO", EREMOTEIO}, {"EDQUOT", EDQUOT},
    {"ENOMEDIUM", ENOMEDIUM}, {"EMEDIUMTYPE", EMEDIUMTYPE}, {"ECANCELED", ECANCELED},
    {"ENOKEY", ENOKEY}, {"EKEYEXPIRED", EKEYEXPIRED}, {"EKEYREVOKED", EKEYREVOKED},
    {"EKEYREJECTED", EKEYREJECTED}, {"EOWNERDEAD", EOWNERDEAD},
    {"ENOTRECOVERABLE", ENOTRECOVERABLE}, {"ERFKILL", ERFKILL}, {"EHWPOISON", EHWPOISON},
    {"ENOTSUP", ENOTSUP}, {"EWOULDBLOCK", EWOULDBLOCK}, {"EDEADLOCK", EDEADLOCK},
};

/// The name of errno `e` ("ENOENT"; the kernel's name when two share a value: EAGAIN,
/// EOPNOTSUPP, EDEADLK), or nullopt when unknown.
constexpr std::optional<std::string_view> errno_name(int e) noexcept {
  for (const auto& n : kErrnoNames)
    if (n.value == e) return n.name;
  return std::nullopt;
}

/// The errno named `name` ("ENOSYS", "EPERM", an alias such as "EWOULDBLOCK"), if known.
constexpr std::optional<int> errno_from_name(std::string_view name) noexcept {
  for (const auto& n : kErrnoNames)
    if (n.name == name) return n.value;
  return std::nullopt;
}

}  // namespace lx::sdk
