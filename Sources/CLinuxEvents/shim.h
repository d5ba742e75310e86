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

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <net/if.h>
#include <linux/if_tun.h>

// Creates (or attaches to) the tun device NAME, IFF_TUN | IFF_NO_PI, NOT persistent: the kernel
// deletes the device, its addresses and its routes when the last descriptor closes, so a process
// that dies (even SIGKILL) takes them with it. Returns the descriptor (close-on-exec) or -1 with
// errno set. ioctl is variadic, which Swift cannot call.
static inline int lvsk_tun_open(const char *name) {
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}
#endif
