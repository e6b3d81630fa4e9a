#!/usr/bin/env python3
"""Where a process's resident memory is, from /proc/PID/smaps: the binary by section (text, read-only data, data),
shared libraries, malloc's heap, the GC's reservation, thread stacks and other anonymous mappings; threads and
their stacks. Usage: python3 bench/smaps.py PID [--top N]"""
import os, re, sys

def mappings(pid):
    current = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ \S+\s*(.*)$", line)
            if head:
                if current:
                    yield current
                start, end = int(head.group(1), 16), int(head.group(2), 16)
                current = {"start": start, "size": end - start, "perms": head.group(3), "offset": int(head.group(4), 16), "path": head.group(5).strip()}
            elif current is not None:
                key, _, value = line.partition(":")
                if value.strip().endswith("kB"):
                    current[key] = int(value.split()[0])
    if current:
        yield current

def stack_ranges(pid):
    """Each thread's stack pointer (field 29 of /proc/PID/task/TID/stat) tells which mapping is its stack."""
    pointers = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                syscall = f.read().split()
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue
        if len(syscall) >= 3:
            pointers[int(tid)] = (int(syscall[-2], 16), name)
    return pointers

def main():
    pid = int(sys.argv[1])
    top = int(sys.argv[sys.argv.index("--top") + 1]) if "--top" in sys.argv else 8
    maps = list(mappings(pid))
    exe = os.readlink(f"/proc/{pid}/exe")
    stacks = stack_ranges(pid)
    groups, anon = {}, []
    stack_of = {}
    for m in maps:
        for tid, (sp, name) in stacks.items():
            if m["start"] <= sp < m["start"] + m["size"]:
                stack_of.setdefault(id(m), []).append(name)
    for m in maps:
        path, perms = m["path"], m["perms"]
        if path == exe:
            key = {"r-xp": "binary text (code)", "r--p": "binary read-only data", "rw-p": "binary data"}.get(perms, f"binary {perms}")
        elif path.endswith(".so") or ".so." in path:
            key = "shared libraries"
        elif path == "[heap]":
            key = "malloc heap ([heap])"
        elif path == "[stack]" or id(m) in stack_of:
            key = "thread stacks"
        elif path.startswith("["):
            key = path
        elif path:
            key = "other files"
        else:
            key = "anonymous (GC heap, runtime, malloc arenas)"
            anon.append(m)
        g = groups.setdefault(key, {"Rss": 0, "Private_Dirty": 0, "Private_Clean": 0, "Shared_Clean": 0, "Anonymous": 0, "n": 0})
        for k in ("Rss", "Private_Dirty", "Private_Clean", "Shared_Clean", "Anonymous"):
            g[k] += m.get(k, 0)
        g["n"] += 1
    total = sum(g["Rss"] for g in groups.values())
    print(f"{'':46} {'Rss':>8} {'dirty':>8} {'clean':>8} {'maps':>5}  (MiB)")
    for key, g in sorted(groups.items(), key=lambda kv: -kv[1]["Rss"]):
        print(f"{key:46} {g['Rss']/1024:8.2f} {g['Private_Dirty']/1024:8.2f} {(g['Private_Clean']+g['Shared_Clean'])/1024:8.2f} {g['n']:5}")
    print(f"{'total':46} {total/1024:8.2f}")
    touched = [(names, m) for m in maps for names in [stack_of.get(id(m))] if names]
    print(f"threads: {len(stacks)}; stacks touched (KiB): " + ", ".join(
        f"{'/'.join(sorted(set(n)))} {m['Rss']}" for n, m in sorted(touched, key=lambda t: -t[1]['Rss'])))
    sections(pid, maps, exe)
    print(f"largest anonymous mappings (Rss KiB / size KiB):")
    for m in sorted(anon, key=lambda m: -m.get("Rss", 0))[:top]:
        print(f"  {m['start']:x} {m['perms']} rss {m.get('Rss', 0):7} size {m['size']//1024:10}")

def sections(pid, maps, exe):
    """Resident pages of the binary per ELF section (from /proc/PID/pagemap: present bit), in KiB."""
    import subprocess
    out = subprocess.run(["readelf", "-SW", exe], capture_output=True, text=True).stdout
    secs = []
    for line in out.splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)", line)
        if m and int(m.group(2), 16):
            secs.append((m.group(1), int(m.group(2), 16), int(m.group(4), 16)))
    base = min(m["start"] - m["offset"] for m in maps if m["path"] == exe)
    resident = {}
    with open(f"/proc/{pid}/pagemap", "rb") as pm:
        for name, addr, size in secs:
            first, last = (base + addr) >> 12, (base + addr + size - 1) >> 12
            pm.seek(first * 8)
            data = pm.read((last - first + 1) * 8)
            pages = sum(1 for i in range(0, len(data), 8) if data[i + 7] & 0x80)
            resident[name] = (pages * 4, size // 1024)
    print("binary sections, resident / size (KiB): " + ", ".join(f"{n} {r}/{s}" for n, (r, s) in resident.items() if s >= 64 or r >= 64))

if __name__ == "__main__":
    main()
