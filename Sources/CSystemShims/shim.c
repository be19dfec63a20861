#define _GNU_SOURCE
#include "CSystemShims.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

// MARK: fcntl

int fs_fcntl_getfl(int fd) { return fcntl(fd, F_GETFL); }
int fs_fcntl_setfl(int fd, int flags) { return fcntl(fd, F_SETFL, flags); }
int fs_fcntl_getfd(int fd) { return fcntl(fd, F_GETFD); }
int fs_fcntl_setfd(int fd, int flags) { return fcntl(fd, F_SETFD, flags); }
int fs_fcntl_dupfd_cloexec(int fd, int minimum) { return fcntl(fd, F_DUPFD_CLOEXEC, minimum); }
int fs_o_nonblock(void) { return O_NONBLOCK; }
int fs_fd_cloexec(void) { return FD_CLOEXEC; }

// MARK: sockets

int fs_socket(int domain, int type, int nonblocking) {
    return socket(domain, type | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
}

int fs_accept4(int fd, struct sockaddr *address, socklen_t *length) {
    return accept4(fd, address, length, SOCK_CLOEXEC | SOCK_NONBLOCK);
}

int fs_socketpair(int type, int fds[2]) {
    return socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds);
}

int fs_sock_stream(void) { return SOCK_STREAM; }
int fs_sock_seqpacket(void) { return SOCK_SEQPACKET; }
int fs_sock_dgram(void) { return SOCK_DGRAM; }

int fs_getsockopt_int(int fd, int level, int name, int *value) {
    socklen_t length = sizeof(*value);
    return getsockopt(fd, level, name, value, &length);
}

int fs_setsockopt_int(int fd, int level, int name, int value) {
    return setsockopt(fd, level, name, &value, sizeof(value));
}

int fs_setsockopt_timeval(int fd, int name, int64_t microseconds) {
    struct timeval tv;
    tv.tv_sec = (time_t)(microseconds / 1000000);
    tv.tv_usec = (suseconds_t)(microseconds % 1000000);
    return setsockopt(fd, SOL_SOCKET, name, &tv, sizeof(tv));
}

// MARK: pipes and eventfd

int fs_pipe2_cloexec_nonblock(int fds[2]) { return pipe2(fds, O_CLOEXEC | O_NONBLOCK); }

int fs_eventfd_create(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

int fs_eventfd_signal(int fd) {
    uint64_t one = 1;
    ssize_t written = write(fd, &one, sizeof(one));
    return written == (ssize_t)sizeof(one) ? 0 : -1;
}

int fs_eventfd_drain(int fd, uint64_t *value) {
    ssize_t got = read(fd, value, sizeof(*value));
    return got == (ssize_t)sizeof(*value) ? 0 : -1;
}

// MARK: epoll

int fs_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int fs_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token) {
    struct epoll_event event;
    memset(&event, 0, sizeof(event));
    event.events = events;
    event.data.u64 = token;
    return epoll_ctl(epfd, op, fd, &event);
}

int fs_epoll_wait(int epfd, fs_epoll_event *events, int max_events, int timeout_ms) {
    struct epoll_event raw[256];
    if (max_events > 256) max_events = 256;
    if (max_events < 1) { errno = EINVAL; return -1; }
    int count = epoll_wait(epfd, raw, max_events, timeout_ms);
    for (int i = 0; i < count; i++) {
        events[i].events = raw[i].events;
        events[i].token = raw[i].data.u64;
    }
    return count;
}

uint32_t fs_epollin(void) { return EPOLLIN; }
uint32_t fs_epollout(void) { return EPOLLOUT; }
uint32_t fs_epollerr(void) { return EPOLLERR; }
uint32_t fs_epollhup(void) { return EPOLLHUP; }
uint32_t fs_epollrdhup(void) { return EPOLLRDHUP; }
uint32_t fs_epollet(void) { return EPOLLET; }
int fs_epoll_ctl_add(void) { return EPOLL_CTL_ADD; }
int fs_epoll_ctl_mod(void) { return EPOLL_CTL_MOD; }
int fs_epoll_ctl_del(void) { return EPOLL_CTL_DEL; }

// MARK: CPU affinity

int fs_cpu_setsize(void) { return CPU_SETSIZE; }

int fs_sched_setaffinity(pid_t pid, const int32_t *cpus, int count) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < count; i++) {
        if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE) { errno = EINVAL; return -1; }
        CPU_SET(cpus[i], &set);
    }
    return sched_setaffinity(pid, sizeof(set), &set);
}

int fs_sched_getaffinity(pid_t pid, int32_t *cpus, int capacity) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(pid, sizeof(set), &set) != 0) return -1;
    int total = CPU_COUNT(&set);
    int written = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && written < capacity; cpu++) {
        if (CPU_ISSET(cpu, &set)) cpus[written++] = cpu;
    }
    return total;
}

// MARK: wait status

int fs_wifexited(int status) { return WIFEXITED(status); }
int fs_wexitstatus(int status) { return WEXITSTATUS(status); }
int fs_wifsignaled(int status) { return WIFSIGNALED(status); }
int fs_wtermsig(int status) { return WTERMSIG(status); }
int fs_wnohang(void) { return WNOHANG; }

// MARK: process control

int fs_prctl_set_pdeathsig(int signal) { return prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0, 0, 0); }

char **fs_environ(void) { return environ; }

