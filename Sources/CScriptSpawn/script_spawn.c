#define _GNU_SOURCE
#include "script_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

int lvsk_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

static void close_from(int first, int keep) {
  // close_range(2) where the kernel has it (5.9+); a loop over the descriptor limit otherwise.
  if (keep > first) {
    if (syscall(SYS_close_range, (unsigned)first, (unsigned)keep - 1, 0) != 0) {
      for (int fd = first; fd < keep; fd++) close(fd);
    }
  }
  int from = keep >= first ? keep + 1 : first;
  if (syscall(SYS_close_range, (unsigned)from, ~0U, 0) != 0) {
    long max = sysconf(_SC_OPEN_MAX);
    if (max <= 0 || max > 1048576) max = 1048576;
    for (int fd = from; fd < max; fd++) close(fd);
  }
}

/// Child side: never returns. Reports (step, errno) on `report` when a step fails.
static void become_script(const char *path, char *const argv[], char *const envp[],
                          const struct lvsk_spawn_identity *identity, int report, pid_t parent) {
  int failure[2];
  setpgid(0, 0);
  // Dispositions: a handler address is meaningless after exec anyway, but SIG_IGN survives it
  // (SIGPIPE ignored in the daemon would be ignored by every script), so reset them all.
  // The raw system call: glibc's wrapper refuses the signals it reserves (32, 33), and one of
  // those is ignored in a Swift process.
  struct {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)(void);
    unsigned long mask;
  } default_action = {SIG_DFL, 0, NULL, 0};
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    syscall(SYS_rt_sigaction, sig, &default_action, NULL, sizeof default_action.mask);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) _exit(127);  // the daemon died between fork and prctl
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    if (null > 2) close(null);
  }
  // Move the report pipe above stderr if it landed on 0..2, then close everything else.
  if (report <= 2) {
    int moved = fcntl(report, F_DUPFD_CLOEXEC, 3);
    report = moved;
  }
  close_from(3, report);
  if (identity != NULL && identity->set_identity) {
    if (setgroups((size_t)identity->group_count, identity->groups) != 0 ||
        setgid(identity->gid) != 0 || setuid(identity->uid) != 0) {
      failure[0] = LVSK_STEP_IDENTITY;
      failure[1] = errno;
      if (report >= 0) (void)!write(report, failure, sizeof failure);
      _exit(126);
    }
  }
  execve(path, argv, envp);
  failure[0] = LVSK_STEP_EXEC;
  failure[1] = errno;
  if (report >= 0) (void)!write(report, failure, sizeof failure);
  _exit(127);
}

pid_t lvsk_spawn_script(const char *path, char *const argv[], char *const envp[],
                        const struct lvsk_spawn_identity *identity, int *pidfd, int *error,
                        int *failed_step) {
  int pipefd[2];
  *pidfd = -1;
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    *error = errno;
    *failed_step = LVSK_STEP_FORK;
    return -1;
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    *error = errno;
    *failed_step = LVSK_STEP_FORK;
    close(pipefd[0]);
    close(pipefd[1]);
    return -1;
  }
  if (pid == 0) {
    close(pipefd[0]);
    become_script(path, argv, envp, identity, pipefd[1], parent);
  }
  close(pipefd[1]);
  // The write end closes at exec (success: EOF) or carries the failing step.
  int failure[2] = {0, 0};
  ssize_t got;
  do {
    got = read(pipefd[0], failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  close(pipefd[0]);
  if (got == (ssize_t)sizeof failure) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    *error = failure[1];
    *failed_step = failure[0];
    return -1;
  }
  int fd = lvsk_pidfd_open(pid);
  if (fd < 0) {
    *error = errno;
    *failed_step = LVSK_STEP_PIDFD;
    kill(-pid, SIGKILL);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return -1;
  }
  *pidfd = fd;
  return pid;
}
