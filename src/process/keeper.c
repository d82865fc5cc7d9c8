/*
 * sessiond-keeper: the parent of one session's process, as small as a process can be.
 *
 * Why it exists: only a process's parent learns how it ended (exit code or signal), and sessiond
 * may be stopped, restarted or upgraded while sessions run on. So sessiond starts this keeper
 * (detached); the keeper starts the command in its own process group (and, where the host allows,
 * its own cgroup), holds its stdin pipe when it has one, and when the command ends kills what is
 * left of the session, writes <stateDir>/exit.json and exits. sessiond only reads files.
 * It is C, not Node, because one runs per live session: a Node keeper cost 7.6 MiB PSS and about
 * 100 ms of CPU to start; this one costs well under 1 MiB and a millisecond (issue 13).
 *
 * Run as: sessiond-keeper <stateDir>, with the session's environment as its own. The argv names
 * only the state folder (`ps` shows no argument, prompt or path). The spec comes on fd 4 (a pipe,
 * read to EOF) as NUL-terminated fields, see read_spec(). It reports once on fd 3, one JSON line:
 * {"ok":true,"pid":..,"start_ticks":..,"keeper_pid":..,"cgroup":..} or {"ok":false,"error":..,"code":..}.
 * The files it writes (keeper.json, exit.json) are read by local.ts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REPORT_FD 3
#define SPEC_FD 4
#define MAX_SPEC_BYTES (16 * 1024 * 1024)
/* Room kept for exit.json from the start, so a full disk at the end cannot cost the exit status. */
#define EXIT_RESERVE_BYTES 4096
/* How long the rest of the session may take to die before the end is recorded anyway. */
#define EMPTY_TIMEOUT_MS 5000
#define WRITE_RETRY_FIRST_MS 100
#define WRITE_RETRY_MAX_MS 5000
/* The stdin pipe is made this large where the host allows, so an input message rarely waits. */
#define STDIN_PIPE_BYTES (1024 * 1024)
#define SPEC_MAGIC "sessiond-keeper-spec-3"

struct spec {
  const char *command;
  char **args; /* argv for exec: args[0] is the command */
  const char *cwd;
  const char *stdout_path;
  const char *stderr_path;
  const char *state_dir;
  char **roots;
  int nroots;
  int run_as; /* 0: stay the keeper's user */
  uid_t uid;
  gid_t gid;
  int cgroup_version; /* 0: no cgroup */
  const char *cgroup_dir;
  const char *cgroup_home;
  int stdin_pipe; /* 1: stdin is <stateDir>/stdin, a FIFO the keeper holds open */
  const char *stdin_initial; /* bytes put in the pipe before the command starts (its first message) */
};

static int reported = 0;
static char reserved_path[PATH_MAX];
static int reserved_made = 0;

/* The signals a user, sessiond or a terminal may send the keeper: they are meant for the session. */
static const int FORWARDED[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
#define NFORWARDED (sizeof FORWARDED / sizeof FORWARDED[0])

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* errno as Node names it (ENOENT, EACCES, ...): local.ts maps a few of them to clearer messages. */
static const char *errno_name(int err) {
  const char *name = strerrorname_np(err);
  return name ? name : "EUNKNOWN";
}

/* Appends `s` to `out` as the inside of a JSON string. */
static void json_escape(char *out, size_t size, const char *s) {
  size_t o = strlen(out);
  for (; *s && o + 8 < size; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      out[o++] = '\\';
      out[o++] = (char)c;
    } else if (c < 0x20) {
      o += (size_t)snprintf(out + o, size - o, "\\u%04x", c);
    } else {
      out[o++] = (char)c;
    }
  }
  out[o] = '\0';
}

static void report_line(const char *line) {
  if (reported) return;
  reported = 1;
  /* fd 3 closed (the adapter gave up or died) or never open (run by hand): keeper.json and
   * exit.json still record everything that matters. */
  (void)write_all(REPORT_FD, line, strlen(line));
  close(REPORT_FD);
}

