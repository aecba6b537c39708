/* api_example.c — drive a simulation through the public API only: configure, run, read results. */
#include <stdio.h>
#include <stdlib.h>

#include "pfedrl/pfedrl.h"

int main(void)
{
    pfr_config cfg;
    pfr_error err;
    pfr_config_init(&cfg);
    if (pfr_config_set(&cfg, "env.kind", "cliffwalk", &err) != PFR_OK ||
        pfr_config_set(&cfg, "agents", "256", &err) != PFR_OK || pfr_config_set(&cfg, "rounds", "50", &err) != PFR_OK) {
        fprintf(stderr, "config: %s\n", err.msg);
        return 2;
    }
    pfr_sim *sim = NULL;
    pfr_status st = pfr_sim_create(&cfg, &sim, &err);
    if (st != PFR_OK) {
        fprintf(stderr, "create: %s (%s)\n", err.msg, pfr_status_string(st));
        return 1;
    }
    st = pfr_sim_run(sim, cfg.rounds);
    if (st != PFR_OK) {
        fprintf(stderr, "run: %s\n", pfr_sim_last_error(sim));
        pfr_sim_destroy(sim);
        return 1;
    }
    for (size_t i = 0; i < pfr_sim_metrics_count(sim); ++i) {
        pfr_metrics m;
        pfr_sim_metrics_get(sim, i, &m);
        printf("round %4lld  value_error %.5f  td_fixed_point_error %.5f\n", (long long)m.round, m.value_error,
               m.td_fixed_point_error);
    }
    float theta[8];
    pfr_sim_get_theta(sim, 0, theta, 8);
    printf("theta_0[0..3] = %.4f %.4f %.4f %.4f\n", theta[0], theta[1], theta[2], theta[3]);
    pfr_sim_destroy(sim);
    return 0;
}
