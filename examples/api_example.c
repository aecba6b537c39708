/* api_example.c — drive a simulation through the public API only: configure, run, read results.
 * Build against an installed pfedrl either way:
 *   cc api_example.c $(pkg-config --cflags --libs pfedrl)
 *   find_package(pfedrl 0.2 REQUIRED) + target_link_libraries(app PRIVATE pfedrl::pfedrl) */
#include <stdio.h>
#include <stdlib.h>

#include "pfedrl/pfedrl.h"

int main(void)
{
    pfr_error err;
    pfr_config *cfg = NULL;
    if (pfr_config_create(&cfg, &err) != PFR_OK) {
        fprintf(stderr, "config: %s\n", err.msg);
        return 1;
    }
    const int64_t rounds = 50;
    if (pfr_config_set(cfg, "env.kind", "cliffwalk", &err) != PFR_OK ||
        pfr_config_set(cfg, "agents", "256", &err) != PFR_OK || pfr_config_set(cfg, "rounds", "50", &err) != PFR_OK) {
        fprintf(stderr, "config: %s\n", err.msg);
        pfr_config_destroy(cfg);
        return 2;
    }
    char dim[32];
    pfr_config_get(cfg, "dim", dim, sizeof dim, NULL);
    pfr_sim *sim = NULL;
    pfr_status st = pfr_sim_create(cfg, &sim, &err);
    pfr_config_destroy(cfg); /* the handle keeps its own copy */
    if (st != PFR_OK) {
        fprintf(stderr, "create: %s (%s)\n", err.msg, pfr_status_string(st));
        return 1;
    }
    printf("pfedrl %s, %d states, d = %s, backend %s\n", pfr_version(), pfr_sim_num_states(sim), dim, pfr_sim_backend(sim));
    st = pfr_sim_run(sim, rounds);
    if (st != PFR_OK) {
        fprintf(stderr, "run: %s\n", pfr_sim_last_error(sim));
        pfr_sim_destroy(sim);
        return 1;
    }
    for (size_t i = 0; i < pfr_sim_metrics_count(sim); ++i) {
        pfr_metrics m;
        pfr_sim_metrics_get(sim, i, &m, sizeof m);
        printf("round %4lld  value_error %.5f  td_fixed_point_error %.5f\n", (long long)m.round, m.value_error,
               m.td_fixed_point_error);
    }
    float theta[8];
    pfr_sim_get_theta(sim, 0, theta, 8);
    printf("theta_0[0..3] = %.4f %.4f %.4f %.4f\n", theta[0], theta[1], theta[2], theta[3]);
    pfr_sim_destroy(sim);
    return 0;
}
