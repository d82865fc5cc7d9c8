/*
 * sessiond-launcher: starts keepers for the service, so the service does not fork itself per start.
 *
 * Why it exists: Node can only fork the whole server to start a process (libuv's fork copies the
 * page tables of a 100+ MiB process, about 2 ms, on the event loop). This small process, started
 * once by the local adapter, forks and execs each keeper instead: the same keeper, with the same
 * argv, fds and environment as a direct spawn would give it. It is only a midwife: a keeper is
 * in its own session (setsid) from birth and needs nothing of the launcher afterwards, so the
 * launcher's death costs no session anything (the service starts a new launcher; a start that
 * was under way is adopted from its keeper.json, or fails).
 *
 * Run as: sessiond-launcher <keeper program>, stdin and stdout pipes to the service.
 * Requests on stdin, each: u32 id, u32 state_len, u32 spec_len, u32 env_len (little-endian),
 * then the state folder (the keeper's argv[1]), the keeper spec (its fd 4) and the environment
 * (NUL-terminated KEY=VALUE entries). Answers on stdout, each: u32 id, u32 len, then what the
 * keeper reported on its fd 3 (len 0: it closed fd 3 without a report, or could not be started).
 * It exits when stdin closes (the service is gone), once the reports under way are answered.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_PENDING 1024
#define MAX_REQUEST (16u * 1024u * 1024u)
#define MAX_REPORT 65536

struct pending {
  uint32_t id;
  int fd;
  size_t len;
  char report[MAX_REPORT];
};

static struct pending *pending[MAX_PENDING];
static size_t npending = 0;
static const char *keeper_path;

static int read_full(int fd, void *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, (char *)buf + got, len - got);
    if (n == 0) return -1;
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    got += (size_t)n;
  }
  return 0;
}

static int write_full(int fd, const void *buf, size_t len) {
  size_t put = 0;
  while (put < len) {
    ssize_t n = write(fd, (const char *)buf + put, len - put);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    put += (size_t)n;
  }
  return 0;
}

static uint32_t le32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static void put_le32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
  p[2] = (unsigned char)(v >> 16);
  p[3] = (unsigned char)(v >> 24);
}

/* One answer, in one write when it fits a pipe's atomic size (a report always does). */
static void answer(uint32_t id, const char *report, size_t len) {
  unsigned char head[8];
  put_le32(head, id);
  put_le32(head + 4, (uint32_t)len);
  char buf[8 + MAX_REPORT];
  memcpy(buf, head, 8);
  if (len > 0) memcpy(buf + 8, report, len);
  if (write_full(1, buf, 8 + len) != 0) _exit(0); /* the service is gone */
}

/* Forks and execs one keeper; returns the read end of its report pipe, or -1 (answered already). */
static int start_keeper(uint32_t id, char *state_dir, const char *spec, size_t spec_len, char *env_block, size_t env_len) {
  /* The environment: the block's NUL-terminated entries, as an envp. */
  size_t nenv = 0;
  for (size_t i = 0; i < env_len; i++) if (env_block[i] == '\0') nenv++;
  char **envp = calloc(nenv + 1, sizeof *envp);
  if (!envp) return answer(id, NULL, 0), -1;
  size_t k = 0;
  for (size_t i = 0; i < env_len && k < nenv; k++) {
    envp[k] = env_block + i;
    i += strlen(env_block + i) + 1;
  }
  envp[k] = NULL;

  int spec_pipe[2], report_pipe[2];
  if (pipe2(spec_pipe, O_CLOEXEC) != 0) return free(envp), answer(id, NULL, 0), -1;
  if (pipe2(report_pipe, O_CLOEXEC) != 0) {
    close(spec_pipe[0]);
    close(spec_pipe[1]);
    free(envp);
    answer(id, NULL, 0);
    return -1;
  }
  /* The whole spec fits the pipe, so writing it never waits for the keeper (best effort). */
  if (spec_len > 65536) fcntl(spec_pipe[1], F_SETPIPE_SZ, (int)(spec_len < 1048576 ? spec_len : 1048576));

  pid_t pid = fork();
  if (pid == 0) {
    /* The keeper: its own session, fd 3 its report, fd 4 its spec, nothing else open, the
     * signal state of a fresh process (the launcher ignores SIGPIPE; the keeper must not inherit
     * an ignored SIGCHLD, or its command's end would never be reported to it). */
    setsid();
    int null = open("/dev/null", O_RDWR);
    if (null < 0) _exit(127);
    /* Both ends moved above 4 first: either may be fd 3 or 4 already, and one dup2 would close the other. */
    int report_fd = fcntl(report_pipe[1], F_DUPFD_CLOEXEC, 10);
    int spec_fd = fcntl(spec_pipe[0], F_DUPFD_CLOEXEC, 10);
    if (report_fd < 0 || spec_fd < 0) _exit(127);
    if (dup2(report_fd, 3) < 0 || dup2(spec_fd, 4) < 0) _exit(127);
    if (dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0) _exit(127);
    close_range(5, ~0U, 0);
    for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (chdir("/") != 0) _exit(127);
    char *argv[] = {(char *)keeper_path, state_dir, NULL};
    execve(keeper_path, argv, envp);
    _exit(127);
  }
  free(envp);
  close(spec_pipe[0]);
  close(report_pipe[1]);
  if (pid < 0) {
    close(spec_pipe[1]);
    close(report_pipe[0]);
    answer(id, NULL, 0);
    return -1;
  }
  /* EPIPE when the keeper died first: its missing report says so. */
  write_full(spec_pipe[1], spec, spec_len);
  close(spec_pipe[1]);
  return report_pipe[0];
}

