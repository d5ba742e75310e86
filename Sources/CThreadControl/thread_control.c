#define _GNU_SOURCE
#include "thread_control.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

int lvsk_thread_id(void) { return (int)syscall(SYS_gettid); }

int lvsk_thread_set_affinity(const int *cpus, int count) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int i = 0; i < count; i++) {
    if (cpus[i] >= 0 && cpus[i] < CPU_SETSIZE) CPU_SET(cpus[i], &set);
  }
  return sched_setaffinity(0, sizeof set, &set);
}

int lvsk_cpu_set_size(void) { return CPU_SETSIZE; }

int lvsk_thread_set_round_robin(int priority) {
  struct sched_param param = {.sched_priority = priority};
  return sched_setscheduler(0, SCHED_RR | SCHED_RESET_ON_FORK, &param);
}

int lvsk_thread_set_nice(int nice) { return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice); }

int lvsk_set_rlimit_rttime(unsigned long microseconds) {
  struct rlimit limit = {.rlim_cur = microseconds, .rlim_max = microseconds};
  return setrlimit(RLIMIT_RTTIME, &limit);
}