/* Reports the failure, removes the reserved exit file, and exits 1. */
static void fail(const char *code, const char *fmt, ...) {
  char message[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  char line[4800] = "{\"ok\":false,\"error\":\"";
  json_escape(line, sizeof line, message);
  strcat(line, "\",\"code\":");
  if (code) {
    strcat(line, "\"");
    json_escape(line, sizeof line, code);
    strcat(line, "\"");
  } else {
    strcat(line, "null");
  }
  strcat(line, "}\n");
  report_line(line);
  if (reserved_made) unlink(reserved_path);
  _exit(1);
}

/* ---- the spec ---------------------------------------------------------------------------- */

static char *spec_buf;
static size_t spec_len, spec_pos;

/* The next NUL-terminated field, or NULL when the spec ends. */
static char *next_field(void) {
  if (spec_pos >= spec_len) return NULL;
  char *start = spec_buf + spec_pos;
  char *end = memchr(start, '\0', spec_len - spec_pos);
  if (!end) return NULL;
  spec_pos = (size_t)(end - spec_buf) + 1;
  return start;
}

static char *need_field(const char *what) {
  char *field = next_field();
  if (!field) fail(NULL, "keeper: spec ends before its %s", what);
  return field;
}

static long need_number(const char *what, long max) {
  char *field = need_field(what), *end;
  errno = 0;
  long value = strtol(field, &end, 10);
  if (errno || *field == '\0' || *end != '\0' || value < 0 || value > max) fail(NULL, "keeper: spec has a bad %s", what);
  return value;
}

static const char *need_text(const char *what) {
  char *field = need_field(what);
  if (*field == '\0') fail(NULL, "keeper: spec has an empty %s", what);
  return field;
}

/*
 * Fields, each ending in NUL: magic, command, cwd, stdoutPath, stderrPath, stateDir, argc, args...,
 * nroots, roots..., runAs ("" or "uid:gid"), cgroup version ("0", "1", "2"), cgroup dir, cgroup
 * home (both "" without a cgroup), stdin ("null" or "pipe"), the stdin's first bytes (may be "").
 */
static void read_spec(struct spec *s, const char *state_dir_arg) {
  size_t cap = 64 * 1024;
  /* The pipe may come non-blocking (libuv makes it so): block on it instead of polling. */
  int spec_flags = fcntl(SPEC_FD, F_GETFL);
  if (spec_flags >= 0 && (spec_flags & O_NONBLOCK)) fcntl(SPEC_FD, F_SETFL, spec_flags & ~O_NONBLOCK);
  spec_buf = malloc(cap);
  if (!spec_buf) fail("ENOMEM", "keeper: out of memory");
  for (;;) {
    if (spec_len == cap) {
      if (cap >= MAX_SPEC_BYTES) fail(NULL, "keeper: spec is over %d bytes", MAX_SPEC_BYTES);
      cap *= 2;
      spec_buf = realloc(spec_buf, cap);
      if (!spec_buf) fail("ENOMEM", "keeper: out of memory");
    }
    ssize_t n = read(SPEC_FD, spec_buf + spec_len, cap - spec_len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        sleep_ms(2);
        continue;
      }
      fail(errno_name(errno), "keeper: cannot read its spec on fd %d: %s", SPEC_FD, strerror(errno));
    }
    if (n == 0) break;
    spec_len += (size_t)n;
  }
  close(SPEC_FD);

  if (strcmp(need_field("magic"), SPEC_MAGIC) != 0) fail(NULL, "keeper: spec is not a %s", SPEC_MAGIC);
  s->command = need_text("command");
  s->cwd = need_text("cwd");
  s->stdout_path = need_text("stdoutPath");
  s->stderr_path = need_text("stderrPath");
  s->state_dir = need_text("stateDir");
  long argc = need_number("argc", 1 << 20);
  s->args = calloc((size_t)argc + 2, sizeof(char *));
  if (!s->args) fail("ENOMEM", "keeper: out of memory");
  s->args[0] = (char *)s->command;
  for (long i = 0; i < argc; i++) s->args[i + 1] = need_field("argument");
  s->nroots = (int)need_number("nroots", 4096);
  s->roots = calloc((size_t)s->nroots + 1, sizeof(char *));
  if (!s->roots) fail("ENOMEM", "keeper: out of memory");
  for (int i = 0; i < s->nroots; i++) s->roots[i] = (char *)need_text("root");
  const char *run_as = need_field("runAs");
  if (*run_as) {
    unsigned long uid, gid;
    char extra;
    if (sscanf(run_as, "%lu:%lu%c", &uid, &gid, &extra) != 2) fail(NULL, "keeper: spec has a bad runAs");
    s->run_as = 1;
    s->uid = (uid_t)uid;
    s->gid = (gid_t)gid;
  }
  s->cgroup_version = (int)need_number("cgroup version", 2);
  s->cgroup_dir = need_field("cgroup dir");
  s->cgroup_home = need_field("cgroup home");
  if (s->cgroup_version && (!*s->cgroup_dir || !*s->cgroup_home)) fail(NULL, "keeper: spec has a cgroup without its folders");
  const char *in = need_field("stdin");
  if (strcmp(in, "pipe") == 0) s->stdin_pipe = 1;
  else if (strcmp(in, "null") != 0) fail(NULL, "keeper: spec has a bad stdin");
  s->stdin_initial = need_field("stdin initial");
  if (*s->stdin_initial && !s->stdin_pipe) fail(NULL, "keeper: spec has initial input without a stdin pipe");
  if (next_field() != NULL) fail(NULL, "keeper: spec has fields past its end");
  if (!state_dir_arg || strcmp(s->state_dir, state_dir_arg) != 0) fail(NULL, "keeper: the spec is for another state folder than the one named in argv");
}

