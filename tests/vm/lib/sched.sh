# lib/sched.sh - helpers for scenarios that run a scheduler; source it with
# `. /scenarios/lib/sched.sh` (it sources lib/vm.sh, whose helpers it builds on).
#
#   start_sched NAME ARGS...   start NAME in the background, output in /tmp/NAME.log; sets SX_PID
#   attach_or_fail NAME ARGS... start_sched, then fail (with its log) unless NAME attaches in 5 s
#   attach_fresh NAME ARGS...  attach_or_fail, and fail unless it is the next attachment
#                              (enable_seq one up); sets SX_ATTACH_SEQ to that enable_seq
#   attach_loaded NAME ARGS... attach_or_fail, then start_load /tmp/load and let it run 1 s
#   for_each_sched FN NAMES... run FN NAME for each scheduler, under an "== NAME" header
#   signal_sched SIG           send SIG to it, wait for it to exit; sets SX_RC
#   sched_log NAME             print its output, indented
#   start_load DIR             start CPU hogs, a fork loop and sleepers counting into DIR
#   stop_load                  stop them
#   load_counts DIR            print "hog0 hog1 forks sleeps" counters
#   start_hogs                 one busy loop per CPU, their PIDs in HOG_PIDS
#   stop_hogs                  stop them
#   read_counter FILE          a counter loop's number in _sx_val (empty if it never appears)
#   rss_kb PID                 print VmRSS of PID in KiB
#   cpu_ms PID                 CPU time of PID in ms, from /proc/PID/schedstat
#   cpu_slices PID             times the kernel switched PID in, from /proc/PID/schedstat
#   migrations_of COMM         the migrations (se.nr_migrations) of the processes named COMM
#                              (cut to 15 characters) in _migr, their number in _workers
#   stats_counter NAME KEY     KEY=N of the last --stats line in NAME's log, into _n (fails
#                              with the log if there is none)
#   stats_sum NAME KEY [FROM]  KEY=N summed over the --stats lines of NAME's log (those after
#                              line FROM), into _sum: for stats lines that count what happened
#                              since the one before (scx_bpfland's)
#   still_attached NAME SEQ    0 when NAME is still the scheduler SX_PID attached as enable_seq
#                              SEQ (eevdf: none is attached); sets SX_ST, SX_OPS, SX_SEQ
#   SX_SCHEDULERS, SX_USERSPACE_SCHEDULERS, SX_FAIR_SCHEDULERS: the schedulers in the image

. /scenarios/lib/vm.sh

# The schedulers in the image, from the project's registry (/etc/scx-schedulers: NAME KIND
# FAIR per line, written by xtask): all of them; the user-space ones, which hold tasks in a
# process that can be stopped; the fair ones, which honour nice levels and affinity by policy.
SX_SCHEDULERS=
SX_USERSPACE_SCHEDULERS=
SX_FAIR_SCHEDULERS=
while read -r _sx_s _sx_kind _sx_fair; do
    [ -x "/usr/sbin/$_sx_s" ] || continue
    SX_SCHEDULERS="$SX_SCHEDULERS $_sx_s"
    [ "$_sx_kind" = user-space ] && SX_USERSPACE_SCHEDULERS="$SX_USERSPACE_SCHEDULERS $_sx_s"
    [ "$_sx_fair" = fair ] && SX_FAIR_SCHEDULERS="$SX_FAIR_SCHEDULERS $_sx_s"
done < /etc/scx-schedulers

start_sched() {
    _sx_name=$1
    shift
    "$_sx_name" "$@" > "/tmp/$_sx_name.log" 2>&1 &
    SX_PID=$!
}

attach_or_fail() {
    start_sched "$@"
    wait_attached "$1" 5 || { sched_log "$1"; fail "$1 did not attach within 5 s"; }
}

attach_fresh() {
    SX_ATTACH_SEQ=$(( $(cat "$SX_SYSFS/enable_seq") + 1 ))
    attach_or_fail "$@"
    wait_enable_seq "$SX_ATTACH_SEQ" 2 \
        || fail "enable_seq did not reach $SX_ATTACH_SEQ after attaching $1"
}

attach_loaded() {
    attach_or_fail "$@"
    start_load /tmp/load
    sleep 1
}

for_each_sched() {
    _sx_fn=$1
    shift
    for _sx_each in "$@"; do
        echo "== $_sx_each"
        "$_sx_fn" "$_sx_each"
    done
}

signal_sched() {
    kill -"$1" "$SX_PID"
    wait "$SX_PID"
    SX_RC=$?
}

sched_log() {
    echo "--- $1 output ---"
    sed 's/^/    /' "/tmp/$1.log"
    echo "---"
}

_sx_counter_loop() {
    # $1: counter file, $2: what to do each iteration, $3: iterations between writes
    _c=0
    while :; do
        eval "$2"
        _c=$((_c + 1))
        if [ $((_c % $3)) -eq 0 ]; then
            echo "$_c" > "$1"
        fi
    done
}

