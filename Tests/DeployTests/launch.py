#!/usr/bin/env python3
"""Starts a program the way systemd would, then becomes it (execve keeps the pid).

    launch.py [--listen-fd N] [--fdname NAME] [--watchdog-usec U] [--watchdog-pid self|other]
              [--cpu LIST] [--sandbox ROOT] -- PROGRAM ARGS...

--listen-fd N      the inherited descriptor N (a listening socket, passed by the caller) becomes
                   fd 3, with LISTEN_FDS=1 and LISTEN_PID=<our pid>, which after execve is the
                   program's pid: exactly what systemd's socket activation hands a service.
--watchdog-usec U  sets WATCHDOG_USEC=U; --watchdog-pid adds WATCHDOG_PID (ours, or a pid that
                   is not ours, to check the program then stays silent).
--cpu LIST         restricts the CPUs like the unit's CPUAffinity= (inherited by children).
--sandbox ROOT     approximates fusion-serve.service's sandbox, because systemd is not PID 1 in
                   CI containers and cannot run the unit itself:
                     ROOT/usr/local is bind-mounted on /usr/local (the installed layout),
                     ProtectSystem=strict (every mount read-only), ProtectHome (empty /home,
                     /root, /run/user), PrivateTmp (fresh /tmp, /var/tmp), PrivateDevices
                     (a /dev with only null, zero, full, random, urandom, tty, shm),
                     RuntimeDirectory (writable /run/fusion-serve), LimitNOFILE=65536,
                     MemoryDenyWriteExecute (the kernel's PR_SET_MDWE), DynamicUser (an
                     unprivileged uid/gid in systemd's dynamic range, no groups),
                     CapabilityBoundingSet= (all capabilities dropped), NoNewPrivileges,
                     SystemCallFilter=@system-service ~@privileged with
                     SystemCallErrorNumber=EPERM, RestrictAddressFamilies=AF_UNIX AF_INET
                     AF_INET6 (other families get EAFNOSUPPORT), MemoryDenyWriteExecute's and
                     RestrictNamespaces's seccomp rules, SystemCallArchitectures=native.
                   The allowed system calls are expanded from this machine's
                   `systemd-analyze syscall-filter`, so the list is systemd's own.
"""
import argparse
import ctypes
import ctypes.util
import errno
import os
import resource
import subprocess
import sys

CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 24, 38, 65, 1
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_EQ, SCMP_CMP_MASKED_EQ = 4, 7
PROT_WRITE, PROT_EXEC, SHM_EXEC = 2, 4, 0o100000
# CLONE_NEWTIME | NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
NAMESPACE_FLAGS = 0x80 | 0x20000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
DYNAMIC_UID = 61234  # inside systemd's DynamicUser range 61184..65519


def scmp_act_errno(code):
    return 0x00050000 | (code & 0xFFFF)


class ScmpArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


libc = ctypes.CDLL(None, use_errno=True)


def check(result, what):
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def mount(source, target, fstype, flags, data=None):
    check(libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                     ctypes.c_ulong(flags), data and data.encode()), f"mount {target}")


def syscall_group(group, seen=None):
    """The system calls in a systemd group, nested groups expanded."""
    seen = set() if seen is None else seen
    out = subprocess.run(["systemd-analyze", "syscall-filter", group], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    names = set()
    for line in out[1:]:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            if line not in seen:
                seen.add(line)
                names |= syscall_group(line, seen)
        else:
            names.add(line)
    return names


def build_seccomp(allowed):
    """The filter systemd 252 builds for the unit, as far as the server can tell: allowed calls
    pass and others fail with EPERM (SystemCallErrorNumber=EPERM); socket() only for
    AF_UNIX/AF_INET/AF_INET6, else EAFNOSUPPORT (RestrictAddressFamilies=); no writable+executable
    mmap, no mprotect/pkey_mprotect to executable, no SHM_EXEC (MemoryDenyWriteExecute=, which
    systemd enforces with seccomp); clone3 fails with ENOSYS so libc falls back to clone, and
    clone with namespace flags, unshare and setns fail (RestrictNamespaces=yes)."""
    path = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    seccomp = ctypes.CDLL(path, use_errno=True)
    seccomp.seccomp_init.restype = ctypes.c_void_p
    seccomp.seccomp_init.argtypes = [ctypes.c_uint32]
    seccomp.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    seccomp.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                               ctypes.c_uint, ctypes.POINTER(ScmpArgCmp)]
    seccomp.seccomp_load.argtypes = [ctypes.c_void_p]
    ctx = seccomp.seccomp_init(scmp_act_errno(errno.EPERM))
    if not ctx:
        raise OSError("seccomp_init failed")

    def number(name):
        return seccomp.seccomp_syscall_resolve_name(name.encode())

    def rule(action, name, comparisons=()):
        array = (ScmpArgCmp * max(1, len(comparisons)))(*comparisons)
        result = seccomp.seccomp_rule_add_array(ctx, action, number(name), len(comparisons), array)
        if result != 0:
            raise OSError(-result, f"seccomp rule for {name}: {os.strerror(-result)}")

    def masked(arg, mask, value):
        return ScmpArgCmp(arg, SCMP_CMP_MASKED_EQ, mask, value)

    special = {"socket", "mmap", "mprotect", "pkey_mprotect", "shmat", "clone", "clone3", "unshare", "setns"}
    for name in sorted(allowed - special):
        if number(name) >= 0:  # names of other architectures do not resolve here
            rule(SCMP_ACT_ALLOW, name)
    if "socket" in allowed:
        for family in range(0, 64):
            action = SCMP_ACT_ALLOW if family in (1, 2, 10) else scmp_act_errno(errno.EAFNOSUPPORT)
            rule(action, "socket", [ScmpArgCmp(0, SCMP_CMP_EQ, family, 0)])
    for prot in (0, PROT_WRITE, PROT_EXEC):  # anything but both
        rule(SCMP_ACT_ALLOW, "mmap", [masked(2, PROT_WRITE | PROT_EXEC, prot)])
    rule(SCMP_ACT_ALLOW, "mprotect", [masked(2, PROT_EXEC, 0)])
    rule(SCMP_ACT_ALLOW, "pkey_mprotect", [masked(2, PROT_EXEC, 0)])
    rule(SCMP_ACT_ALLOW, "shmat", [masked(2, SHM_EXEC, 0)])
    rule(SCMP_ACT_ALLOW, "clone", [masked(0, NAMESPACE_FLAGS, 0)])
    rule(scmp_act_errno(errno.ENOSYS), "clone3")
    return seccomp, ctx


