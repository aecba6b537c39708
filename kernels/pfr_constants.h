/*
 * pfr_constants.h — every constant that more than one part of pfedrl must agree on: the agent
 * block that fixes the order of every sum, the random-stream contract (which stream and which word
 * of a step drives what), and the sizes the kernels and the CPU engine are built around. Plain C,
 * included by the host library, the CUDA kernels and the tests alike.
 */
#ifndef PFR_CONSTANTS_H
#define PFR_CONSTANTS_H

/* ---- summation order (DESIGN §3b) --------------------------------------------------------------- */
/* Agents are processed in blocks of this many; per-block partial sums are reduced in block order,
 * which makes every result independent of the thread count. It is also the CUDA block size of the
 * fold and of the metrics kernel, so both engines sum in the same grouping. */
#define PFR_AGENT_BLOCK 256
#define PFR_AGENT_BLOCK_LOG2 8 /* 2^8 = PFR_AGENT_BLOCK: a block is an agent index shifted right by this */

/* ---- random streams (DESIGN §3) ----------------------------------------------------------------- */
/* The four Philox words of agent i at global step t are Philox4x32-10(counter {t, i}, key seed).
 * Which word of a step is used for what: */
#define PFR_WORD_TRANSITION 0    /* every step: the next state (integer thresholds) */
#define PFR_WORD_PARTICIPATION 1 /* the round's first step only: does the agent take part */
#define PFR_WORD_EXPLORE 2        /* control, every step: explore (epsilon-greedy) iff below the round's threshold */
#define PFR_WORD_ACTION 3         /* control, every step: the action explored, or the pick among tied maxima */

/* Stream ids (the 64-bit "subsequence" half of the counter) at and above PFR_STREAM_RESERVED are
 * reserved for draws that are not per-step agent words; agent ids stay below it. The run seed keys
 * the first two; the environment seed (env.seed) keys the rest. */
#define PFR_STREAM_RESERVED 0x4000000000000000ull
#define PFR_STREAM_INIT_STATE (PFR_STREAM_RESERVED + 1ull) /* run seed: agent i's initial state, counter i */
#define PFR_STREAM_INIT_PHI (PFR_STREAM_RESERVED + 2ull)   /* env seed: the initial Phi, counter e/2 */
#define PFR_STREAM_GRID_GOALS (PFR_STREAM_RESERVED + 16ull) /* env seed: gridworld goals and layouts */
#define PFR_STREAM_GARNET_BASE (PFR_STREAM_RESERVED + 32ull) /* env seed: garnet base MDP */
#define PFR_STREAM_GARNET_TYPE0 (PFR_STREAM_RESERVED + 33ull) /* env seed: garnet type m uses TYPE0 + m */
#define PFR_STREAM_MAX_TYPES 4096 /* env.types at most; TYPE0 + m stays below the next stream */
#define PFR_STREAM_GRID_TYPE0 (PFR_STREAM_GARNET_TYPE0 + PFR_STREAM_MAX_TYPES) /* env seed: grid world type m's
                                                                                   walls, goals, starts: + m */
#define PFR_STREAM_GRID_REWARD0 (PFR_STREAM_GRID_TYPE0 + PFR_STREAM_MAX_TYPES) /* env seed: type m's goal rewards
                                                                                 with a shared layout: + m */
#define PFR_STREAM_DP_NOISE (PFR_STREAM_GRID_REWARD0 + PFR_STREAM_MAX_TYPES) /* run seed: the private aggregation's
                                       noise, counter round * 2^32 + e / 2 for entry e of Phi (pfr_federation.h) */
#define PFR_STREAM_DQN_INIT (PFR_STREAM_DP_NOISE + 1ull) /* run seed: the neural instance's first body, counter e/4
                                                              for parameter e (host/neural/) */
#define PFR_STREAM_DQN_PARAM (PFR_STREAM_DP_NOISE + 2ull) /* env seed: agent i's physical parameter, counter i
                                                               (word 0: its own, word 1: its held-out one) */
#define PFR_STREAM_NEXT_FREE (PFR_STREAM_DP_NOISE + 3ull)

/* The neural instance's per-agent streams (host/neural/), keyed by the run seed, stream base + i.
 * Its environment steps use stream i itself at counter round * K + k, as the linear instances' steps
 * do: words PFR_WORD_PARTICIPATION (the round's first step), PFR_WORD_EXPLORE and PFR_WORD_ACTION. */
#define PFR_STREAM_DQN_REPLAY 0x0800000000000000ull /* counter g * 256 + j/4: word j mod 4 picks minibatch entry j
                                                       of agent i's gradient step g (g counts from 0 over the run) */
#define PFR_STREAM_DQN_HEAD 0x0C00000000000000ull   /* counter e/4: agent i's first head, entry e */
#define PFR_STREAM_DQN_RESET 0x1000000000000000ull  /* counter = agent i's training episode: its four start uniforms */
#define PFR_STREAM_DQN_EVAL 0x1800000000000000ull   /* counter evaluation * 2^20 + episode (held out: + 2^19) */

/* Agent i's per-round federation draws (pfr_federation.h) are stream PFR_STREAM_FEDERATION + i at
 * counter = the round, keyed by the run seed (agent ids stay below 2^61). Its four words: */
#define PFR_STREAM_FEDERATION 0x2000000000000000ull
#define PFR_FED_WORD_AVAILABILITY 0 /* the availability chain's move before the round */
#define PFR_FED_WORD_STRAGGLE 1     /* does the agent straggle this round */
#define PFR_FED_WORD_STEPS 2        /* a straggler's steps, 1 .. K-1 */
#define PFR_FED_WORD_DELAY 3        /* the age of the Phi it starts from, 0 .. max_delay */

/* ---- sizes the engines are built around --------------------------------------------------------- */
#define PFR_MAX_DIM 4096      /* the config's largest representation dimension d */
#define PFR_ROUND_MAX_D 64    /* CUDA engine: theta of one agent in registers (the CPU engine: any d) */
#define PFR_FOLD_SMEM_SD 2048 /* CUDA fold: a block's sums of every row in shared memory (the dense path)
                                 when S*d is at most this (16 KB); else the sparse path (pfr_fold.h) */
#define PFR_FOLD_QTAB 10240   /* CUDA dense fold: [S, tile] 16-bit overlay slots of a tile of agents (20 KB;
                                 with the sums, masks and flags a block stays under 48 KB of shared memory) */
#define PFR_GRAM_TILE 1024    /* Gram matrix Phi^T Phi: rows summed in tiles of this many, the tiles in order
                                 (pfr_cholqr.h), so a device can sum the tiles in parallel */
#define PFR_THREAD_BLOCK 128  /* CUDA thread kernel: agents (threads) per block */
#define PFR_HASH_MAX_R 128    /* CUDA: overlay hash tables (pfr_agent_round.h) below this many overlay rows */
#define PFR_SLOT_SMEM_MAX 14336 /* CUDA thread kernel: the block's slot maps in shared memory when they fit
                                  in this (S <= 108; 16 blocks of 128 agents still fit an SM's 228 KB) */
#define PFR_CPU_LANES 16      /* CPU engine: agents stepped together (one AVX-512 vector of lanes) */
#define PFR_CPU_APART 128     /* CPU engine: what different threads write is this many bytes apart, a
                                 pair of cache lines (the L2 fetches a line's pair with it) */
#define PFR_CHOL_TINY 1e-24   /* Cholesky-QR: a pivot below this * trace(G) means Phi lost rank */

#endif
