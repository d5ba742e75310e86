#define _GNU_SOURCE
#include "bfd_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

static socklen_t fill(struct sockaddr_storage *storage, int family, const uint8_t *address, uint16_t port) {
  memset(storage, 0, sizeof(*storage));
  if (family == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *)storage;
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    if (address) memcpy(&in->sin_addr, address, 4);
    return sizeof(*in);
  }
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)storage;
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  if (address) memcpy(&in6->sin6_addr, address, 16);
  return sizeof(*in6);
}

int lvsk_bfd_open_receiver(int family, uint16_t port) {
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (fd < 0) return -1;
  int yes = 1;
  int ok;
  if (family == AF_INET) {
    ok = setsockopt(fd, IPPROTO_IP, IP_RECVTTL, &yes, sizeof(yes)) == 0 &&
         setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &yes, sizeof(yes)) == 0;
  } else {
    ok = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &yes, sizeof(yes)) == 0 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &yes, sizeof(yes)) == 0 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &yes, sizeof(yes)) == 0;
  }
  struct sockaddr_storage local;
  socklen_t length = fill(&local, family, NULL, port);
  if (!ok || bind(fd, (struct sockaddr *)&local, length) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

ssize_t lvsk_bfd_receive(int fd, uint8_t *buffer, size_t capacity, int *family, uint8_t source[16],
                         uint8_t destination[16], int *ttl, int *truncated) {
  struct sockaddr_storage from;
  union {
    char bytes[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int)) + 64];
    struct cmsghdr align;
  } control;
  struct iovec iov = {.iov_base = buffer, .iov_len = capacity};
  struct msghdr message = {.msg_name = &from,
                           .msg_namelen = sizeof(from),
                           .msg_iov = &iov,
                           .msg_iovlen = 1,
                           .msg_control = control.bytes,
                           .msg_controllen = sizeof(control.bytes)};
  ssize_t received = recvmsg(fd, &message, MSG_DONTWAIT);
  if (received < 0) return -1;
  *truncated = (message.msg_flags & MSG_TRUNC) != 0;
  *ttl = 0;
  memset(destination, 0, 16);
  *family = from.ss_family;
  if (from.ss_family == AF_INET) {
    memcpy(source, &((struct sockaddr_in *)&from)->sin_addr, 4);
  } else {
    memcpy(source, &((struct sockaddr_in6 *)&from)->sin6_addr, 16);
  }
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) {
      int value;
      memcpy(&value, CMSG_DATA(c), sizeof(value));
      *ttl = value;
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) {
      int value;
      memcpy(&value, CMSG_DATA(c), sizeof(value));
      *ttl = value;
    } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      struct in_pktinfo info;
      memcpy(&info, CMSG_DATA(c), sizeof(info));
      memcpy(destination, &info.ipi_addr, 4);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      struct in6_pktinfo info;
      memcpy(&info, CMSG_DATA(c), sizeof(info));
      memcpy(destination, &info.ipi6_addr, 16);
    }
  }
  return received;
}

int lvsk_bfd_open_sender(int family, const uint8_t *source, int ttl, uint16_t *port) {
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (fd < 0) return -1;
  int ok = family == AF_INET ? setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) == 0
                             : setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof(ttl)) == 0;
  if (!ok) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  // A random start in the range, then every port once: two sessions never share a source port.
  uint16_t start = 0;
  if (getrandom(&start, sizeof(start), 0) != sizeof(start)) start = (uint16_t)getpid();
  const unsigned span = 65535 - 49152 + 1;
  for (unsigned i = 0; i < span; i++) {
    uint16_t candidate = (uint16_t)(49152 + (start + i) % span);
    struct sockaddr_storage local;
    socklen_t length = fill(&local, family, source, candidate);
    if (bind(fd, (struct sockaddr *)&local, length) == 0) {
      *port = candidate;
      return fd;
    }
    if (errno != EADDRINUSE) break;
  }
  int saved = errno;
  close(fd);
  errno = saved;
  return -1;
}

ssize_t lvsk_bfd_send(int fd, int family, const uint8_t *destination, uint16_t port, const uint8_t *bytes,
                      size_t length) {
  struct sockaddr_storage to;
  socklen_t size = fill(&to, family, destination, port);
  return sendto(fd, bytes, length, 0, (struct sockaddr *)&to, size);
}