def sandbox(root):
    allowed = syscall_group("@system-service") - syscall_group("@privileged")
    seccomp, ctx = build_seccomp(allowed)

    check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount(os.path.join(root, "usr/local"), "/usr/local", None, MS_BIND | MS_REC)
    # ProtectSystem=strict: every mount read-only (the writable ones come back below).
    mounts = []
    with open("/proc/self/mountinfo") as info:
        for line in info:
            mounts.append(line.split()[4].replace("\\040", " "))
    for target in mounts:
        if target.startswith(("/proc", "/sys", "/dev")):
            continue
        try:
            mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
        except OSError:
            pass  # overmounted or vanished paths
    for home in ("/home", "/root", "/run/user"):
        if os.path.isdir(home):
            mount("tmpfs", home, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, "mode=0755")
    for tmp in ("/tmp", "/var/tmp"):
        mount("tmpfs", tmp, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    # PrivateDevices: a fresh /dev with the pseudo devices only.
    devices = ["null", "zero", "full", "random", "urandom", "tty"]
    mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    os.makedirs("/run/fusion-serve", mode=0o700)
    os.chown("/run/fusion-serve", DYNAMIC_UID, DYNAMIC_UID)
    os.makedirs("/run/sandbox-dev")
    mount("tmpfs", "/run/sandbox-dev", "tmpfs", MS_NOSUID, "mode=0755")
    for name in devices:
        open(f"/run/sandbox-dev/{name}", "w").close()
        mount(f"/dev/{name}", f"/run/sandbox-dev/{name}", None, MS_BIND)
    os.makedirs("/run/sandbox-dev/shm")
    mount("tmpfs", "/run/sandbox-dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    mount("/run/sandbox-dev", "/dev", None, MS_BIND | MS_REC)
    # Move the writable /run under the read-only flag except the runtime directory.
    mount("/run/fusion-serve", "/run/fusion-serve", None, MS_BIND)
    mount(None, "/run", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)

    # LimitNOFILE=65536, capped at the hard limit this container allows.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    check(libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0), "prctl(PR_SET_MDWE)")
    for cap in range(0, 64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # fails past the last valid capability
    os.setgroups([])
    os.setresgid(DYNAMIC_UID, DYNAMIC_UID, DYNAMIC_UID)
    os.setresuid(DYNAMIC_UID, DYNAMIC_UID, DYNAMIC_UID)  # clears permitted/effective caps
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    os.environ["RUNTIME_DIRECTORY"] = "/run/fusion-serve"
    os.chdir("/")
    result = seccomp.seccomp_load(ctx)
    if result != 0:
        raise OSError(-result, "seccomp_load")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen-fd", type=int)
    parser.add_argument("--fdname")
    parser.add_argument("--watchdog-usec", type=int)
    parser.add_argument("--watchdog-pid", choices=["self", "other"])
    parser.add_argument("--sandbox")
    parser.add_argument("--cpu", help="CPU list the program may use, like CPUAffinity= (e.g. 1 or 0,1)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no program given")

    if args.listen_fd is not None:
        if args.listen_fd != 3:
            os.dup2(args.listen_fd, 3, inheritable=True)
            os.close(args.listen_fd)
        os.set_inheritable(3, True)
        os.environ["LISTEN_FDS"] = "1"
        os.environ["LISTEN_PID"] = str(os.getpid())
        if args.fdname:
            os.environ["LISTEN_FDNAMES"] = args.fdname
    if args.watchdog_usec is not None:
        os.environ["WATCHDOG_USEC"] = str(args.watchdog_usec)
        if args.watchdog_pid == "self":
            os.environ["WATCHDOG_PID"] = str(os.getpid())
        elif args.watchdog_pid == "other":
            os.environ["WATCHDOG_PID"] = str(os.getppid())
    if args.cpu:
        os.sched_setaffinity(0, {int(c) for c in args.cpu.split(",")})
    if args.sandbox:
        sandbox(os.path.abspath(args.sandbox))
    os.execve(command[0], command, os.environ)


if __name__ == "__main__":
    main()
