#ifndef LVSKEEPER_SCRIPT_SPAWN_H
#define LVSKEEPER_SCRIPT_SPAWN_H

#include <sys/types.h>

/// What the child becomes before exec. `set_identity` 0 keeps the daemon's uid, gid and groups.
struct lvsk_spawn_identity {
  int set_identity;
  uid_t uid;
  gid_t gid;
  const gid_t *groups;
  int group_count;
};

/// Forks and execs `path` with `argv` and `envp` (NULL-terminated) as one script run:
/// its own process group, every signal disposition back to default and none blocked, stdin,
/// stdout and stderr on /dev/null, no other descriptor inherited, SIGTERM when the forking thread
/// dies (PR_SET_PDEATHSIG), then the identity. Only async-signal-safe calls happen in the child.
/// Returns the pid (also the process group id) and stores a pidfd for it in `*pidfd`; on failure
/// returns -1 with `*error` set to the errno of the step that failed — fork, or in the child
/// setgroups/setgid/setuid/execve (reported through a close-on-exec pipe, so an exec failure is
/// known before this returns and the child is already reaped).
pid_t lvsk_spawn_script(const char *path, char *const argv[], char *const envp[],
                        const struct lvsk_spawn_identity *identity, int *pidfd, int *error,
                        int *failed_step);

/// pidfd_open(2); -1 with errno where the kernel lacks it.
int lvsk_pidfd_open(pid_t pid);

/// Steps `failed_step` can name.
enum { LVSK_STEP_FORK = 1, LVSK_STEP_IDENTITY = 2, LVSK_STEP_EXEC = 3, LVSK_STEP_PIDFD = 4 };

#endif
