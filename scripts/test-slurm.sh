#!/usr/bin/env bash
# End-to-end test of `batchrun run --shard auto` under a real Slurm array job.
#
# Starts a private single-host Slurm cluster (munged, slurmctld, slurmd, all
# run as root from a private directory, without systemd or cgroups), runs
# scripts/slurm/sweep.yaml as a 4-task array job, merges the shards, runs the
# same sweep in one process and compares trace.csv, summary.csv and eval.csv
# byte for byte.
#
# Needs root (slurmd runs jobs as their owner) and Debian's slurm-wlm and
# munge, which it installs with apt-get when they are missing.
#
# Environment:
#   BATCHRUN_SLURM_SELFTEST=1  only check the cluster with a stand-in array job
#                              (no Go build, a few seconds)
#   BATCHRUN_SLURM_SHARDS=N    array tasks for the sweep (default 4)
#   BATCHRUN_SLURM_TIMEOUT=S   limit for the array job in seconds (default 1800)
#   BATCHRUN_SLURM_PORT=P      first TCP port to try for slurmctld (default 6817)
#   BATCHRUN_BIN=/abs/path     use this batchrun binary instead of building one
#   KEEP=1                     keep the private directory (configuration, logs,
#                              results) and print where it is
#
# The daemons it starts are stopped on exit, by pid; nothing outside its
# private directory is written apart from the packages and the Go build cache.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
here=$repo/scripts/slurm
selftest=${BATCHRUN_SLURM_SELFTEST:-0}
shards=${BATCHRUN_SLURM_SHARDS:-4}
job_timeout=${BATCHRUN_SLURM_TIMEOUT:-1800}
t_start=$SECONDS

log() { printf '[test-slurm %3ds] %s\n' "$((SECONDS - t_start))" "$*" >&2; }
die() {
	log "FAIL: $*"
	exit 1
}

if [ "$(id -u)" -ne 0 ]; then
	die "needs root: slurmd runs jobs as their owner and munged/slurmd must be started by root (try sudo $0)"
fi
case $shards in '' | *[!0-9]* | 0) die "BATCHRUN_SLURM_SHARDS=$shards, want a positive integer" ;; esac

# --- 1. packages -------------------------------------------------------------

need_install=0
for cmd in slurmctld slurmd munged munge unmunge sbatch squeue sinfo scancel; do
	if ! PATH=$PATH:/usr/sbin:/sbin command -v "$cmd" >/dev/null 2>&1; then
		need_install=1
	fi
done
if [ "$need_install" = 1 ]; then
	log "installing slurm-wlm and munge with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	apt_install() { apt-get install -y -q --no-install-recommends slurm-wlm munge; }
	# Update the package lists only when they do not know the packages yet or
	# are stale enough that the install fails.
	if ! apt-cache show slurm-wlm munge >/dev/null 2>&1; then
		apt-get update -q
	fi
	if ! apt_install; then
		apt-get update -q
		apt_install
	fi
fi
export PATH=$PATH:/usr/sbin:/sbin

# --- private directory and cleanup ---------------------------------------------

priv=$(mktemp -d /tmp/batchrun-slurm.XXXXXX)
chmod 0700 "$priv"
mkdir -p "$priv"/{etc,munge,state,spool,log,run,jobs}
# munged wants its socket directory searchable by all and writable by none.
chmod 0755 "$priv/munge"
export SLURM_CONF=$priv/etc/slurm.conf
# Keep settings meant for another cluster out of the client commands.
unset SLURM_JOB_ID SLURM_JOBID SLURM_ARRAY_JOB_ID SLURM_ARRAY_TASK_ID SQUEUE_FORMAT SINFO_FORMAT SBATCH_PARTITION SLURM_CLUSTERS || true

munged_pid='' slurmctld_pid='' slurmd_pid='' cluster_up=0

# start_daemon NAME CMD...: run CMD in the background in a session of its own
# (setsid), so that a Ctrl-C or a signal to the script's process group does
# not kill the daemons before cleanup has cancelled the jobs; their pid goes
# to ${NAME}_pid. (In a non-interactive shell the child is no group leader, so
# setsid execs CMD instead of forking and $! is the daemon itself.)
start_daemon() {
	local name=$1
	shift
	setsid "$@" >>"$priv/log/$name.out" 2>&1 </dev/null &
	printf -v "${name}_pid" %s "$!"
}