/* ---- files --------------------------------------------------------------------------------- */

/* Writes all of `text` at the start of `fd`, cuts the file there and, when `durable`, flushes it. */
static int write_whole(int fd, const char *text, int durable) {
  size_t len = strlen(text), done = 0;
  while (done < len) {
    ssize_t n = pwrite(fd, text + done, len - done, (off_t)done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    done += (size_t)n;
  }
  if (ftruncate(fd, (off_t)len) < 0) return -1;
  return durable ? fsync(fd) : 0;
}

/*
 * A temporary file in the same folder, rename: a reader sees the old file or the whole new one.
 * `durable` adds an fsync first, for what must survive a crash of the machine, not only of sessiond.
 */
static int write_atomic(const char *dir, const char *name, const char *text, int durable) {
  char tmp[PATH_MAX], dest[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s/.%s.%d.tmp", dir, name, (int)getpid());
  snprintf(dest, sizeof dest, "%s/%s", dir, name);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return -1;
  int rc = write_whole(fd, text, durable);
  int saved = errno;
  close(fd);
  if (rc == 0) rc = rename(tmp, dest);
  else errno = saved;
  if (rc != 0) {
    saved = errno;
    unlink(tmp);
    errno = saved;
  }
  return rc;
}

/* The file exit.json will be written through, filled now while there is room. */
static void reserve_exit_file(const char *dir) {
  snprintf(reserved_path, sizeof reserved_path, "%s/.exit.json.%d.reserved", dir, (int)getpid());
  int fd = open(reserved_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) fail(errno_name(errno), "cannot reserve room for exit.json: %s", strerror(errno));
  reserved_made = 1;
  char filler[EXIT_RESERVE_BYTES];
  memset(filler, ' ', sizeof filler);
  /* No fsync: the blocks are accounted for at write() (ENOSPC comes now, not at writeback), and
   * that is all the reservation is for. */
  if (write_all(fd, filler, sizeof filler) < 0) {
    int err = errno;
    close(fd);
    fail(errno_name(err), "cannot reserve room for exit.json: %s", strerror(err));
  }
  close(fd);
}

/* exit.json through the reserved file, else a fresh one. -1 when neither can be written. */
static int write_exit(const char *dir, const char *text) {
  char dest[PATH_MAX];
  snprintf(dest, sizeof dest, "%s/exit.json", dir);
  int fd = open(reserved_path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) {
    int rc = write_whole(fd, text, 1);
    close(fd);
    if (rc == 0 && rename(reserved_path, dest) == 0) return 0;
  }
  if (write_atomic(dir, "exit.json", text, 1) != 0) return -1;
  unlink(reserved_path);
  return 0;
}

/* ---- the working directory --------------------------------------------------------------- */

/* Whether `dir` (a real path) is one of the roots or inside one. Roots are resolved here, now. */
static int inside_roots(const char *dir, struct spec *s) {
  for (int i = 0; i < s->nroots; i++) {
    char real[PATH_MAX];
    if (!realpath(s->roots[i], real)) continue; /* a root that does not exist holds nothing */
    size_t n = strlen(real);
    if (strcmp(dir, real) == 0) return 1;
    if (n > 0 && real[n - 1] == '/') {
      if (strncmp(dir, real, n) == 0) return 1;
    } else if (strncmp(dir, real, n) == 0 && dir[n] == '/') {
      return 1;
    }
  }
  return 0;
}

/*
 * Makes the keeper's own working directory the session's, checked: the directory the keeper is
 * now in is what the command inherits, so no later swap of a path can move it.
 */
static void enter_working_directory(struct spec *s) {
  if (chdir(s->cwd) != 0) {
    int err = errno;
    if (err == ENOENT) fail(errno_name(err), "working directory does not exist: %s", s->cwd);
    if (err == ENOTDIR) fail(errno_name(err), "working directory is not a directory: %s", s->cwd);
    fail(errno_name(err), "cannot enter the working directory: %s: %s, chdir '%s'", errno_name(err), strerror(err), s->cwd);
  }
  if (s->nroots == 0) return;
  /* getcwd(3): the kernel's path to where we are, with no symlink in it; not resolved again. */
  char here[PATH_MAX];
  if (!getcwd(here, sizeof here)) fail(errno_name(errno), "cannot resolve the working directory: %s", strerror(errno));
  if (!inside_roots(here, s)) {
    fail("EOUTSIDE", "the working directory resolved outside the workspace roots when the process was started (was it replaced by a symlink?)");
  }
}

/* ---- cgroups ------------------------------------------------------------------------------- */

static int write_text_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = write_all(fd, text, strlen(text));
  int saved = errno;
  close(fd);
  errno = saved;
  return rc;
}

static int move_into_cgroup(const char *dir, pid_t pid) {
  char path[PATH_MAX], text[32];
  snprintf(path, sizeof path, "%s/cgroup.procs", dir);
  snprintf(text, sizeof text, "%d", (int)pid);
  return write_text_file(path, text);
}

/* SIGKILLs everything in the cgroup; how many live processes it listed. */
static int kill_cgroup(const char *dir, int version) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/cgroup.procs", dir);
  FILE *f = fopen(path, "re");
  if (!f) return 0;
  int live = 0, pid;
  while (fscanf(f, "%d", &pid) == 1) {
    char stat_path[64], buf[512];
    snprintf(stat_path, sizeof stat_path, "/proc/%d/stat", pid);
    int fd = open(stat_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    char *paren = strrchr(buf, ')');
    if (!paren || paren[1] == '\0' || paren[2] == 'Z') continue; /* a zombie runs nothing */
    live++;
    if (version == 1) kill(pid, SIGKILL); /* listed a moment ago: still a member, the cgroup holds only this session */
  }
  fclose(f);
  if (live > 0 && version == 2) {
    snprintf(path, sizeof path, "%s/cgroup.kill", dir);
    if (write_text_file(path, "1") != 0) {
      /* No cgroup.kill (a kernel before 5.14): one by one. */
      snprintf(path, sizeof path, "%s/cgroup.procs", dir);
      f = fopen(path, "re");
      if (f) {
        while (fscanf(f, "%d", &pid) == 1) kill(pid, SIGKILL);
        fclose(f);
      }
    }
  }
  return live;
}

static void empty_and_remove_cgroup(const char *dir, int version) {
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    if (kill_cgroup(dir, version) == 0) break;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
    if (elapsed >= EMPTY_TIMEOUT_MS) return; /* left to sessiond's sweep */
    sleep_ms(5);
  }
  for (int attempt = 0; attempt < 20; attempt++) {
    if (rmdir(dir) == 0 || errno == ENOENT) return;
    if (errno != EBUSY) return; /* EBUSY: the last member is still being torn down */
    sleep_ms(5);
  }
}

