/* bench.h — `pfedrl bench` (bench.c): the standard throughput points on this machine. */
#ifndef PFR_CLI_BENCH_H
#define PFR_CLI_BENCH_H

#include <stdio.h>

/* argv[0] is "bench"; the exit code: 0, 1 (a point failed, or the JSON file could not be written),
 * 2 (bad usage). A point that does not fit the memory is not a failure. */
int pfr_cli_bench(int argc, char **argv);
void pfr_cli_bench_help(FILE *f);

#endif
