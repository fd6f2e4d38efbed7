#!/usr/bin/env bash
# Stand-in array task for `BATCHRUN_SLURM_SELFTEST=1 scripts/test-slurm.sh`:
# records what Slurm told it and when it ran, so the caller can check the
# array variables and that tasks ran side by side.
#SBATCH --job-name=batchrun-selftest
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
set -euo pipefail
out=$1
start=$(date +%s.%N)
sleep "${2:-2}"
end=$(date +%s.%N)
tmp="$out/task-$SLURM_ARRAY_TASK_ID.tmp"
printf '%s %s %s %s %s\n' "$SLURM_ARRAY_TASK_ID" "$SLURM_ARRAY_TASK_MIN" "$SLURM_ARRAY_TASK_COUNT" "$start" "$end" >"$tmp"
mv "$tmp" "$out/task-$SLURM_ARRAY_TASK_ID.txt"
echo "selftest task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_TASK_COUNT (min $SLURM_ARRAY_TASK_MIN) on $(hostname -s)"
