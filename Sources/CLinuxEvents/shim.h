#ifndef LVSKEEPER_CLINUXEVENTS_SHIM_H
#define LVSKEEPER_CLINUXEVENTS_SHIM_H
// epoll and eventfd for the TCP connect prober: Swift's Glibc module does not export them.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#endif