/* ---- starting the command ------------------------------------------------------------------ */

/* execve through PATH as Node's spawn does (no shell: a file without #! fails with ENOEXEC). */
static void exec_command(struct spec *s) {
  if (strchr(s->command, '/')) {
    execve(s->command, s->args, environ);
    return;
  }
  const char *path = getenv("PATH");
  if (!path || !*path) path = "/usr/bin:/bin";
  int saved = ENOENT;
  char candidate[PATH_MAX];
  for (const char *p = path;; p++) {
    const char *colon = strchr(p, ':');
    size_t len = colon ? (size_t)(colon - p) : strlen(p);
    if (len == 0) snprintf(candidate, sizeof candidate, "%s", s->command);
    else snprintf(candidate, sizeof candidate, "%.*s/%s", (int)len, p, s->command);
    execve(candidate, s->args, environ);
    /* Keep the most telling error: EACCES from a file that is there beats ENOENT from others. */
    if (errno != ENOENT && errno != ENOTDIR) saved = errno;
    if (!colon) break;
    p = colon;
  }
  errno = saved;
}

/* In the forked child: becomes the session's process. Reports an errno on `errpipe` when it cannot. */
static void become_session(struct spec *s, int in_fd, int out_fd, int err_fd, int errpipe, const sigset_t *original) {
  int err;
  /* Own session and process group (pgid = pid): a SIGKILL to the session's group cannot hit the keeper. */
  if (setsid() < 0) goto failed;
  if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) goto failed;
  if (s->run_as) {
    if (setgroups(0, NULL) < 0 || setgid(s->gid) < 0 || setuid(s->uid) < 0) goto failed;
  }
  for (size_t i = 0; i < NFORWARDED; i++) signal(FORWARDED[i], SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  sigprocmask(SIG_SETMASK, original, NULL);
  /* Nothing of the keeper's (report, spec, the stdin FIFO's own end) reaches the session: every fd
   * from 3 up closes at exec (errpipe too, which must stay open until then). One call where the
   * kernel has close_range (5.11+ for the flag), else one by one. */
  if (syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */) != 0) {
    for (int fd = 3; fd < 1024; fd++) {
      if (fd != errpipe) close(fd);
    }
  }
  exec_command(s);
