#!/usr/bin/env bash
# Stops what Scripts/cluster-up.sh started — slurmd, slurmctld, munged (only if cluster-up started
# it) and sshd — each by the pid it recorded, and removes the ~/.ssh/config block for localhost.
# Idempotent: nothing running is not an error. Jobs still in the queue are cancelled first.
# The state folder ($PARALLELKIT_CLUSTER_DIR, /tmp/parallelkit-cluster) and /etc/slurm/slurm.conf
# stay, so the next cluster-up.sh starts faster; `--purge` removes both.
set -uo pipefail

state=${PARALLELKIT_CLUSTER_DIR:-/tmp/parallelkit-cluster}
marker="# written by ParallelKit Scripts/cluster-up.sh"

say() { printf 'cluster-down: %s\n' "$*"; }

stop() {
    local name=$1 pidfile=$2 pid
    [[ -f $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2> /dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2> /dev/null; then
            kill -KILL "$pid" 2> /dev/null
            say "$name (pid $pid) did not stop within 10 s: killed"
        else
            say "$name (pid $pid) stopped"
        fi
    fi
    rm -f "$pidfile"
}

if [[ -f $state/slurmctld.pid ]] && command -v scancel > /dev/null; then
    scancel --quiet --user="$(id -un)" 2> /dev/null || true
fi
stop slurmd "$state/slurmd.pid"
stop slurmctld "$state/slurmctld.pid"
stop munged "$state/munged.pid"
stop sshd "$state/sshd.pid"

config=${HOME:-/root}/.ssh/config
if [[ -f $config ]]; then
    sed -i '/^# >>> parallelkit cluster >>>$/,/^# <<< parallelkit cluster <<<$/d' "$config"
fi

if [[ ${1:-} == --purge ]]; then
    rm -rf "$state"
    if [[ -f /etc/slurm/slurm.conf ]] && grep -qF "$marker" /etc/slurm/slurm.conf; then
        rm -f /etc/slurm/slurm.conf
    fi
    say "removed $state and our slurm.conf"
fi
say "done"
