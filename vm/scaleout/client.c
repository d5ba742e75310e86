/* scaleout-client: the lab's traffic (vm/scaleout.sh). Holds FLOWS long-lived HTTP/1.1 keep-alive
 * connections to VIP:PORT, each sending one request every INTERVAL ms and checking every reply:
 * status 200, a body naming the real server, and the same server as the flow's first reply.
 * Beside them, a stream of short requests (one connection each, Connection: close).
 *
 * A broken flow is an established flow (it had a reply) that is reset, closed, times out waiting
 * for a reply, or answers from another server; it is counted once, logged to the break log, and
 * replaced by a new connection. Counters are cumulative; the status file is rewritten (atomically)
 * every 200 ms so the lab can take differences between phases.
 *
 * usage: scaleout-client VIP PORT FLOWS INTERVAL_MS TIMEOUT_MS SHORT_PER_S STATUS_FILE BREAK_LOG
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { IDLE_CLOSED, CONNECTING, READY, WAITING };
enum { MAX_SERVERS = 32, SHORT_SLOTS = 256, RBUF = 1024 };

struct conn {
  int fd;
  int state;
  int is_short;
  int established; /* had a reply: a break now counts */
  int server;      /* index into servers[], -1 until the first reply */
  int64_t next_send, sent_at, retry_at;
  int rlen;
  char rbuf[RBUF];
};

static struct sockaddr_in vip;
static int nflows, interval_ms, timeout_ms, short_per_s;
static struct conn *conns;
static int ep;
static char servers[MAX_SERVERS][32];
static int nservers;
static FILE *breaklog;
static uint64_t replies, broken_reset, broken_timeout, broken_moved, broken_status, connect_fail;
static uint64_t short_ok, short_fail, opened;
static volatile sig_atomic_t stop;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int server_index(const char *name, int len) {
  for (int i = 0; i < nservers; i++)
    if ((int)strlen(servers[i]) == len && memcmp(servers[i], name, len) == 0) return i;
  if (nservers == MAX_SERVERS || len >= 32) return -1;
  memcpy(servers[nservers], name, len);
  servers[nservers][len] = 0;
  return nservers++;
}

static void close_conn(struct conn *c) {
  if (c->fd >= 0) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
  }
  c->fd = -1;
  c->state = IDLE_CLOSED;
  c->rlen = 0;
}

static void start_conn(struct conn *c, int idx, int64_t now) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    c->retry_at = now + 1000;
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&vip, sizeof vip) < 0 && errno != EINPROGRESS) {
    close(fd);
    c->retry_at = now + 1000;
    return;
  }
  c->fd = fd;
  c->state = CONNECTING;
  c->sent_at = now; /* the connect counts against the timeout too */
  c->rlen = 0;
  c->established = 0;
  c->server = -1;
  struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t)idx};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  opened++;
}

static void log_break(int idx, struct conn *c, const char *reason, const char *detail) {
  fprintf(breaklog, "%.6f flow=%d server=%s reason=%s%s%s\n", wall(), idx,
          c->server >= 0 ? servers[c->server] : "-", reason, detail ? " " : "", detail ? detail : "");
  fflush(breaklog);
}

/* A long-lived flow failed: a break if it was established, a connect failure otherwise. */
static void fail_flow(int idx, struct conn *c, const char *reason, int64_t now) {
  if (c->is_short) {
    short_fail++;
    close_conn(c);
    return;
  }
  if (c->established) {
    if (!strcmp(reason, "timeout")) broken_timeout++;
    else if (!strcmp(reason, "status")) broken_status++;
    else broken_reset++;
    log_break(idx, c, reason, NULL);
  } else {
    connect_fail++;
  }
  close_conn(c);
  c->retry_at = now + (c->established ? 0 : 500);
  c->established = 0;
}