failed:
  err = errno;
  (void)write_all(errpipe, (const char *)&err, sizeof err);
  _exit(127);
}

static int open_log(const char *path) {
  return open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
}

/*
 * <stateDir>/stdin: a FIFO the keeper opens read-write and keeps open for the session's life, so
 * the session never reads end-of-file while sessiond (its writer) is down or restarting.
 * Returns the fd for the session (read-only); the keeper's own end is kept in *hold.
 */
static int open_stdin_pipe(struct spec *s, int *hold) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/stdin", s->state_dir);
  unlink(path);
  if (mkfifo(path, 0600) != 0) fail(errno_name(errno), "cannot make the stdin pipe: %s", strerror(errno));
  /* Owned by sessiond's user, 0600: the session reads it through the fd opened here, under any user. */
  *hold = open(path, O_RDWR | O_CLOEXEC);
  if (*hold < 0) fail(errno_name(errno), "cannot open the stdin pipe: %s", strerror(errno));
  (void)fcntl(*hold, F_SETPIPE_SZ, STDIN_PIPE_BYTES); /* best effort: the default is 64 KiB */
  size_t initial = strlen(s->stdin_initial);
  if (initial > 0) {
    /* Put there before the command exists, so a crash of sessiond cannot lose the first message.
     * Non-blocking: a message larger than the pipe fails the launch instead of hanging it. */
    int flags = fcntl(*hold, F_GETFL);
    fcntl(*hold, F_SETFL, flags | O_NONBLOCK);
    ssize_t n = write(*hold, s->stdin_initial, initial);
    if (n != (ssize_t)initial) fail(n < 0 ? errno_name(errno) : "EFBIG", "the first input message (%zu bytes) does not fit in the stdin pipe", initial);
    fcntl(*hold, F_SETFL, flags);
  }
  int in = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (in < 0) fail(errno_name(errno), "cannot open the stdin pipe: %s", strerror(errno));
  int flags = fcntl(in, F_GETFL);
  fcntl(in, F_SETFL, flags & ~O_NONBLOCK);
  return in;
}

/* Field 22 of /proc/<pid>/stat: the start time in clock ticks, or -1. */
static long long start_ticks_of(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  p += 2; /* field 3, the state */
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p) return -1;
    p++;
  }
  return strtoll(p, NULL, 10);
}

static void iso_now(char *out, size_t size) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char base[32];
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, size, "%s.%03ldZ", base, ts.tv_nsec / 1000000L);
}