stop_pid() { # name pid
	local name=$1 pid=$2
	[ -n "$pid" ] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.2
	done
	log "$name (pid $pid) did not stop on SIGTERM; sending SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	set +e
	if [ "$cluster_up" = 1 ] && [ -n "$slurmctld_pid" ] && kill -0 "$slurmctld_pid" 2>/dev/null; then
		# Cancel whatever is left of our jobs so that no job step outlives slurmd.
		if [ -n "$(squeue -h -o %i 2>/dev/null)" ]; then
			log "cancelling leftover jobs"
			scancel --full --signal=KILL --user=root 2>/dev/null
			for _ in $(seq 1 50); do
				[ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
				sleep 0.2
			done
		fi
	fi
	stop_pid slurmd "$slurmd_pid"
	stop_pid slurmctld "$slurmctld_pid"
	stop_pid munged "$munged_pid"
	if [ -n "${KEEP:-}" ] && [ "${KEEP}" != 0 ]; then
		log "kept $priv (KEEP=$KEEP)"
	else
		rm -rf "$priv"
	fi
	if [ "$rc" -eq 0 ]; then
		log "PASS ($((SECONDS - t_start)) s)"
	else
		log "exit status $rc"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

show_logs() { # daemon logs, then the files named (stderr of the daemons, job output)
	local f
	for f in "$priv"/log/*.log "$@"; do
		[ -f "$f" ] || continue
		echo "----- ${f#"$priv"/} (last 40 lines) -----" >&2
		tail -n 40 "$f" >&2
	done
}

# --- the binary (built before the cluster starts: a build error fails fast) ------

spec=$here/sweep.yaml
outdir=$priv/sharded
refdir=$priv/single
bin=''
if [ "$selftest" = 0 ]; then
	if [ -n "${BATCHRUN_BIN:-}" ]; then
		bin=$BATCHRUN_BIN
		case $bin in /*) ;; *) die "BATCHRUN_BIN=$bin must be an absolute path (the job script runs in $priv/jobs)" ;; esac
		[ -x "$bin" ] || die "BATCHRUN_BIN=$bin is not an executable file"
	else
		bin=$priv/batchrun
		log "go build -o $bin ./cmd/batchrun"
		(cd "$repo" && go build -o "$bin" ./cmd/batchrun)
	fi
fi

# --- 2. munge ------------------------------------------------------------------

# A private key and socket: the system's munged (if any) and /etc/munge are
# left alone.
key=$priv/munge/munge.key
if command -v mungekey >/dev/null 2>&1; then
	mungekey --create --keyfile="$key" >/dev/null
else
	dd if=/dev/urandom of="$key" bs=1 count=1024 status=none
fi
chmod 0600 "$key"
sock=$priv/munge/munge.socket.2
# --force: munged refuses to run as root without it. -F: stay in the
# foreground so that $! is the daemon's pid.
start_daemon munged munged -F --force --socket="$sock" --key-file="$key" \
	--pid-file="$priv/run/munged.pid" --log-file="$priv/log/munged.log" \
	--seed-file="$priv/munge/munged.seed"
for _ in $(seq 1 50); do
	[ -S "$sock" ] && break
	kill -0 "$munged_pid" 2>/dev/null || break
	sleep 0.1
done
if ! munge -n -S "$sock" | unmunge -S "$sock" >/dev/null 2>&1; then
	show_logs "$priv/log/munged.out"
	die "munged does not answer on $sock (munge -n | unmunge failed)"
fi
log "munged up (pid $munged_pid, socket $sock)"

# --- configuration ---------------------------------------------------------------

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { # first port from $1 on that nothing listens on
	local p=$1
	while port_busy "$p"; do p=$((p + 1)); done
	echo "$p"
}
ctld_port=$(free_port "${BATCHRUN_SLURM_PORT:-6817}")
slurmd_port=$(free_port $((ctld_port + 1)))

host=$(hostname -s 2>/dev/null || uname -n)
host=${host%%.*}
cpus=$(nproc)
mem_mb=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)

cat >"$SLURM_CONF" <<EOF
# Private single-host cluster written by scripts/test-slurm.sh.
ClusterName=batchrun-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$priv/state
SlurmdSpoolDir=$priv/spool
SlurmctldPidFile=$priv/run/slurmctld.pid
SlurmdPidFile=$priv/run/slurmd.pid
SlurmctldLogFile=$priv/log/slurmctld.log
SlurmdLogFile=$priv/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No systemd, no cgroups: track job processes through /proc, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SwitchType=switch/none
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
# Hand out single CPUs so that several array tasks run side by side.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# Start the next array tasks as soon as CPUs free up (the defaults wait ~3 s).
SchedulerParameters=sched_min_interval=0,batch_sched_delay=0
ReturnToService=2
# Trust the node line below instead of draining the node when the detected
# hardware (sockets, threads, memory) differs from it.
SlurmdParameters=config_overrides
MailProg=/bin/true
InactiveLimit=0
KillWait=5
MinJobAge=300
SlurmdTimeout=120
SlurmctldTimeout=120
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=batch Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

# --- 3. slurmctld and slurmd ------------------------------------------------------

# -D: foreground, so $! is the daemon's pid; -i: ignore (empty) saved state.
start_daemon slurmctld slurmctld -D -i -f "$SLURM_CONF"
cluster_up=1
for _ in $(seq 1 100); do
	scontrol ping 2>/dev/null | grep -q 'is UP' && break
	if ! kill -0 "$slurmctld_pid" 2>/dev/null; then
		show_logs "$priv/log/slurmctld.out"
		die "slurmctld exited at start"
	fi
	sleep 0.2
done
start_daemon slurmd slurmd -D -N "$host" -f "$SLURM_CONF"

state=''
for _ in $(seq 1 300); do
	state=$(sinfo -h -N -n "$host" -o '%T' 2>/dev/null || true)
	[ "$state" = idle ] && break
	if ! kill -0 "$slurmd_pid" 2>/dev/null || ! kill -0 "$slurmctld_pid" 2>/dev/null; then
		show_logs "$priv/log/slurmctld.out" "$priv/log/slurmd.out"
		die "a Slurm daemon exited at start (node state '$state')"
	fi
	sleep 0.2
done
if [ "$state" != idle ]; then
	sinfo -N -l >&2 || true
	show_logs "$priv/log/slurmctld.out" "$priv/log/slurmd.out"
	die "node $host not idle after 60 s (state '$state')"
fi
for name in munged slurmctld slurmd; do
	pidvar=${name}_pid
	comm=$(cat "/proc/${!pidvar}/comm" 2>/dev/null || true)
	[ "$comm" = "$name" ] || die "pid ${!pidvar} is '$comm', not $name: cannot stop it safely"
done
log "slurmctld (pid $slurmctld_pid, port $ctld_port) and slurmd (pid $slurmd_pid, port $slurmd_port) up; node $host idle with $cpus CPUs"

# submit_array NAME SCRIPT ARGS...: an array job of $shards tasks, polled until
# it is gone from the queue (sbatch --wait backs off to 32 s between polls),
# then every task must have COMPLETED with exit code 0.
submit_array() {
	local name=$1 jobid deadline=$((SECONDS + job_timeout)) bad
	shift
	log "sbatch --array=0-$((shards - 1)) $(basename "$1") (limit ${job_timeout} s)"
	jobid=$(sbatch --parsable --array="0-$((shards - 1))" --job-name="$name" \
		--chdir="$priv/jobs" --output="$priv/jobs/slurm-%A_%a.out" "$@")
	jobid=${jobid%%;*}
	while [ -n "$(squeue -h -j "$jobid" -o %i 2>/dev/null)" ]; do
		if ! kill -0 "$slurmctld_pid" 2>/dev/null || ! kill -0 "$slurmd_pid" 2>/dev/null || ! kill -0 "$munged_pid" 2>/dev/null; then
			show_logs "$priv/log/slurmctld.out" "$priv/log/slurmd.out" "$priv/log/munged.out" "$priv"/jobs/slurm-*.out
			die "a daemon (munged, slurmctld or slurmd) exited while array job $jobid ($name) ran"
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			squeue >&2 || true
			show_logs "$priv"/jobs/slurm-*.out
			die "array job $jobid ($name) still running after $job_timeout s"
		fi
		sleep 0.5
	done
	# One line per task: ... JobState=COMPLETED ... ExitCode=0:0 ...
	bad=$(scontrol -o show job "$jobid" | awk -v n="$shards" '
		{ tasks++; st = ""; ec = ""; id = "?"
		  for (i = 1; i <= NF; i++) {
			if ($i ~ /^ArrayTaskId=/) id = substr($i, 13)
			if ($i ~ /^JobState=/) st = substr($i, 10)
			if ($i ~ /^ExitCode=/) ec = substr($i, 10)
		  }
		  if (st != "COMPLETED" || ec != "0:0") printf "%stask %s: %s, exit code %s", (nbad++ ? "; " : ""), id, st, ec }
		END { if (tasks != n) printf "%s%d task records, want %d", (nbad ? "; " : ""), tasks, n }')
	if [ -n "$bad" ]; then
		show_logs "$priv"/jobs/slurm-*.out
		die "array job $jobid ($name) failed: $bad"
	fi
	log "array job $jobid: $shards tasks completed"
}

# --- 4a. self-test: the array variables and side-by-side tasks ----------------------

if [ "$selftest" != 0 ]; then
	out=$priv/selftest
	mkdir -p "$out"
	submit_array batchrun-selftest "$here/selftest-job.sh" "$out" 2
	fail=0
	for ((t = 0; t < shards; t++)); do
		f=$out/task-$t.txt
		if [ ! -f "$f" ]; then
			log "task $t wrote no $f"
			fail=1
			continue
		fi
		read -r id min count _ _ <"$f"
		if [ "$id $min $count" != "$t 0 $shards" ]; then
			log "task $t saw SLURM_ARRAY_TASK_ID/MIN/COUNT = $id/$min/$count, want $t/0/$shards"
			fail=1
		fi
	done
	[ "$fail" = 0 ] || {
		show_logs "$priv"/jobs/slurm-*.out
		die "self-test array job gave wrong results"
	}
	# Most tasks running at one moment (from start/end times).
	overlap=$(cat "$out"/task-*.txt | awk '{ print $4, 1; print $5, -1 }' | sort -k1,1g -k2,2n |
		awk '{ n += $2; if (n > m) m = n } END { print m + 0 }')
	want=$((cpus < shards ? cpus : shards))
	if [ "$overlap" -lt "$want" ]; then
		die "at most $overlap array tasks ran at once, want $want (1 CPU each, $cpus CPUs)"
	fi
	log "self-test: $shards tasks saw the right SLURM_ARRAY_TASK_ID/MIN/COUNT; up to $overlap ran at once"
	exit 0
fi

# --- 4b. the sweep, sharded and in one process ------------------------------------------

submit_array batchrun-sweep "$here/batchrun-array.sh" "$bin" "$spec" "$outdir"
log "batchrun merge $outdir"
"$bin" merge "$outdir"

log "batchrun run (one process) --out $refdir"
"$bin" run --out "$refdir" --quiet "$spec"

files=(trace.csv summary.csv)
[ -f "$refdir/eval.csv" ] && files+=(eval.csv)
differ=()
for f in "${files[@]}"; do
	if [ ! -f "$outdir/$f" ]; then
		log "$f: missing from the merged shards ($outdir)"
		differ+=("$f")
	elif ! cmp "$outdir/$f" "$refdir/$f"; then
		differ+=("$f")
	else
		log "$f: identical ($(wc -l <"$refdir/$f") lines)"
	fi
done
if [ "${#differ[@]}" -ne 0 ]; then
	for f in "${differ[@]}"; do
		if [ -f "$outdir/$f" ]; then
			echo "----- diff $f (sharded vs single, first 40 lines) -----" >&2
			diff "$outdir/$f" "$refdir/$f" | head -n 40 >&2 || true
		fi
	done
	die "sharded run under Slurm and single-process run differ in: ${differ[*]} (run again with KEEP=1 to keep the outputs)"
fi
log "sharded ($shards Slurm array tasks) and single-process results agree: ${files[*]}"
