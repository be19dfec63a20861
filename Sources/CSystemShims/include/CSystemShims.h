#ifndef C_SYSTEM_SHIMS_H
#define C_SYSTEM_SHIMS_H
// Thin C shims for what Swift cannot call directly: macros (CPU_SET, WIFEXITED, ...),
// variadic functions (fcntl, prctl), GNU extensions (accept4, pipe2, eventfd), packed
// structs (epoll_event) and async-signal-safe handlers. Every function returns -1 and
// leaves errno set on failure, exactly like the call it wraps, so the Swift `syscall`
// wrapper can treat them uniformly.

#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <stdio.h>

// MARK: fcntl (variadic in C)
int fs_fcntl_getfl(int fd);
int fs_fcntl_setfl(int fd, int flags);
int fs_fcntl_getfd(int fd);
int fs_fcntl_setfd(int fd, int flags);
int fs_fcntl_dupfd_cloexec(int fd, int minimum);
int fs_o_nonblock(void);
int fs_fd_cloexec(void);

// MARK: sockets (GNU flags are enum members / macros)
int fs_socket(int domain, int type, int nonblocking);
int fs_accept4(int fd, struct sockaddr *address, socklen_t *length);
int fs_socketpair(int type, int fds[2]);
int fs_sock_stream(void);
int fs_sock_seqpacket(void);
int fs_sock_dgram(void);
int fs_getsockopt_int(int fd, int level, int name, int *value);
int fs_setsockopt_int(int fd, int level, int name, int value);
int fs_setsockopt_timeval(int fd, int name, int64_t microseconds);

// MARK: pipes and eventfd
int fs_pipe2_cloexec_nonblock(int fds[2]);
int fs_eventfd_create(void);                      // EFD_CLOEXEC | EFD_NONBLOCK
int fs_eventfd_signal(int fd);                    // adds 1 to the counter
int fs_eventfd_drain(int fd, uint64_t *value);

// MARK: epoll (epoll_event is packed on x86_64; this unpacked copy is safe to import)
typedef struct {
    uint32_t events;
    uint64_t token;
} fs_epoll_event;
int fs_epoll_create(void);                        // EPOLL_CLOEXEC
int fs_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token);
int fs_epoll_wait(int epfd, fs_epoll_event *events, int max_events, int timeout_ms);
uint32_t fs_epollin(void);
uint32_t fs_epollout(void);
uint32_t fs_epollerr(void);
uint32_t fs_epollhup(void);
uint32_t fs_epollrdhup(void);
uint32_t fs_epollet(void);
int fs_epoll_ctl_add(void);
int fs_epoll_ctl_mod(void);
int fs_epoll_ctl_del(void);

// MARK: CPU affinity (CPU_SET family are macros)
int fs_cpu_setsize(void);
// Sets the affinity of `pid` (0 = calling thread) to the `count` CPUs in `cpus`.
int fs_sched_setaffinity(pid_t pid, const int32_t *cpus, int count);
// Writes up to `capacity` CPU numbers into `cpus`; returns how many CPUs the mask holds
// (may exceed capacity: call again with a larger buffer), or -1.
int fs_sched_getaffinity(pid_t pid, int32_t *cpus, int capacity);

// MARK: wait status (macros)
int fs_wifexited(int status);
int fs_wexitstatus(int status);
int fs_wifsignaled(int status);
int fs_wtermsig(int status);
int fs_wnohang(void);

// MARK: process control
int fs_prctl_set_pdeathsig(int signal);
// posix_spawn with: child fd `targets[i]` = parent fd `sources[i]` (all other fds are
// expected to be close-on-exec), every signal reset to its default disposition and an
// empty signal mask (so an ignored SIGPIPE in the parent does not leak into the child).
int fs_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
             const int *sources, const int *targets, int count);
char **fs_environ(void);

// MARK: signals (self-pipe: the handler writes the signal number as one byte)
int fs_signal_install(int signal, int write_fd);  // sigaction, SA_RESTART
int fs_signal_default(int signal);
// Restores SIG_DFL only if `write_fd` is still the notifier for `signal`.
int fs_signal_uninstall(int signal, int write_fd);
int fs_signal_ignore(int signal);
int fs_signal_max(void);

// MARK: clocks and time
int64_t fs_monotonic_ns(void);
int64_t fs_realtime_seconds(void);
// Formats an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", 29 bytes) into `out` (>= 30 bytes).
int fs_format_http_date(int64_t seconds, char *out, int capacity);

// MARK: randomness
int fs_getrandom(void *buffer, int length);

/// The C standard streams as functions: Swift 6 flags the `stdin`/`stdout`/`stderr` globals as
/// shared mutable state, though glibc sets them before `main` and stdio locks each stream.
FILE *fs_stdin(void);
FILE *fs_stdout(void);
FILE *fs_stderr(void);

#endif
