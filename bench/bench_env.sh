# bench_env.sh — sourced by the CPU benches (cpu_ab.sh, cpu_kernels.sh): the environment of size S
# as --set arguments in ENV. S = 48: the cliff walk (4 types); else the bench grid world of
# bench/cpu_throughput.py, sqrt(S) on a side (16 types, 4 goals, walls 0.2, 16 starts, wind per type).
bench_env() {
    if [ "$1" = 48 ]; then
        ENV=(--set env.kind=cliffwalk --set env.types=4)
    else
        local w
        w=$(python3 -c "import math; print(math.isqrt($1))")
        ENV=(--set env.kind=gridworld --set env.width="$w" --set env.height="$w" --set env.types=16 --set env.goals=4
             --set env.walls=0.2 --set env.starts=16 --set env.wind_direction=per_type --set env.wind_max=0.2)
    fi
}
