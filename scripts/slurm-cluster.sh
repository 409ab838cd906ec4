# A one-node Slurm cluster on localhost, for tests: munged, slurmctld and slurmd in the background
# with every file (configuration, state, logs, munge socket) in one temporary folder.
# Source it, then:
#   cluster_start          installs slurm-wlm and munge when missing (root), starts the daemons,
#                          exports SLURM_CONF and waits until the node is idle
#   cluster_stop           stops the daemons by their PIDs and removes the folder (idempotent;
#                          call it from an EXIT trap so that it also runs when a test fails)
#   job_states ID...       "<job id> <state> <exit code>" per job and array task

CLUSTER_DIR=""
CLUSTER_PIDS=()

cluster_start() {
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    [ "$(id -u)" -eq 0 ] || { echo "slurm-test: slurm-wlm and munge are missing; install them with: sudo apt-get install --no-install-recommends slurm-wlm munge" >&2; return 1; }
    echo "slurm-test: installing slurm-wlm and munge"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null || return 1
  fi
  [ "$(id -u)" -eq 0 ] || { echo "slurm-test: starting slurmd needs root" >&2; return 1; }
  [ -r /etc/munge/munge.key ] || { echo "slurm-test: /etc/munge/munge.key is missing (reinstall munge)" >&2; return 1; }

  # 755 so that the munge user can reach its own subfolder.
  CLUSTER_DIR=$(mktemp -d /tmp/l2l-slurm.XXXXXX)
  chmod 755 "$CLUSTER_DIR"
  mkdir -p "$CLUSTER_DIR"/{munge,state,spool}
  # munged refuses a socket folder or log that another user could write: its own, as its user.
  chown munge:munge "$CLUSTER_DIR/munge"
  chmod 755 "$CLUSTER_DIR/munge"
  setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged --foreground \
    --socket="$CLUSTER_DIR/munge/socket" --pid-file="$CLUSTER_DIR/munge/munged.pid" \
    --seed-file="$CLUSTER_DIR/munge/seed" --log-file="$CLUSTER_DIR/munge/munged.log" \
    >"$CLUSTER_DIR/munged.out" 2>&1 &
  CLUSTER_PIDS+=($!)

  local host cpus memory
  host=$(hostname -s)
  cpus=$(nproc)
  memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
  # No cgroups and no accounting on a bare machine (see README → Slurm); finished jobs stay
  # visible to scontrol for MinJobAge seconds; a job whose dependency failed is cancelled.
  cat > "$CLUSTER_DIR/slurm.conf" <<CONF
ClusterName=l2ltest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=${SLURMCTLD_PORT:-16817}
SlurmdPort=${SLURMD_PORT:-16818}
AuthType=auth/munge
AuthInfo=socket=$CLUSTER_DIR/munge/socket
CredType=cred/munge
StateSaveLocation=$CLUSTER_DIR/state
SlurmdSpoolDir=$CLUSTER_DIR/spool
SlurmctldPidFile=$CLUSTER_DIR/slurmctld.pid
SlurmdPidFile=$CLUSTER_DIR/slurmd.pid
SlurmctldLogFile=$CLUSTER_DIR/slurmctld.log
SlurmdLogFile=$CLUSTER_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
DependencyParameters=kill_invalid_depend
MpiDefault=none
ReturnToService=2
MinJobAge=3600
KillWait=30
NodeName=$host CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$CLUSTER_DIR/slurm.conf"

  local waited=0
  until [ -S "$CLUSTER_DIR/munge/socket" ]; do
    sleep 0.2; waited=$((waited + 1))
    [ $waited -lt 50 ] || { echo "slurm-test: munged did not start:" >&2; cat "$CLUSTER_DIR/munged.out" >&2; return 1; }
  done
  /usr/sbin/slurmctld -D -f "$SLURM_CONF" >"$CLUSTER_DIR/slurmctld.out" 2>&1 &
  CLUSTER_PIDS+=($!)
  /usr/sbin/slurmd -D -f "$SLURM_CONF" >"$CLUSTER_DIR/slurmd.out" 2>&1 &
  CLUSTER_PIDS+=($!)

  waited=0
  until sinfo -h -o %T 2>/dev/null | grep -q '^idle$'; do
    sleep 0.5; waited=$((waited + 1))
    if [ $waited -ge 60 ]; then
      echo "slurm-test: the node did not become idle in 30 s; the daemons' logs:" >&2
      tail -n 20 "$CLUSTER_DIR"/slurmctld.log "$CLUSTER_DIR"/slurmd.log >&2
      return 1
    fi
  done
  echo "slurm-test: one-node cluster up in $CLUSTER_DIR (munged, slurmctld, slurmd: PIDs ${CLUSTER_PIDS[*]})"
}

cluster_stop() {
  local status=$? pid
  for pid in "${CLUSTER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${CLUSTER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  CLUSTER_PIDS=()
  if [ -n "$CLUSTER_DIR" ]; then
    # Batch scripts of jobs still running when the test stopped.
    pkill -f "$CLUSTER_DIR/" 2>/dev/null || true
    rm -rf "$CLUSTER_DIR"
  fi
  CLUSTER_DIR=""
  return $status
}

job_states() {
  local id
  for id in "$@"; do
    scontrol -o show job "$id" | tr ' ' '\n' | awk -F= '
      $1 == "JobId" { job = $2 } $1 == "ArrayJobId" { array = $2 } $1 == "ArrayTaskId" { task = $2 }
      $1 == "JobState" { state = $2 } $1 == "ExitCode" { code = $2 }
      $1 == "Restarts" { restarts = $2 }
      $1 == "NodeList" { print (task != "" ? array "_" task : job), state, code, restarts; job = array = task = state = code = restarts = "" }'
  done
}