int fs_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
             const int *sources, const int *targets, int count) {
    // Sources may collide with targets (source 3 -> target 4 while source 4 -> target 3),
    // so first duplicate every source above all targets, then dup2 into place in the child.
    int highest = 2;
    for (int i = 0; i < count; i++) if (targets[i] > highest) highest = targets[i];
    int *staged = calloc((size_t)(count > 0 ? count : 1), sizeof(int));
    if (staged == NULL) { errno = ENOMEM; return -1; }
    int result = -1;
    int staged_count = 0;
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int have_actions = 0, have_attributes = 0;

    for (; staged_count < count; staged_count++) {
        int copy = fcntl(sources[staged_count], F_DUPFD_CLOEXEC, highest + 1);
        if (copy < 0) goto done;
        staged[staged_count] = copy;
    }
    int error = posix_spawn_file_actions_init(&actions);
    if (error != 0) { errno = error; goto done; }
    have_actions = 1;
    for (int i = 0; i < count; i++) {
        // dup2 onto a different fd clears FD_CLOEXEC on the target.
        error = posix_spawn_file_actions_adddup2(&actions, staged[i], targets[i]);
        if (error != 0) { errno = error; goto done; }
    }
    error = posix_spawnattr_init(&attributes);
    if (error != 0) { errno = error; goto done; }
    have_attributes = 1;
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attributes, &all);
    posix_spawnattr_setsigmask(&attributes, &none);
    error = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    if (error != 0) { errno = error; goto done; }
    error = posix_spawn(pid, path, &actions, &attributes, argv, envp);
    if (error != 0) { errno = error; goto done; }
    result = 0;

done:;
    int saved = errno;
    if (have_actions) posix_spawn_file_actions_destroy(&actions);
    if (have_attributes) posix_spawnattr_destroy(&attributes);
    for (int i = 0; i < staged_count; i++) close(staged[i]);
    free(staged);
    errno = saved;
    return result;
}

// MARK: signals

#define FS_MAX_SIGNAL 65
// -1 = no notifier for that signal. (GNU range initializer: statically set, no init race.)
static _Atomic int fs_signal_fds[FS_MAX_SIGNAL] = {[0 ... FS_MAX_SIGNAL - 1] = -1};

static void fs_signal_handler(int signal) {
    int saved = errno;
    if (signal > 0 && signal < FS_MAX_SIGNAL) {
        int fd = atomic_load(&fs_signal_fds[signal]);
        if (fd >= 0) {
            unsigned char byte = (unsigned char)signal;
            // write(2) is async-signal-safe; a full pipe just drops the (redundant) byte.
            ssize_t ignored = write(fd, &byte, 1);
            (void)ignored;
        }
    }
    errno = saved;
}

int fs_signal_max(void) { return FS_MAX_SIGNAL - 1; }

int fs_signal_install(int signal, int write_fd) {
    if (signal <= 0 || signal >= FS_MAX_SIGNAL) { errno = EINVAL; return -1; }
    atomic_store(&fs_signal_fds[signal], write_fd);
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = fs_signal_handler;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    return sigaction(signal, &action, NULL);
}

int fs_signal_default(int signal) {
    if (signal <= 0 || signal >= FS_MAX_SIGNAL) { errno = EINVAL; return -1; }
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    int result = sigaction(signal, &action, NULL);
    atomic_store(&fs_signal_fds[signal], -1);
    return result;
}

int fs_signal_uninstall(int signal, int write_fd) {
    if (signal <= 0 || signal >= FS_MAX_SIGNAL) { errno = EINVAL; return -1; }
    int expected = write_fd;
    // Only the notifier that still owns the signal restores the default.
    if (!atomic_compare_exchange_strong(&fs_signal_fds[signal], &expected, -1)) return 0;
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    return sigaction(signal, &action, NULL);
}

int fs_signal_ignore(int signal) {
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = SIG_IGN;
    sigemptyset(&action.sa_mask);
    return sigaction(signal, &action, NULL);
}

// MARK: clocks and time

int64_t fs_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + (int64_t)ts.tv_nsec;
}

int64_t fs_realtime_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

int fs_format_http_date(int64_t seconds, char *out, int capacity) {
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)seconds;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || capacity < 30) { errno = EINVAL; return -1; }
    // Fixed-width fields only: the result is always 29 bytes.
    int year = tm.tm_year + 1900;
    if (year < 0 || year > 9999) { errno = EOVERFLOW; return -1; }
    const char *d = days[tm.tm_wday % 7], *m = months[tm.tm_mon % 12];
    char *p = out;
    *p++ = d[0]; *p++ = d[1]; *p++ = d[2]; *p++ = ','; *p++ = ' ';
    *p++ = (char)('0' + tm.tm_mday / 10); *p++ = (char)('0' + tm.tm_mday % 10); *p++ = ' ';
    *p++ = m[0]; *p++ = m[1]; *p++ = m[2]; *p++ = ' ';
    *p++ = (char)('0' + year / 1000); *p++ = (char)('0' + (year / 100) % 10);
    *p++ = (char)('0' + (year / 10) % 10); *p++ = (char)('0' + year % 10); *p++ = ' ';
    *p++ = (char)('0' + tm.tm_hour / 10); *p++ = (char)('0' + tm.tm_hour % 10); *p++ = ':';
    *p++ = (char)('0' + tm.tm_min / 10); *p++ = (char)('0' + tm.tm_min % 10); *p++ = ':';
    *p++ = (char)('0' + tm.tm_sec / 10); *p++ = (char)('0' + tm.tm_sec % 10);
    *p++ = ' '; *p++ = 'G'; *p++ = 'M'; *p++ = 'T'; *p = '\0';
    return 29;
}

// MARK: randomness

int fs_getrandom(void *buffer, int length) {
    return (int)getrandom(buffer, (size_t)length, 0);
}

FILE *fs_stdin(void) { return stdin; }
FILE *fs_stdout(void) { return stdout; }
FILE *fs_stderr(void) { return stderr; }
