#!/usr/bin/env bash
# One shard of a batchrun sweep as one task of a Slurm array job.
# Used by scripts/test-slurm.sh; also an example for users:
#
#   sbatch --array=0-3 scripts/slurm/batchrun-array.sh /abs/path/batchrun sweep.yaml /shared/results/sweep
#   # when all tasks are done:
#   batchrun merge /shared/results/sweep
#
# batchrun reads SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_MIN and
# SLURM_ARRAY_TASK_COUNT (--shard auto), so the array range decides the shards.
#SBATCH --job-name=batchrun
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
set -euo pipefail
if [ $# -ne 3 ]; then
	echo "usage: sbatch --array=0-K $0 BIN SPEC OUTDIR" >&2
	exit 2
fi
bin=$1 spec=$2 out=$3
echo "batchrun-array: host=$(hostname -s) task=${SLURM_ARRAY_TASK_ID:-?} min=${SLURM_ARRAY_TASK_MIN:-?} count=${SLURM_ARRAY_TASK_COUNT:-?}"
# Flags and the spec may come in any order.
exec "$bin" run --out "$out" --shard auto --progress plain --workers "${SLURM_CPUS_PER_TASK:-1}" "$spec"
