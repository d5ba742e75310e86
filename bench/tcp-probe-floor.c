// CPU floor of one TCP_CHECK probe on this host: socket, non-blocking connect, poll, SO_ERROR,
// close, in a plain C loop over 127.1.x.y:18080. usage: tcp-probe-floor SERVERS PROBES
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int n = atoi(argv[1]), probes = atoi(argv[2]);
  struct rusage r0, r1; struct timespec t0, t1;
  getrusage(RUSAGE_SELF, &r0); clock_gettime(CLOCK_MONOTONIC, &t0);
  int immediate = 0, inprogress = 0, failed = 0;
  for (int i = 0; i < probes; i++) {
    int k = i % n;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(18080)};
    char ip[32]; snprintf(ip, sizeof ip, "127.1.%d.%d", k / 250, k % 250 + 1);
    inet_pton(AF_INET, ip, &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    if (rc == 0) immediate++;
    else if (errno == EINPROGRESS) {
      inprogress++;
      struct pollfd p = {fd, POLLOUT, 0}; poll(&p, 1, 3000);
      int err = 0; socklen_t l = sizeof err; getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
      if (err) failed++;
    } else failed++;
    close(fd);
  }
  getrusage(RUSAGE_SELF, &r1); clock_gettime(CLOCK_MONOTONIC, &t1);
  double u = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) + (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) / 1e6;
  double s = (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) + (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
  double w = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("%d probes in %.2f s: user %.2f s sys %.2f s = %.3f CPU-s per 10,000 (%.1f us each); immediate %d in-progress %d failed %d\n",
         probes, w, u, s, (u + s) / probes * 10000, (u + s) / probes * 1e6, immediate, inprogress, failed);
}
