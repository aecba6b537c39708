/*
 * federation.h — federation as it happens, on the host side of a round (federation.c): who is
 * available (a two-state chain per agent, or a trace file), who straggles, how stale each agent's
 * Phi is, and the privacy the noisy aggregation spends (privacy.c). The host draws these before each
 * round (kernels/pfr_federation.h) and hands them to the engine in the round plan; the engine does
 * the steps, the clipping and the noise. Not part of the library's interface.
 */
#ifndef PFR_FEDERATION_HOST_H
#define PFR_FEDERATION_HOST_H

#include "engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Is any mechanism on (a config whose federation keys are all neutral runs exactly as before)? */
int pfr_fed_active(const pfr_config *cfg);
/* Bytes pfr_fed_create allocates for cfg with S states (the memory plan). */
double pfr_fed_bytes(const pfr_config *cfg, int S);

/* Build sim->fed (left NULL when no mechanism is on); loads and checks the availability trace. */
pfr_status pfr_fed_create(pfr_sim *sim, pfr_error *err);
void pfr_fed_destroy(pfr_fed *f);
/* 1 and a warning in buf when cfg's availability keeps (nearly) every agent out: a trace of zeros,
 * agents that leave and never return (f may be NULL: the config alone). */
int pfr_fed_warning(const pfr_fed *f, const pfr_config *cfg, char *buf, size_t n);

/* Before round sim->round: the draws of every agent, the history of Phi updated, and plan's
 * federation fields filled (pointers into sim->fed, valid until the next call). Fails only when a
 * device engine cannot hand over its Phi (the handle's message says why). */
pfr_status pfr_fed_begin_round(pfr_sim *sim, pfr_round_plan *plan, pfr_round_stats *stats);

/* After the engine's round: with a delay and orthonormalization, every Phi kept rebased into the
 * basis the round's orthonormalization made (federation.c's comment), given the participant count
 * (none: no orthonormalization ran) and the round's R [d, d] where the caller has it (NULL: the
 * engine's last_map). A no-op otherwise. */
pfr_status pfr_fed_end_round(pfr_sim *sim, uint64_t participants, const double *R);

/* The checkpoint's view: the chain's states [N] (NULL: no chain) and the Phi history
 * [slots, S, d] (NULL: none). */
uint8_t *pfr_fed_availability(pfr_fed *f);
/* The CRC-32 of the availability trace's entries (its fingerprint in a checkpoint); 0 without a trace. */
uint32_t pfr_fed_trace_crc(const pfr_fed *f);
float *pfr_fed_history(pfr_fed *f, int *slots);

/* The privacy spent (epsilon at delta) by `rounds` rounds of the subsampled Gaussian mechanism with
 * sampling rate q and noise multiplier sigma, by the RDP accountant (privacy.c); *order gets the
 * Renyi order that gave it (may be NULL). +inf when sigma is 0. */
double pfr_dp_epsilon(double q, double sigma, int64_t rounds, double delta, int *order);
/* The RDP of one round at integer order alpha >= 2 (Mironov, Talwar, Zhang 2019), for the tests. */
double pfr_dp_rdp(double q, double sigma, int alpha);

#ifdef __cplusplus
}
#endif

#endif
