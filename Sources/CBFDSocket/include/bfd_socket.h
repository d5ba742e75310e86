#ifndef LVSKEEPER_BFD_SOCKET_H
#define LVSKEEPER_BFD_SOCKET_H

#include <stdint.h>
#include <sys/types.h>

/// The UDP sockets of RFC 5881 single-hop BFD. Addresses are raw bytes: 4 for IPv4, 16 for IPv6.
/// Every function returns -1 with errno set on failure; descriptors are non-blocking and close-on-exec.

/// A receive socket for one family bound to the wildcard address and `port` (3784), reporting the
/// received TTL / hop limit and the destination address of each datagram (IPv6 only: V6ONLY).
int lvsk_bfd_open_receiver(int family, uint16_t port);

/// One received datagram: its length (or -1 with errno, EAGAIN when none is queued), the source
/// and destination addresses, and the TTL / hop limit (0 when the kernel did not report one).
/// `*truncated` is set when the datagram did not fit `capacity`.
ssize_t lvsk_bfd_receive(int fd, uint8_t *buffer, size_t capacity, int *family, uint8_t source[16],
                         uint8_t destination[16], int *ttl, int *truncated);

/// A send socket for one session: bound to `source` (NULL: any) and a free source port in
/// 49152-65535 (RFC 5881 section 4), the outgoing TTL / hop limit set to `ttl`. `*port` receives the
/// port bound.
int lvsk_bfd_open_sender(int family, const uint8_t *source, int ttl, uint16_t *port);

/// Sends `length` bytes to `destination`:`port`.
ssize_t lvsk_bfd_send(int fd, int family, const uint8_t *destination, uint16_t port, const uint8_t *bytes,
                      size_t length);

#endif
