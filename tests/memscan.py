"""Find Wasm linear memories in this process and search them (Linux only).

wasmtime reserves each linear memory as one large range: the accessible
pages first (rw-p; with copy-on-write init, part of them map the compiled
.cwasm image privately), then an inaccessible reserved tail (---p) of GiBs.
"""

from __future__ import annotations

RESERVATION_MIN = 1 << 30  # glibc heaps and thread stacks are far smaller


def linear_memories() -> list[tuple[int, int]]:
    maps = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            start, end = (int(x, 16) for x in parts[0].split("-"))
            maps.append((start, end, parts[1], len(parts) < 6))
    found = []
    for i, (start, end, perms, anon) in enumerate(maps):
        if perms != "---p" or not anon or end - start < RESERVATION_MIN:
            continue
        lo, j = start, i - 1
        while j >= 0 and maps[j][2] == "rw-p" and maps[j][1] == lo:
            lo, j = maps[j][0], j - 1
        if lo < start:
            found.append((lo, start))
    return found


def search(needle: bytes, regions: list[tuple[int, int]]) -> list[int]:
    """Addresses in `regions` where `needle` occurs."""
    hits = []
    with open("/proc/self/mem", "rb", buffering=0) as mem:
        for start, end in regions:
            mem.seek(start)
            data = mem.read(end - start)
            pos = data.find(needle)
            while pos != -1:
                hits.append(start + pos)
                pos = data.find(needle, pos + 1)
    return hits