static void handle_request(void) {
  unsigned char head[16];
  if (read_full(0, head, sizeof head) != 0) {
    /* The service is gone: nobody reads answers any more; the keepers go on without us. */
    while (npending > 0) {
      close(pending[npending - 1]->fd);
      free(pending[--npending]);
    }
    _exit(0);
  }
  uint32_t id = le32(head), state_len = le32(head + 4), spec_len = le32(head + 8), env_len = le32(head + 12);
  size_t total = (size_t)state_len + spec_len + env_len;
  if (total > MAX_REQUEST || state_len == 0) _exit(2); /* not the service's protocol */
  char *body = malloc(total + 1);
  if (!body || read_full(0, body, total) != 0) _exit(0);
  body[total] = '\0';
  char *state_dir = strndup(body, state_len);
  if (!state_dir) _exit(1);
  int fd = -1;
  if (npending >= MAX_PENDING) answer(id, NULL, 0);
  else fd = start_keeper(id, state_dir, body + state_len, spec_len, body + state_len + spec_len, env_len);
  free(state_dir);
  free(body);
  if (fd < 0) return;
  struct pending *p = malloc(sizeof *p);
  if (!p) {
    close(fd);
    answer(id, NULL, 0);
    return;
  }
  p->id = id;
  p->fd = fd;
  p->len = 0;
  pending[npending++] = p;
}

/* Reads what a keeper reports; on EOF answers it and forgets it. */
static void handle_report(size_t i) {
  struct pending *p = pending[i];
  ssize_t n = p->len < MAX_REPORT ? read(p->fd, p->report + p->len, MAX_REPORT - p->len) : 0;
  if (n < 0 && errno == EINTR) return;
  if (n > 0) {
    p->len += (size_t)n;
    return;
  }
  answer(p->id, p->report, p->len);
  close(p->fd);
  free(p);
  pending[i] = pending[--npending];
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  keeper_path = argv[1];
  signal(SIGPIPE, SIG_IGN);
  /* Keepers are reaped by the kernel: the launcher never waits for one (they run for hours). */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sa.sa_flags = SA_NOCLDWAIT;
  sigaction(SIGCHLD, &sa, NULL);

  struct pollfd fds[MAX_PENDING + 1];
  for (;;) {
    fds[0].fd = npending < MAX_PENDING ? 0 : -1;
    fds[0].events = POLLIN;
    for (size_t i = 0; i < npending; i++) {
      fds[i + 1].fd = pending[i]->fd;
      fds[i + 1].events = POLLIN;
    }
    int ready = poll(fds, npending + 1, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    /* Reports first (from the last, since answering one moves the last into its place). */
    for (size_t i = npending; i-- > 0;) {
      if (fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) handle_report(i);
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) handle_request();
  }
}
