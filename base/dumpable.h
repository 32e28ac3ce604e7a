// Keeps a process of the service non-dumpable: a guest, which runs with the same uid, can neither
// ptrace it nor read its memory through /proc.
#pragma once

namespace lx {

/// Makes this process non-dumpable, except while some thread forks: a child forked to become a
/// guest must stay traceable by its parent until its execve resets the flag, so the process is
/// dumpable from the first fork's pthread_atfork prepare handler to the last concurrent fork's
/// parent handler (a count under a lock: one thread's fork ending must not make another's child
/// non-dumpable — PTRACE_SEIZE of that child would then fail for a user without CAP_SYS_PTRACE).
void make_non_dumpable_except_forks();

}  // namespace lx