SX_LOAD_PIDS=
start_load() {
    mkdir -p "$1"
    for f in hog0 hog1 forks sleeps; do echo 0 > "$1/$f"; done
    _sx_counter_loop "$1/hog0" ":" 500 &
    SX_LOAD_PIDS="$SX_LOAD_PIDS $!"
    _sx_counter_loop "$1/hog1" ":" 500 &
    SX_LOAD_PIDS="$SX_LOAD_PIDS $!"
    _sx_counter_loop "$1/forks" "/bin/true" 1 &
    SX_LOAD_PIDS="$SX_LOAD_PIDS $!"
    _sx_counter_loop "$1/sleeps" "usleep 20000" 1 &
    SX_LOAD_PIDS="$SX_LOAD_PIDS $!"
}

stop_load() {
    # shellcheck disable=SC2086
    kill $SX_LOAD_PIDS 2>/dev/null
    # shellcheck disable=SC2086
    wait $SX_LOAD_PIDS 2>/dev/null
    SX_LOAD_PIDS=
}

HOG_PIDS=
start_hogs() {
    _i=0
    while [ "$_i" -lt "$(nproc)" ]; do
        sh -c 'while :; do :; done' &
        HOG_PIDS="$HOG_PIDS $!"
        _i=$((_i + 1))
    done
}

stop_hogs() {
    # shellcheck disable=SC2086
    kill $HOG_PIDS 2>/dev/null
    # shellcheck disable=SC2086
    wait $HOG_PIDS 2>/dev/null
    HOG_PIDS=
}

# A writer truncates before it writes: retry a read that catches the file empty (for up to 2 s:
# a writer starved by higher-class tasks writes only in its CPU's sched_ext turns).
read_counter() {
    _try=0
    _sx_read "$1"
    while [ -z "$_sx_val" ] && [ $_try -lt 100 ]; do
        usleep 20000
        _sx_read "$1"
        _try=$((_try + 1))
    done
}

load_counts() {
    _out=
    for f in hog0 hog1 forks sleeps; do
        read_counter "$1/$f"
        _out="$_out ${_sx_val:-0}"
    done
    echo $_out
}

# progressed "A0 B0 C0 D0" "A1 B1 C1 D1": fail unless every counter grew
progressed() {
    set -- $1 $2
    _names="hog0 hog1 forks sleeps"
    _i=1
    for n in $_names; do
        eval "_a=\${$_i}"
        eval "_b=\${$((_i + 4))}"
        [ "$_b" -gt "$_a" ] || fail "$n made no progress ($_a -> $_b)"
        _i=$((_i + 1))
    done
}

still_attached() {
    _sx_read "$SX_SYSFS/state"
    SX_ST=$_sx_val
    _sx_read "$SX_SYSFS/root/ops"
    SX_OPS=$_sx_val
    _sx_read "$SX_SYSFS/enable_seq"
    SX_SEQ=$_sx_val
    if [ "$1" = eevdf ]; then
        [ "$SX_ST" = disabled ]
        return
    fi
    [ "$SX_ST" = enabled ] && [ "$SX_OPS" = "$1" ] && [ "$SX_SEQ" = "$2" ] \
        && kill -0 "$SX_PID" 2>/dev/null
}

rss_kb() {
    while read -r _k _v _u; do
        [ "$_k" = "VmRSS:" ] && echo "$_v"
    done < "/proc/$1/status"
}

# cpu_ticks PID: user + system time of PID in clock ticks
cpu_ticks() {
    read -r _l < "/proc/$1/stat"
    # Drop "pid (comm) " so field numbers don't depend on spaces in comm.
    _l=${_l##*) }
    set -- $_l
    echo $(( ${12} + ${13} ))
}

# cpu_ms PID: CPU time of PID in milliseconds, from the scheduler's own ns accounting
cpu_ms() {
    read -r _ns _rest < "/proc/$1/schedstat"
    echo $(( _ns / 1000000 ))
}

# cpu_slices PID: how many times the kernel switched PID in (a task kept running is not counted)
cpu_slices() {
    read -r _ns _delay _slices _rest < "/proc/$1/schedstat"
    echo "$_slices"
}

# Shell builtins only: a process forked per reading (sed in a command substitution) wakes on a
# busy CPU and displaces a worker, so the reading would add to what it reads.
migrations_of() {
    _migr=0
    _workers=0
    for _d in /proc/[0-9]*; do
        read -r _comm < "$_d/comm" 2>/dev/null || continue
        [ "$_comm" = "$1" ] || continue
        while read -r _key _colon _n; do
            [ "$_key" = se.nr_migrations ] || continue
            _migr=$((_migr + _n))
            _workers=$((_workers + 1))
            break
        done < "$_d/sched" 2>/dev/null
    done
}

stats_counter() {
    _n=$(grep '^.*stats: ' "/tmp/$1.log" | tail -n 1 | sed -n "s/.* $2=\([0-9]*\).*/\1/p")
    [ -n "$_n" ] || { sched_log "$1"; fail "$1: no $2= in its stats line"; }
}

stats_sum() {
    _sum=0
    for _v in $(tail -n "+$((${3:-0} + 1))" "/tmp/$1.log" | sed -n "s/.*stats: .* $2=\([0-9]*\).*/\1/p"); do
        _sum=$((_sum + _v))
    done
}