/* Records the end, retrying while it cannot (a full disk): a live keeper is a session still finishing. */
static void record_exit(struct spec *s, int status) {
  char ended_at[48], text[256], signame[32];
  iso_now(ended_at, sizeof ended_at);
  if (WIFSIGNALED(status)) {
    const char *abbrev = sigabbrev_np(WTERMSIG(status));
    if (abbrev) snprintf(signame, sizeof signame, "SIG%s", abbrev);
    else snprintf(signame, sizeof signame, "SIG%d", WTERMSIG(status));
    snprintf(text, sizeof text, "{\"exit_code\":null,\"exit_signal\":\"%s\",\"ended_at\":\"%s\"}\n", signame, ended_at);
  } else {
    snprintf(text, sizeof text, "{\"exit_code\":%d,\"exit_signal\":null,\"ended_at\":\"%s\"}\n", WEXITSTATUS(status), ended_at);
  }
  long delay = WRITE_RETRY_FIRST_MS;
  struct stat st;
  while (write_exit(s->state_dir, text) != 0) {
    if (stat(s->state_dir, &st) != 0 && errno == ENOENT) return; /* the session was deleted: nobody to tell */
    sleep_ms(delay);
    delay = delay * 2 > WRITE_RETRY_MAX_MS ? WRITE_RETRY_MAX_MS : delay * 2;
  }
}

