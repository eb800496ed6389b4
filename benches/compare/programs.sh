# shellcheck shell=bash
# The sequential comparison programs, shared by run.sh and callgrind.sh
# (sourced). The first eight are the original suite (their geometric mean is
# a target); the bg_* ones are further benchmarks-game programs.
ORIGINAL_PROGRAMS=(fib loop nbody fannkuch binary_trees strings list_churn map_churn)
GAME_PROGRAMS=(bg_spectral_norm bg_mandelbrot bg_fasta bg_knucleotide bg_revcomp bg_binary_trees)
SEQUENTIAL_PROGRAMS=("${ORIGINAL_PROGRAMS[@]}" "${GAME_PROGRAMS[@]}")
