// The CPU floor of one health-check probe on this machine: the same probe a checker makes
// (TCP_CHECK: connect and close; HTTP_GET: connect, send a GET, read to the end of the stream;
// SSL_GET: the same through an OpenSSL client handshake), made by a plain C loop that keeps
// CONCURRENCY probes in flight on one epoll, with no scheduling, no verdicts and no logging.
// Whatever a real checker does on top of this is its own cost; what this loop costs is the
// kernel's (and, for SSL_GET, OpenSSL's) cost of the probe itself.
//
// usage: probe-floor tcp|http|ssl SERVERS PORT PROBES [CONCURRENCY]
//   targets 127.1.x.y:PORT for the first SERVERS addresses (as bench/health-keepalived-guest.sh)
// build: cc -O2 -o probe-floor bench/probe-floor.c -lssl -lcrypto
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum mode { TCP, HTTP, SSLGET };
enum phase { CONNECTING, HANDSHAKE, WRITING, READING };
struct probe {
  int fd;
  enum phase phase;
  SSL *ssl;
  size_t sent;
};

static const char request[] = "GET / HTTP/1.0\r\nHost: floor\r\nUser-Agent: probe-floor\r\n\r\n";
static enum mode mode;
static int servers, port, epfd, next_target;
static long started, done, failed;
static SSL_CTX *ctx;

static double seconds(struct timeval t) { return t.tv_sec + t.tv_usec / 1e6; }

static void start(struct probe *p) {
  int k = next_target++ % servers;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  char ip[32];
  snprintf(ip, sizeof ip, "127.1.%d.%d", k / 250, k % 250 + 1);
  inet_pton(AF_INET, ip, &a.sin_addr);
  p->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  p->phase = CONNECTING;
  p->ssl = NULL;
  p->sent = 0;
  started++;
  if (connect(p->fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) {
    failed++;
  }
  struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = p};
  epoll_ctl(epfd, EPOLL_CTL_ADD, p->fd, &e);
}

static void finish(struct probe *p, int ok) {
  if (p->ssl) SSL_free(p->ssl);
  close(p->fd);
  done++;
  if (!ok) failed++;
}

// Advances probe p as far as the socket allows; returns 1 when it has ended.
static int advance(struct probe *p, uint32_t events) {
  char buf[4096];
  if (p->phase == CONNECTING) {
    if (!(events & EPOLLOUT) && !(events & (EPOLLERR | EPOLLHUP))) return 0;
    int err = 0;
    socklen_t l = sizeof err;
    if (events & (EPOLLERR | EPOLLHUP)) {
      getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &l);
      finish(p, 0);
      return 1;
    }
    if (mode == TCP) {
      finish(p, 1);
      return 1;
    }
    if (mode == SSLGET) {
      p->ssl = SSL_new(ctx);
      SSL_set_fd(p->ssl, p->fd);
      SSL_set_connect_state(p->ssl);
      p->phase = HANDSHAKE;
    } else {
      p->phase = WRITING;
    }
  }
  if (p->phase == HANDSHAKE) {
    int rc = SSL_do_handshake(p->ssl);
    if (rc != 1) {
      int code = SSL_get_error(p->ssl, rc);
      if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) return 0;
      ERR_clear_error();
      finish(p, 0);
      return 1;
    }
    p->phase = WRITING;
  }
  if (p->phase == WRITING) {
    size_t len = sizeof request - 1;
    while (p->sent < len) {
      long n;
      if (p->ssl) {
        n = SSL_write(p->ssl, request + p->sent, (int)(len - p->sent));
        if (n <= 0) {
          int code = SSL_get_error(p->ssl, (int)n);
          if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) return 0;
          finish(p, 0);
          return 1;
        }
      } else {
        n = send(p->fd, request + p->sent, len - p->sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN) return 0;
        if (n <= 0) {
          finish(p, 0);
          return 1;
        }
      }
      p->sent += (size_t)n;
    }
    p->phase = READING;
  }
  for (;;) {  // READING: to the end of the stream (nginx closes after the response)
    long n;
    if (p->ssl) {
      n = SSL_read(p->ssl, buf, sizeof buf);
      if (n <= 0) {
        int code = SSL_get_error(p->ssl, (int)n);
        if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) return 0;
        ERR_clear_error();
        finish(p, code == SSL_ERROR_ZERO_RETURN || code == SSL_ERROR_SYSCALL);
        return 1;
      }
    } else {
      n = recv(p->fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EAGAIN) return 0;
      if (n <= 0) {
        finish(p, n == 0);
        return 1;
      }
    }
  }
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: probe-floor tcp|http|ssl SERVERS PORT PROBES [CONCURRENCY]\n");
    return 2;
  }
  mode = !strcmp(argv[1], "http") ? HTTP : !strcmp(argv[1], "ssl") ? SSLGET : TCP;
  servers = atoi(argv[2]);
  port = atoi(argv[3]);
  long probes = atol(argv[4]);
  int concurrency = argc > 5 ? atoi(argv[5]) : 32;
  if (mode == SSLGET) {
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  }
  epfd = epoll_create1(EPOLL_CLOEXEC);
  struct probe *ps = calloc((size_t)concurrency, sizeof *ps);
  struct rusage r0, r1;
  struct timespec t0, t1;
  getrusage(RUSAGE_SELF, &r0);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < concurrency && started < probes; i++) start(&ps[i]);
  struct epoll_event ev[256];
  while (done < probes) {
    int m = epoll_wait(epfd, ev, 256, 3000);
    if (m <= 0) break;
    for (int i = 0; i < m; i++) {
      struct probe *p = ev[i].data.ptr;
      if (advance(p, ev[i].events) && started < probes) start(p);
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  getrusage(RUSAGE_SELF, &r1);
  double user = seconds(r1.ru_utime) - seconds(r0.ru_utime);
  double sys = seconds(r1.ru_stime) - seconds(r0.ru_stime);
  double wall = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("%s floor: %ld probes (%ld failed) in %.2f s, %d in flight: user %.2f s sys %.2f s = %.3f CPU-s "
         "per 10,000 probes\n",
         argv[1], done, failed, wall, concurrency, user, sys, (user + sys) * 10000.0 / (done ? done : 1));
  return failed ? 1 : 0;
}
