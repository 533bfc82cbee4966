#!/usr/bin/env bash
# Submits one night: an array of N scan tasks and the merge that waits for all of them.
#   ci/slurm/submit.sh N MIRROR STORES      (SHARDSCAN, RULES and extra sbatch options from the environment)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shards=$1 mirror=$2 stores=$3
mkdir -p "$stores"
array=$(sbatch --parsable --array="1-$shards" ${SBATCH_EXTRA:-} \
    --export="ALL,SHARDS=$shards,MIRROR=$mirror,STORES=$stores" "$here/scan-array.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" ${SBATCH_EXTRA:-} \
    --export="ALL,STORES=$stores" "$here/merge.sbatch")
echo "$array ${merge%%;*}"
