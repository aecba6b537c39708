#!/usr/bin/env python3
"""The communication model of a round over MPI ranks (docs/DESIGN.md §13), as a table: bytes a rank
sends and receives, and the round's time split into computing, the exchange of block parts, the
all-gather of the changed rows and the latency of its small collectives, at 8, 64 and 512 ranks.

The exchange (host/cpu/cpu_dist.c) sends every touched (row, agent block) pair to the row's owner once:
8 + 8 d bytes (a row id, d doubles); the owner sends every changed row to every rank: 8 + 4 d bytes.
A round also has about 6 small collectives (the participants, the stop flag, 3 agreements, the counts
of the all-to-all), each ~log2(R) latencies.

Touched pairs: a block's 256 agents touch at most min(256 K, S) rows: at large S almost every step a
new row (the bench grid world at S = 40,000: all but one row in 30,000 holds one agent's change,
bench/RESULTS.md), at small S every row (the cliff walk). Computing: the agent-steps a rank does
divided by a node's rate (RATE_PER_RANK, the CPU engine on 64 cores: an assumption, ~30x the 2-core
figure of bench/RESULTS.md).

Network figures (published, typical; leads, not measurements): within a node MPI over shared memory
~10 GB/s and ~1 us; between nodes InfiniBand HDR 200 Gb/s = 25 GB/s a port and 10-50 us for a small
collective at scale (the issue's range; 2 us on an idle pair); NCCL on NVLink 4 (8 H100 in a node)
~350 GB/s of bus bandwidth in nccl-tests' all-reduce.

usage: mpi_model.py [--markdown]
"""
import math
import sys

RATE_PER_RANK = 1.5e9  # agent-steps/s of one node (64 cores) with the CPU engine: an assumption
LINKS = {  # name: (bandwidth bytes/s a rank, latency s of a small collective step)
    "intra-node MPI": (10e9, 1e-6),
    "InfiniBand HDR": (25e9, 10e-6),
    "Ethernet, 50 us": (12.5e9, 50e-6),
}
NCCL_BUS = 350e9


def round_model(N, K, S, d, R, link):
    bw, lat = LINKS[link]
    blocks = N / 256.0
    pairs_per_block = min(256.0 * K, S)  # touched (row, block) pairs: at most 256 K, at most S
    pairs = blocks * pairs_per_block
    sent = pairs / R * (8 + 8 * d) * (R - 1) / R  # to the other owners
    changed = min(S, N * K)  # rows changed in a round (every row at small S)
    rows_in = changed * (8 + 4 * d) * (R - 1) / R
    t_comp = N * K / R / RATE_PER_RANK
    t_x = sent / bw
    t_rows = rows_in / bw
    t_lat = 6 * math.ceil(math.log2(max(R, 2))) * lat
    return sent, rows_in, t_comp, t_x, t_rows, t_lat


def main():
    md = "--markdown" in sys.argv
    cases = [("cliff walk", 10**8, 100, 48, 8), ("bench grid world", 10**8, 10, 10**6, 8),
             ("bench grid world", 10**7, 10, 10**6, 8)]
    head = ["what", "N", "K", "S", "ranks", "network", "sent MB/rank", "rows in MB/rank", "compute ms", "exchange ms",
            "rows ms", "latency ms", "round ms", "comm share"]
    print("| " + " | ".join(head) + " |" if md else "  ".join(head))
    if md:
        print("|" + "---|" * len(head))
    for what, N, K, S, d in cases:
        for R in (8, 64, 512):
            for link in ("InfiniBand HDR", "Ethernet, 50 us"):
                sent, rows_in, tc, tx, tr, tl = round_model(N, K, S, d, R, link)
                total = tc + tx + tr + tl
                row = [what, f"{N:.0e}", str(K), f"{S:g}", str(R), link, f"{sent / 1e6:.1f}", f"{rows_in / 1e6:.1f}",
                       f"{tc * 1e3:.2f}", f"{tx * 1e3:.2f}", f"{tr * 1e3:.2f}", f"{tl * 1e3:.2f}", f"{total * 1e3:.2f}",
                       f"{100 * (total - tc) / total:.0f}%"]
                print("| " + " | ".join(row) + " |" if md else "  ".join(row))
    # multi-GPU nodes: the same records over NVLink with NCCL (ncclSend/ncclRecv, ncclAllGather)
    N, K, S, d, R = 10**8, 10, 10**6, 8, 8
    pairs = N / 256.0 * min(256.0 * K, S)
    per_gpu = pairs / R * (8 + 8 * d) * (R - 1) / R
    print(f"\n8 GPUs of a node over NVLink with NCCL (N = 1e8, K = 10, S = 1e6): {per_gpu / 1e9:.2f} GB a GPU a round, "
          f"{per_gpu / NCCL_BUS * 1e3:.1f} ms at {NCCL_BUS / 1e9:.0f} GB/s")


if __name__ == "__main__":
    main()
