#!/usr/bin/env bash
# A single-node SLURM cluster on loopback for the integration test, from Debian's packages
# (slurmctld, slurmd, slurm-client, munge). Everything it starts lives in STATE_DIR: its own
# munged (private socket and key), slurmctld and slurmd with their own ports, PID files and logs.
#
#   cluster.sh up STATE_DIR     start (idempotent: daemons whose PID file is alive are kept)
#   cluster.sh down STATE_DIR   cancel the cluster's jobs, stop its daemons by PID file
#   cluster.sh env STATE_DIR    print the SLURM_CONF line that points clients at this cluster
#
# Needs root (munged runs as the munge user, slurmd as root). Never stops anything by name.
# Jobs started through Snakemake's SLURM plugin call srun with every SLURM_* variable removed,
# so srun finds its config only at /etc/slurm/slurm.conf: where that path is free, `up` links it
# to this cluster's config and `down` removes the link again; a config already there is left
# alone and `up` refuses to start.
set -euo pipefail

cmd=${1:?usage: cluster.sh up|down|env STATE_DIR}
state=$(realpath -m "${2:?usage: cluster.sh up|down|env STATE_DIR}")
conf=$state/slurm.conf
ctld_port=${SLURM_TEST_CTLD_PORT:-16817}
slurmd_port=${SLURM_TEST_SLURMD_PORT:-16818}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop() {  # stop the daemon whose PID file is $1, wait for it to go
  local pidfile=$1 pid
  alive "$pidfile" || { rm -f "$pidfile"; return 0; }
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

write_conf() {
  local host cpus sockets cores threads mem
  host=$(hostname -s)
  read -r cpus sockets cores threads mem < <(
    slurmd -C | awk '/^NodeName/ {
      for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      print v["CPUs"], v["SocketsPerBoard"] ? v["SocketsPerBoard"] : v["Sockets"],
            v["CoresPerSocket"], v["ThreadsPerCore"], v["RealMemory"] }')
  mem=$((mem * 9 / 10))  # more than the node has and it is drained
  cat > "$conf" <<CONF
ClusterName=rnnmemtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$state/munge/munge.socket
SlurmUser=root
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/slurmd
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MailProg=/bin/true
ReturnToService=2
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus Sockets=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
}

up() {
  [ "$(id -u)" = 0 ] || { echo "cluster.sh: needs root" >&2; exit 2; }
  for tool in slurmctld slurmd munged sbatch squeue; do
    command -v "$tool" >/dev/null || { echo "cluster.sh: $tool not installed" >&2; exit 2; }
  done
  mkdir -p "$state"/ctld "$state"/slurmd "$state"/munge
  chmod 755 "$state"
  [ -f "$conf" ] || write_conf
  # munge: private key, socket, pid and log, owned by the munge user
  chown munge: "$state"/munge
  chmod 755 "$state"/munge  # munged wants its socket directory searchable by all
  if [ ! -f "$state"/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of="$state"/munge/munge.key status=none
    chown munge: "$state"/munge/munge.key
    chmod 400 "$state"/munge/munge.key
  fi
  if ! alive "$state"/munge/munged.pid; then
    runuser -u munge -- munged --socket="$state"/munge/munge.socket \
      --key-file="$state"/munge/munge.key --pid-file="$state"/munge/munged.pid \
      --log-file="$state"/munge/munged.log --seed-file="$state"/munge/munged.seed
  fi
  local system_conf=/etc/slurm/slurm.conf
  if [ -L "$system_conf" ] && [ "$(readlink "$system_conf")" = "$conf" ]; then
    :  # ours from an earlier `up`
  elif [ -e "$system_conf" ] || [ -L "$system_conf" ]; then
    echo "cluster.sh: $system_conf exists and is not this test cluster's; not touching it" >&2
    exit 3
  else
    mkdir -p /etc/slurm
    ln -s "$conf" "$system_conf"
  fi
  alive "$state"/slurmctld.pid || slurmctld -f "$conf"
  alive "$state"/slurmd.pid || slurmd -f "$conf"
  export SLURM_CONF=$conf
  for _ in $(seq 100); do  # wait until the node takes jobs
    if sinfo -h -o %t 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
      echo "SLURM_CONF=$conf"
      return 0
    fi
    sleep 0.2
  done
  echo "cluster.sh: node did not come up; see $state/*.log" >&2
  sinfo >&2 || true
  exit 1
}

down() {
  if [ -f "$conf" ] && alive "$state"/slurmctld.pid; then
    export SLURM_CONF=$conf
    jobs=$(squeue -h -o %i 2>/dev/null || true)
    [ -z "$jobs" ] || scancel $jobs 2>/dev/null || true
  fi
  stop "$state"/slurmd.pid
  stop "$state"/slurmctld.pid
  stop "$state"/munge/munged.pid
  if [ -L /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" = "$conf" ]; then
    rm -f /etc/slurm/slurm.conf
  fi
}

case $cmd in
  up) up ;;
  down) down ;;
  env) echo "SLURM_CONF=$conf" ;;
  *) echo "usage: cluster.sh up|down|env STATE_DIR" >&2; exit 2 ;;
esac