int main(int argc, char **argv) {
  struct spec s;
  memset(&s, 0, sizeof s);
  signal(SIGPIPE, SIG_IGN); /* a closed report pipe is an error to ignore, not a death */

  /* Blocked from the start: a signal that comes early waits until there is a session to pass it to. */
  sigset_t handled, original;
  sigemptyset(&handled);
  for (size_t i = 0; i < NFORWARDED; i++) sigaddset(&handled, FORWARDED[i]);
  sigaddset(&handled, SIGCHLD);
  sigprocmask(SIG_BLOCK, &handled, &original);

  read_spec(&s, argc >= 2 ? argv[1] : NULL);
  /* The state folder is the keeper's own (its parent, the session's folder, exists). */
  if (mkdir(s.state_dir, 0700) != 0 && errno != EEXIST) fail(errno_name(errno), "cannot create state folder %s: %s", s.state_dir, strerror(errno));
  reserve_exit_file(s.state_dir);

  int out_fd = open_log(s.stdout_path);
  if (out_fd < 0) fail(errno_name(errno), "cannot open log file: %s: %s, open '%s'", errno_name(errno), strerror(errno), s.stdout_path);
  int err_fd = open_log(s.stderr_path);
  if (err_fd < 0) fail(errno_name(errno), "cannot open log file: %s: %s, open '%s'", errno_name(errno), strerror(errno), s.stderr_path);
  int stdin_hold = -1;
  int in_fd = s.stdin_pipe ? open_stdin_pipe(&s, &stdin_hold) : open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (in_fd < 0) fail(errno_name(errno), "cannot open /dev/null: %s", strerror(errno));

  enter_working_directory(&s);

  /* With cgroup v2 the command is born straight into its cgroup (clone3 CLONE_INTO_CGROUP, Linux
   * 5.7+); elsewhere the keeper moves itself in, forks, and moves back out. Moving a process
   * costs the kernel an RCU grace period (about 10 ms here), the clone none. */
  int moved = 0;
  int cgroup_fd = -1;
  if (s.cgroup_version) {
    if (mkdir(s.cgroup_dir, 0755) != 0) fail(errno_name(errno), "cannot put the session in its cgroup %s: %s", s.cgroup_dir, strerror(errno));
    if (s.cgroup_version == 2) cgroup_fd = open(s.cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }

  int errpipe[2];
  if (pipe2(errpipe, O_CLOEXEC) != 0) fail(errno_name(errno), "cannot make a pipe: %s", strerror(errno));
  pid_t pid = -1;
  if (cgroup_fd >= 0) {
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = (uint64_t)cgroup_fd;
    /* A fork in all but the cgroup: this process has one thread, so the child may go on in libc. */
    pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
    close(cgroup_fd);
  }
  if (s.cgroup_version && pid < 0) {
    /* No clone3 or no CLONE_INTO_CGROUP here (or cgroup v1): the older way. */
    if (move_into_cgroup(s.cgroup_dir, getpid()) != 0) {
      int err = errno;
      rmdir(s.cgroup_dir);
      fail(errno_name(err), "cannot put the session in its cgroup %s: %s", s.cgroup_dir, strerror(err));
    }
    moved = 1;
  }
  if (pid < 0) pid = fork();
  if (pid == 0) become_session(&s, in_fd, out_fd, err_fd, errpipe[1], &original);
  int fork_err = errno;
  close(errpipe[1]);
  close(out_fd);
  close(err_fd);
  close(in_fd);

  if (moved) {
    /* The command was born in the cgroup; the keeper leaves it, so that emptying the cgroup never
     * kills the keeper before it has recorded the end. */
    if (move_into_cgroup(s.cgroup_home, getpid()) != 0) {
      int err = errno;
      if (pid > 0) kill(pid, SIGKILL);
      fail(errno_name(err), "cannot leave the session's cgroup: %s", strerror(err));
    }
  }
  if (pid < 0) {
    if (s.cgroup_version) rmdir(s.cgroup_dir);
    fail(errno_name(fork_err), "spawn %s %s", s.command, errno_name(fork_err));
  }

  /* The exec either happened (the pipe closes, no bytes) or failed (its errno comes through). */
  int exec_err = 0;
  ssize_t got;
  do got = read(errpipe[0], &exec_err, sizeof exec_err);
  while (got < 0 && errno == EINTR);
  close(errpipe[0]);
  if (got == (ssize_t)sizeof exec_err) {
    waitpid(pid, NULL, 0);
    if (s.cgroup_version) empty_and_remove_cgroup(s.cgroup_dir, s.cgroup_version);
    fail(errno_name(exec_err), "spawn %s %s", s.command, errno_name(exec_err));
  }

  /* Not reaped yet (SIGCHLD is blocked and nobody waits), so /proc/<pid>/stat is there even if it ended. */
  long long ticks = start_ticks_of(pid);
  char record[PATH_MAX + 160], cgroup_json[PATH_MAX + 8] = "null";
  if (s.cgroup_version) {
    strcpy(cgroup_json, "\"");
    json_escape(cgroup_json, sizeof cgroup_json, s.cgroup_dir);
    strcat(cgroup_json, "\"");
  }
  snprintf(record, sizeof record, "{\"pid\":%d,\"start_ticks\":%lld,\"keeper_pid\":%d,\"cgroup\":%s}", (int)pid, ticks, (int)getpid(), cgroup_json);
  if (ticks < 0) {
    kill(-pid, SIGKILL);
    char line[256];
    snprintf(line, sizeof line, "{\"ok\":false,\"error\":\"process %d vanished before its start time was read\",\"code\":null}\n", (int)pid);
    report_line(line);
  } else if (write_atomic(s.state_dir, "keeper.json", record, 0) != 0) {
    /* Not fsynced: it serves a restart of sessiond (the page cache outlives a process); after a
     * crash of the machine the session is gone anyway. It is on the path of every start. */
    /* The state folder is unusable: fail the launch and take the command down rather than leave
     * it running unsupervised (its end is still recorded below if it can be). */
    int err = errno;
    char message[512], line[1024] = "{\"ok\":false,\"error\":\"";
    snprintf(message, sizeof message, "cannot write keeper.json: %s", strerror(err));
    json_escape(line, sizeof line, message);
    snprintf(line + strlen(line), sizeof line - strlen(line), "\",\"code\":\"%s\"}\n", errno_name(err));
    report_line(line);
    kill(-pid, SIGKILL);
  } else {
    char line[PATH_MAX + 200];
    snprintf(line, sizeof line, "{\"ok\":true,%s\n", record + 1);
    report_line(line);
  }

  /* Wait for the end, passing every forwarded signal on to the session's group. */
  int status = 0;
  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&handled, &info);
    if (sig < 0) continue; /* EINTR */
    if (sig == SIGCHLD) {
      pid_t done = waitpid(pid, &status, WNOHANG);
      if (done == pid) break;
      continue;
    }
    if (kill(-pid, sig) != 0 && errno != ESRCH) {
      /* EPERM from a group member that changed its user: nothing more the keeper can do. */
    }
  }

  /*
   * The session is everything it started. What the command leaves behind (a background job, a
   * child that ignored the SIGTERM its parent obeyed, one that left with setsid) would run on
   * unseen, out of reach of stop; so it goes with the command. The group id cannot be reused
   * while members remain, so only leftovers are hit; the cgroup holds only this session.
   */
  kill(-pid, SIGKILL);
  if (s.cgroup_version) empty_and_remove_cgroup(s.cgroup_dir, s.cgroup_version);
  if (stdin_hold >= 0) {
    /* Before the end is recorded: once a reader sees exit.json, input finds no pipe (ENOENT). */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/stdin", s.state_dir);
    unlink(path);
    close(stdin_hold);
  }
  record_exit(&s, status);
  return 0;
}
