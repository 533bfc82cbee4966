#!/usr/bin/env bash
# End-to-end test of the Slurm scripts on this one machine: installs Debian's slurm-wlm and munge (as root),
# starts munged, slurmctld and slurmd with a minimal configuration (one node, localhost, 2 CPUs), builds the demo
# mirror (whose own scan is the single-process store to compare with), submits a 3-task array and the dependent
# merge through submit.sh, waits for the merge (bounded), and checks that the merged store holds the same places,
# watermarks, scanned blobs and triage as the single-process scan (`shardscan merge --same-as`).
#
#   ci/slurm/test.sh [path/to/shardscan]     (default: .build/debug/shardscan; build it first)
#
# Everything it starts it stops on exit; its files live in a temporary folder, removed on success.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
shardscan=$(realpath "${1:-$root/.build/debug/shardscan}")
[[ -x "$shardscan" ]] || { echo "no shardscan binary at $shardscan (swift build first)" >&2; exit 2; }
timeout=${SLURM_TEST_TIMEOUT:-600}
started=$(date +%s)

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    [[ $(id -u) -eq 0 ]] || { echo "needs root to install slurm-wlm and munge" >&2; exit 2; }
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

work=$(mktemp -d /tmp/shardscan-slurm.XXXXXX)
pids=()
cleanup() {
    local status=$?
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    done
    if [[ $status -eq 0 ]]; then rm -rf "$work"; else echo "kept $work for inspection" >&2; fi
}
trap cleanup EXIT

# munge: its own key and socket, so a munged already running elsewhere is left alone.
mkdir -p "$work/munge" "$work/state" "$work/spool" "$work/stores"
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 755 "$work/munge"
chmod 400 "$work/munge/munge.key"
socket="$work/munge/munge.socket"
munged --force --key-file="$work/munge/munge.key" --socket="$socket" --pid-file="$work/munge/munged.pid" \
    --log-file="$work/munge/munged.log" --seed-file="$work/munge/munge.seed"
for _ in $(seq 50); do [[ -s "$work/munge/munged.pid" ]] && break; sleep 0.1; done
pids+=("$(cat "$work/munge/munged.pid")")

port=$((20000 + RANDOM % 20000))
cat > "$work/slurm.conf" <<CONF
ClusterName=shardscan-test
SlurmctldHost=localhost
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
MinJobAge=600
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=60 State=UP
CONF
export SLURM_CONF="$work/slurm.conf"
slurmctld -i -f "$SLURM_CONF"
for _ in $(seq 50); do [[ -s "$work/slurmctld.pid" ]] && break; sleep 0.1; done
pids+=("$(cat "$work/slurmctld.pid")")
slurmd -f "$SLURM_CONF" -N localhost
for _ in $(seq 50); do [[ -s "$work/slurmd.pid" ]] && break; sleep 0.1; done
pids+=("$(cat "$work/slurmd.pid")")
for _ in $(seq 100); do
    sinfo -h -N -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)' && break
    sleep 0.2
done
sinfo -h -N -o '%N %t %c' | grep -q idle || { echo "slurmd did not come up:"; tail -20 "$work"/slurm*.log; exit 1; } >&2

# The demo mirror; the demo's own scan is the one-process store.
"$shardscan" demo "$work/demo" >/dev/null 2>&1
single="$work/demo/shardscan.sqlite"

cd "$work"
read -r array merge < <(SHARDSCAN="$shardscan" SBATCH_EXTRA="--cpus-per-task=1" \
    "$here/submit.sh" 3 "$work/demo/mirror" "$work/stores")
echo "submitted array $array and merge $merge (afterok)"
state=""
while true; do
    state=$(scontrol show job "$merge" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1)
    case "$state" in
        COMPLETED) break ;;
        FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY)
            echo "merge job $merge ended $state" >&2; tail -n 30 "$work"/shardscan-*.log >&2; exit 1 ;;
    esac
    # A failed array task leaves the merge pending forever (DependencyNeverSatisfied).
    if scontrol show job "$merge" 2>/dev/null | grep -q DependencyNeverSatisfied; then
        echo "an array task failed:" >&2; tail -n 30 "$work"/shardscan-*.log >&2; exit 1
    fi
    if (($(date +%s) - started > timeout)); then
        echo "timed out after ${timeout}s (merge job $state)" >&2; tail -n 30 "$work"/*.log >&2; exit 1
    fi
    sleep 1
done
"$shardscan" merge --into "$work/stores/main.sqlite" --same-as "$single"
echo "slurm test passed in $(($(date +%s) - started))s"
