#ifndef LVSKEEPER_CLINUXEVENTS_SHIM_H
#define LVSKEEPER_CLINUXEVENTS_SHIM_H
// epoll and eventfd for the TCP connect prober: Swift's Glibc module does not export them.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>

// Names the calling thread (at most 15 bytes show) so `top -H` and /proc tell the prober apart;
// prctl is variadic, which Swift cannot call.
static inline int lvsk_set_thread_name(const char *name) {
  return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}
#endif
