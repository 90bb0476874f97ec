#!/usr/bin/env bash
# Starts a one-node SLURM cluster and a local sshd, so the "slurm" and "ssh" backends can be tested
# against the real engines (no mocks). Idempotent: what already runs is left running.
#
#     sudo Scripts/cluster-up.sh      # then: sinfo, srun hostname, ssh -o BatchMode=yes localhost true
#     sudo Scripts/cluster-down.sh    # stops every daemon this script started, by its pid
#
# As root it installs what is missing from Debian's packages (slurmctld slurmd slurm-client munge
# openssh-server openssh-client). Afterwards a plain shell finds both engines with no extra
# environment:
# * SLURM through its default configuration path, /etc/slurm/slurm.conf (written here, marked as
#   ours; a slurm.conf that is not ours is never overwritten). The node offers
#   max(nproc, 16) CPUs (SlurmdParameters=config_overrides) so that the tests of several test
#   processes can each run a few one-CPU worker jobs at once on a two-core machine.
# * ssh through a block in ~/.ssh/config for `localhost`: port $PARALLELKIT_SSH_PORT (2222), a key
#   made here, and a known_hosts file of its own. sshd listens on 127.0.0.1 only.
#
# State (configuration, keys, logs, pid files) lives in $PARALLELKIT_CLUSTER_DIR
# (/tmp/parallelkit-cluster).
set -euo pipefail

state=${PARALLELKIT_CLUSTER_DIR:-/tmp/parallelkit-cluster}
ssh_port=${PARALLELKIT_SSH_PORT:-2222}
slurm_conf=/etc/slurm/slurm.conf
marker="# written by ParallelKit Scripts/cluster-up.sh"

say() { printf 'cluster-up: %s\n' "$*"; }
fail() { printf 'cluster-up: %s\n' "$*" >&2; exit 1; }

alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_missing() {
    local missing=()
    command -v slurmctld > /dev/null || missing+=(slurmctld)
    command -v slurmd > /dev/null || missing+=(slurmd)
    command -v sinfo > /dev/null || missing+=(slurm-client)
    command -v munged > /dev/null || missing+=(munge)
    command -v sshd > /dev/null || [[ -x /usr/sbin/sshd ]] || missing+=(openssh-server)
    command -v ssh > /dev/null || missing+=(openssh-client)
    command -v ssh-keygen > /dev/null || missing+=(openssh-client)
    ((${#missing[@]} == 0)) && return
    [[ $(id -u) == 0 ]] || fail "missing ${missing[*]}; run as root to install them"
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" > "$state/apt.log" 2>&1 \
        || { cat "$state/apt.log" >&2; fail "apt-get install failed"; }
}

start_munge() {
    if [[ ! -f /etc/munge/munge.key ]]; then
        say "creating /etc/munge/munge.key"
        mungekey --create --keyfile=/etc/munge/munge.key 2> /dev/null \
            || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=128 status=none
        chown munge:munge /etc/munge/munge.key
        chmod 0400 /etc/munge/munge.key
    fi
    mkdir -p /run/munge
    chown munge:munge /run/munge
    if alive /run/munge/munged.pid; then
        say "munged already runs (pid $(cat /run/munge/munged.pid))"
    else
        su -s /bin/sh munge -c /usr/sbin/munged
        say "munged started (pid $(cat /run/munge/munged.pid))"
        cp /run/munge/munged.pid "$state/munged.pid"
    fi
}

write_slurm_conf() {
    local host cpus memory
    host=$(hostname -s)
    cpus=$(nproc)
    ((cpus < 16)) && cpus=16
    memory=$(awk '/^MemTotal:/ { m = int($2 / 1024) - 1024; if (m < 512) m = 512; print m }' /proc/meminfo)
    if [[ -f $slurm_conf ]] && ! grep -qF "$marker" "$slurm_conf"; then
        fail "$slurm_conf exists and was not written by this script; not touching it"
    fi
    mkdir -p /etc/slurm "$state/slurm/state" "$state/slurm/spool" "$state/slurm/log"
    cat > "$state/slurm.conf.new" << EOF
$marker
ClusterName=parallelkit
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=30
KillWait=5
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$state/slurm/state
SlurmdSpoolDir=$state/slurm/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurm/log/slurmctld.log
SlurmdLogFile=$state/slurm/log/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    if [[ -f $slurm_conf ]] && cmp -s "$state/slurm.conf.new" "$slurm_conf"; then
        rm "$state/slurm.conf.new"
    else
        mv "$state/slurm.conf.new" "$slurm_conf"
        say "wrote $slurm_conf (node $host, $cpus CPUs)"
    fi
}

start_slurm() {
    if alive "$state/slurmctld.pid"; then
        say "slurmctld already runs (pid $(cat "$state/slurmctld.pid"))"
    else
        slurmctld -i
        say "slurmctld started"
    fi
    if alive "$state/slurmd.pid"; then
        say "slurmd already runs (pid $(cat "$state/slurmd.pid"))"
    else
        slurmd
        say "slurmd started"
    fi
    local deadline=$((SECONDS + 60)) states=""
    while ((SECONDS < deadline)); do
        states=$(sinfo -h -o '%T' 2> /dev/null || true)
        [[ $states == idle* || $states == mixed* || $states == allocated* ]] && break
        # A node that was down when slurmctld restarted comes back by itself (ReturnToService=2)
        # once slurmd registers; "unknown" needs a moment.
        sleep 0.5
    done
    [[ $states == idle* || $states == mixed* || $states == allocated* ]] \
        || { tail -20 "$state/slurm/log/slurmctld.log" "$state/slurm/log/slurmd.log" >&2 || true
            fail "the node did not become idle within 60 s (sinfo says: ${states:-nothing})"; }
    say "sinfo: node $(sinfo -h -o '%N %T %c CPUs')"
}

start_sshd() {
    local home=${HOME:-/root}
    mkdir -p "$state/ssh" /run/sshd "$home/.ssh"
    chmod 0700 "$state/ssh" "$home/.ssh"
    [[ -f $state/ssh/host_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -f "$state/ssh/host_ed25519"
    [[ -f $state/ssh/user_ed25519 ]] || ssh-keygen -q -t ed25519 -N '' -f "$state/ssh/user_ed25519"
    cp "$state/ssh/user_ed25519.pub" "$state/ssh/authorized_keys"
    chmod 0600 "$state/ssh/authorized_keys"
    cat > "$state/ssh/sshd_config" << EOF
$marker
Port $ssh_port
ListenAddress 127.0.0.1
HostKey $state/ssh/host_ed25519
PidFile $state/sshd.pid
AuthorizedKeysFile $state/ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PrintMotd no
AcceptEnv LANG LC_*
# Test runs open many sessions at once (a pool's workers log in together).
MaxStartups 200:30:400
MaxSessions 200
Subsystem sftp internal-sftp
EOF
    if alive "$state/sshd.pid"; then
        say "sshd already runs (pid $(cat "$state/sshd.pid"))"
    else
        /usr/sbin/sshd -f "$state/ssh/sshd_config" -E "$state/ssh/sshd.log"
        local deadline=$((SECONDS + 20))
        until alive "$state/sshd.pid" || ((SECONDS >= deadline)); do sleep 0.1; done
        alive "$state/sshd.pid" || { cat "$state/ssh/sshd.log" >&2; fail "sshd did not start"; }
        say "sshd started on 127.0.0.1:$ssh_port (pid $(cat "$state/sshd.pid"))"
    fi
    # ~/.ssh/config: a marked block for localhost, replaced on each run, removed by cluster-down.
    local config=$home/.ssh/config block
    touch "$config"
    chmod 0600 "$config"
    block=$(printf '%s\n' "# >>> parallelkit cluster >>>" \
        "Host localhost 127.0.0.1" \
        "    HostName 127.0.0.1" \
        "    Port $ssh_port" \
        "    IdentityFile $state/ssh/user_ed25519" \
        "    IdentitiesOnly yes" \
        "    UserKnownHostsFile $state/ssh/known_hosts" \
        "    StrictHostKeyChecking accept-new" \
        "# <<< parallelkit cluster <<<")
    sed -i '/^# >>> parallelkit cluster >>>$/,/^# <<< parallelkit cluster <<<$/d' "$config"
    # First match wins in ssh_config: the block goes first.
    printf '%s\n%s' "$block" "$(cat "$config")" > "$config.new" && mv "$config.new" "$config"
    local deadline=$((SECONDS + 20))
    until ssh -o BatchMode=yes -o ConnectTimeout=5 localhost true 2> "$state/ssh/check.log"; do
        ((SECONDS < deadline)) || { cat "$state/ssh/check.log" "$state/ssh/sshd.log" >&2
            fail "ssh -o BatchMode=yes localhost does not log in"; }
        sleep 0.2
    done
    say "ssh -o BatchMode=yes localhost: logs in as $(ssh -o BatchMode=yes localhost id -un)"
}

mkdir -p "$state"
chmod 0700 "$state"
install_missing
if [[ $(id -u) == 0 ]]; then
    start_munge
    write_slurm_conf
    start_slurm
else
    say "not root: SLURM is not started (its daemons run as root here); starting sshd only"
fi
start_sshd
say "ready (state in $state; stop with Scripts/cluster-down.sh)"