static void send_request(int idx, struct conn *c, int64_t now) {
  static const char keep[] = "GET / HTTP/1.1\r\nHost: vip\r\nUser-Agent: scaleout\r\n\r\n";
  static const char once[] = "GET / HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n";
  const char *req = c->is_short ? once : keep;
  size_t len = c->is_short ? sizeof once - 1 : sizeof keep - 1;
  ssize_t n = send(c->fd, req, len, MSG_NOSIGNAL);
  if (n != (ssize_t)len) {
    fail_flow(idx, c, "reset", now);
    return;
  }
  c->state = WAITING;
  c->sent_at = now;
  c->rlen = 0;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t)idx};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Returns 1 when rbuf holds a whole response (status and body parsed), 0 when more is needed,
 * -1 when it is malformed. */
static int parse_response(struct conn *c, int *status, const char **body, int *blen) {
  c->rbuf[c->rlen] = 0;
  char *end = strstr(c->rbuf, "\r\n\r\n");
  if (!end) return c->rlen >= RBUF - 1 ? -1 : 0;
  if (sscanf(c->rbuf, "HTTP/1.%*d %d", status) != 1) return -1;
  int clen = -1;
  for (char *p = c->rbuf; p < end; p++) {
    if ((p == c->rbuf || p[-1] == '\n') && !strncasecmp(p, "Content-Length:", 15)) clen = atoi(p + 15);
  }
  if (clen < 0) return -1;
  int have = c->rlen - (int)(end + 4 - c->rbuf);
  if (have < clen) return 0;
  if (have > clen) return -1; /* nothing was pipelined */
  *body = end + 4;
  *blen = clen;
  while (*blen > 0 && ((*body)[*blen - 1] == '\n' || (*body)[*blen - 1] == '\r')) (*blen)--;
  return 1;
}

static void on_readable(int idx, struct conn *c, int64_t now) {
  for (;;) {
    ssize_t n = recv(c->fd, c->rbuf + c->rlen, RBUF - 1 - c->rlen, 0);
    if (n > 0) {
      c->rlen += (int)n;
      if (c->rlen >= RBUF - 1) break;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    /* EOF or error: a response may still be complete (the short requests end this way). */
    int err = n < 0 ? errno : 0;
    if (c->state == WAITING && c->is_short) {
      int status;
      const char *body;
      int blen;
      if (parse_response(c, &status, &body, &blen) == 1 && status == 200) short_ok++;
      else short_fail++;
      close_conn(c);
      return;
    }
    fail_flow(idx, c, err ? "reset" : "closed", now);
    if (err) fprintf(breaklog, "  (flow %d: %s)\n", idx, strerror(err));
    return;
  }
  if (c->state != WAITING) {
    if (c->rlen) fail_flow(idx, c, "status", now); /* unsolicited bytes */
    return;
  }
  int status;
  const char *body;
  int blen;
  int r = parse_response(c, &status, &body, &blen);
  if (r == 0) return;
  if (c->is_short) {
    if (r == 1 && status == 200) short_ok++;
    else short_fail++;
    close_conn(c);
    return;
  }
  if (r < 0 || status != 200) {
    fail_flow(idx, c, "status", now);
    return;
  }
  replies++;
  int s = server_index(body, blen);
  if (c->server >= 0 && s != c->server) {
    broken_moved++;
    char detail[64];
    snprintf(detail, sizeof detail, "now=%s", s >= 0 ? servers[s] : "?");
    log_break(idx, c, "moved", detail);
    c->server = s; /* the flow goes on, on its new server; it was counted once */
  }
  c->server = s;
  c->established = 1;
  c->state = READY;
  c->rlen = 0;
  c->next_send = now + interval_ms;
}

static void write_status(const char *path) {
  char tmp[512];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) return;
  int est[MAX_SERVERS] = {0}, established = 0;
  for (int i = 0; i < nflows; i++) {
    if (conns[i].established && conns[i].fd >= 0) {
      established++;
      if (conns[i].server >= 0) est[conns[i].server]++;
    }
  }
  fprintf(f,
          "established=%d replies=%llu broken_reset=%llu broken_timeout=%llu broken_moved=%llu "
          "broken_status=%llu connect_fail=%llu opened=%llu short_ok=%llu short_fail=%llu",
          established, (unsigned long long)replies, (unsigned long long)broken_reset,
          (unsigned long long)broken_timeout, (unsigned long long)broken_moved,
          (unsigned long long)broken_status, (unsigned long long)connect_fail, (unsigned long long)opened,
          (unsigned long long)short_ok, (unsigned long long)short_fail);
  for (int s = 0; s < nservers; s++) fprintf(f, " est_%s=%d", servers[s], est[s]);
  fprintf(f, "\n");
  fclose(f);
  rename(tmp, path);
}

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

