#ifndef LVSKEEPER_THREAD_CONTROL_H
#define LVSKEEPER_THREAD_CONTROL_H

// Thread scheduling calls that glibc only declares under _GNU_SOURCE, which Swift's Glibc module
// does not define. Each returns 0 on success or -1 with errno set.

/// The calling thread's kernel thread id.
int lvsk_thread_id(void);
/// Restricts the calling thread to the given CPUs.
int lvsk_thread_set_affinity(const int *cpus, int count);
/// The highest CPU number + 1 a cpu_set_t can hold.
int lvsk_cpu_set_size(void);
/// SCHED_RR at `priority` for the calling thread, reset to SCHED_OTHER in children it forks.
int lvsk_thread_set_round_robin(int priority);
/// The calling thread's nice value.
int lvsk_thread_set_nice(int nice);
/// RLIMIT_RTTIME, soft and hard, in microseconds.
int lvsk_set_rlimit_rttime(unsigned long microseconds);

#endif
