#!/usr/bin/env python3
"""Profiles which of the binary's methods `run` uses, for Operator/code-order.txt (bench/code-order.sh drives it).

A NativeAOT binary's methods are laid out by namespace and type, so the code that serving uses is spread over all
of its 7 MiB; with the kernel's read-ahead and fault-around every touched 4 KiB page brings its 64 KiB
neighbourhood, and `run` kept 6.8 MiB of code resident after load although it touches under 3 MiB
(docs/building.md, "Methods in the order they are used"). ILC lays methods out in the order of a file of mangled
names (IlcOrderFile); this script writes that file from page-fault profiles of the binary.

Subcommands:
  droploop FILE           drops FILE's unmapped pages from the page cache every 0.1 s until killed, so that every
                          first touch of a page of it faults (no fault-around from the cache)
  pageoutloop NAME PERIOD waits for a process called NAME, then pages its code out every PERIOD seconds
                          (process_madvise MADV_PAGEOUT) until it exits: each page faults again on its next use, at
                          the method used first then, so the faults name many methods of each page, not one
  order OUT PROFILE...    writes the order file from profiles (directories with syms.txt, faults.txt, boundary),
                          oldest first; each is one run of a binary laid out by the previous order

The order: (1) every method that took a page fault after start-up's last page-out, in any profile: what serving
uses for certain; (2) the other methods on the pages that faulted then in the newest profile, shuffled: they may be
used, and shuffling gives the next round's faults other neighbours to tell them apart; (3) the methods that
faulted during start-up; (4) the rest of start-up's pages. Everything not listed keeps ILC's own order after them.
"""
import bisect
import os
import random
import sys
import time


def droploop(path):
    while True:
        fd = os.open(path, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
        time.sleep(0.1)


def comm(pid):
    try:
        return open(f"/proc/{pid}/comm").read().strip()
    except OSError:
        return None


def pageoutloop(name, period):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    sys_pidfd_open, sys_process_madvise, madv_pageout = 434, 440, 21  # x86_64; MADV_PAGEOUT since Linux 5.4

    class Iovec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

    while True:
        pids = [p for p in os.listdir("/proc") if p.isdigit() and comm(p) == name]
        if pids:
            break
        time.sleep(0.01)
    pid = int(pids[0])
    exe = os.readlink(f"/proc/{pid}/exe")
    code = [line.split()[0].split("-") for line in open(f"/proc/{pid}/maps")
            if line.split()[1:2] == ["r-xp"] and line.split()[-1] == exe]
    iov = (Iovec * len(code))(*[Iovec(int(lo, 16), int(hi, 16) - int(lo, 16)) for lo, hi in code])
    pidfd = libc.syscall(sys_pidfd_open, pid, 0)
    while pidfd >= 0 and libc.syscall(sys_process_madvise, pidfd, iov, len(code), madv_pageout, 0) >= 0:
        time.sleep(float(period))


class Profile:
    """One profiled run: the binary's symbols, the page faults of the process (time, address) and the time
    (seconds after its first fault) of start-up's last page-out."""

    def __init__(self, directory):
        self.syms = []
        for line in open(os.path.join(directory, "syms.txt")):  # nm -n -S --defined-only
            parts = line.split(None, 3)
            addr, size, kind, name = parts if len(parts) == 4 else (parts[0], "0", parts[1], parts[2])
            if kind in "tT":
                self.syms.append((int(addr, 16), max(int(size, 16), 1), name.strip()))
        self.syms.sort()
        self.starts = [s[0] for s in self.syms]
        marks = {s[2]: s[0] for s in self.syms if s[2] in ("__start___managedcode", "__stop___managedcode")}
        self.lo, self.hi = marks["__start___managedcode"], marks["__stop___managedcode"]
        self.faults = [(float(t), int(a, 16)) for t, a in (l.split() for l in open(os.path.join(directory, "faults.txt")))]
        self.t0 = self.faults[0][0]
        self.boundary = float(open(os.path.join(directory, "boundary")).read())

    def managed(self, address):
        return self.lo <= address < self.hi

    def method_at(self, address):
        i = bisect.bisect_right(self.starts, address) - 1
        if i < 0:
            return None
        addr, size, name = self.syms[i]
        return name if addr <= address < addr + size and not name.startswith("__") else None

    def methods_on_page(self, page):
        lo, hi = page << 12, (page + 1) << 12
        i = max(bisect.bisect_right(self.starts, lo) - 1, 0)
        while i < len(self.syms) and self.syms[i][0] < hi:
            addr, size, name = self.syms[i]
            if addr + size > lo and not name.startswith("__"):
                yield name
            i += 1

    def faulted(self, steady):
        """(method, page) of each managed-code fault after (steady) or before start-up's last page-out."""
        for t, a in self.faults:
            if self.managed(a) and ((t - self.t0 >= self.boundary) == steady):
                name = self.method_at(a)
                if name:
                    yield name, a >> 12


def order(out, directories):
    profiles = [Profile(d) for d in directories]
    newest = profiles[-1]
    listed, seen = [], set()

    def add(name):
        if name not in seen:
            seen.add(name)
            listed.append(name)

    for p in reversed(profiles):
        for name, _ in p.faulted(steady=True):
            add(name)
    steady_sure = len(listed)
    maybe = [n for page in sorted({page for _, page in newest.faulted(steady=True)})
             for n in newest.methods_on_page(page) if n not in seen]
    maybe = list(dict.fromkeys(maybe))
    random.Random(len(profiles)).shuffle(maybe)
    for name in maybe:
        add(name)
    steady = len(listed)
    for p in reversed(profiles):
        for name, _ in p.faulted(steady=False):
            add(name)
    startup_sure = len(listed)
    for page in sorted({page for _, page in newest.faulted(steady=False)}):
        for name in newest.methods_on_page(page):
            add(name)
    size = {s[2]: s[1] for s in newest.syms}
    mib = lambda a, b: sum(size.get(n, 0) for n in listed[a:b]) / 1048576
    print(f"serving: {steady_sure} methods that faulted ({mib(0, steady_sure):.2f} MiB) + {steady - steady_sure} on their "
          f"pages ({mib(steady_sure, steady):.2f} MiB); start-up: {startup_sure - steady} that faulted "
          f"({mib(steady, startup_sure):.2f} MiB) + {len(listed) - startup_sure} on their pages "
          f"({mib(startup_sure, len(listed)):.2f} MiB)")
    with open(out, "w") as f:
        f.write("".join(n + "\n" for n in listed))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "pageoutloop":
        pageoutloop(*args)
    elif command == "droploop":
        droploop(*args)
    elif command == "order":
        order(args[0], args[1:])
    else:
        sys.exit(f"unknown command {command}: droploop, pageoutloop or order")