int main(int argc, char **argv) {
  if (argc != 9) {
    fprintf(stderr,
            "usage: %s VIP PORT FLOWS INTERVAL_MS TIMEOUT_MS SHORT_PER_S STATUS_FILE BREAK_LOG\n",
            argv[0]);
    return 2;
  }
  memset(&vip, 0, sizeof vip);
  vip.sin_family = AF_INET;
  vip.sin_port = htons((uint16_t)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &vip.sin_addr) != 1) {
    fprintf(stderr, "bad VIP %s\n", argv[1]);
    return 2;
  }
  nflows = atoi(argv[3]);
  interval_ms = atoi(argv[4]);
  timeout_ms = atoi(argv[5]);
  short_per_s = atoi(argv[6]);
  const char *status_path = argv[7];
  breaklog = fopen(argv[8], "a");
  if (nflows < 1 || interval_ms < 1 || timeout_ms < 1 || short_per_s < 0 || !breaklog) {
    fprintf(stderr, "bad arguments\n");
    return 2;
  }
  struct rlimit rl = {.rlim_cur = 65536, .rlim_max = 65536};
  if (setrlimit(RLIMIT_NOFILE, &rl) < 0) perror("setrlimit (continuing)");
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGPIPE, SIG_IGN);
  int total = nflows + SHORT_SLOTS;
  conns = calloc((size_t)total, sizeof *conns);
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (!conns || ep < 0) {
    perror("init");
    return 1;
  }
  for (int i = 0; i < total; i++) {
    conns[i].fd = -1;
    conns[i].is_short = i >= nflows;
    conns[i].server = -1;
  }
  int64_t start = now_ms();
  /* Ramp: one flow every 5 ms, so a thousand connect in 5 s without a SYN burst. */
  for (int i = 0; i < nflows; i++) conns[i].retry_at = start + (int64_t)i * 5;
  int64_t next_short = start, next_status = start, last_scan = 0;
  struct epoll_event evs[256];
  while (!stop) {
    int n = epoll_wait(ep, evs, 256, 20);
    int64_t now = now_ms();
    for (int k = 0; k < n; k++) {
      int idx = (int)evs[k].data.u32;
      struct conn *c = &conns[idx];
      if (c->fd < 0) continue;
      if (c->state == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err || (evs[k].events & (EPOLLERR | EPOLLHUP))) {
          fail_flow(idx, c, "reset", now);
          continue;
        }
        if (evs[k].events & EPOLLOUT) send_request(idx, c, now);
        continue;
      }
      on_readable(idx, c, now);
    }
    if (now - last_scan >= 10) {
      last_scan = now;
      for (int i = 0; i < nflows; i++) {
        struct conn *c = &conns[i];
        if (c->fd < 0) {
          if (now >= c->retry_at) start_conn(c, i, now);
        } else if (c->state == READY && now >= c->next_send) {
          send_request(i, c, now);
        } else if ((c->state == WAITING || c->state == CONNECTING) && now - c->sent_at > timeout_ms) {
          fail_flow(i, c, "timeout", now);
        }
      }
      for (int i = nflows; i < total; i++) {
        struct conn *c = &conns[i];
        if (c->fd >= 0 && now - c->sent_at > timeout_ms) fail_flow(i, c, "timeout", now);
      }
      while (short_per_s > 0 && now >= next_short) {
        next_short += 1000 / short_per_s;
        for (int i = nflows; i < total; i++) {
          if (conns[i].fd < 0) {
            start_conn(&conns[i], i, now);
            break;
          }
        }
      }
    }
    if (now >= next_status) {
      next_status = now + 200;
      write_status(status_path);
    }
  }
  write_status(status_path);
  return 0;
}
