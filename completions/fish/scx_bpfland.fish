complete -c scx_bpfland -s s -l slice-us -d 'Longest time slice, in microseconds, given when few tasks wait' -r
complete -c scx_bpfland -s S -l slice-us-min -d 'Shortest time slice, in microseconds, given when many tasks wait' -r
complete -c scx_bpfland -s l -l slice-us-lag -d 'How far, in microseconds, a waking task\'s virtual runtime may lag behind, and the cap on the recent runtime that pushes its deadline back' -r
complete -c scx_bpfland -l profile -d 'A set of the tunables above for one kind of work; options given explicitly override it' -r -f -a "gaming\t'--slice-us 5000 --slice-us-min 500 --slice-us-lag 10000: a frame loop\'s short bursts wait at most a few ms behind CPU hogs, and its wakeups preempt them'
lowlatency\t'--slice-us 2000 --slice-us-min 100 --slice-us-lag 5000: every wakeup runs within a slice of 2 ms or less, at the cost of more context switches'
server\t'--slice-us 20000 --slice-us-min 2000 --slice-us-lag 40000 --no-wakeup-preempt: long slices and no preemption, for throughput with a bounded wait'
powersave\t'--pack --slice-us 20000 --slice-us-min 2000: the same work on the fewest CPUs that keep up, with long slices, so the other CPUs stay idle in their deepest sleep states'
hpc\t'--sticky --slice-us 40000 --slice-us-min 5000 --slice-us-lag 80000 --no-wakeup-preempt: long CPU-bound parallel jobs keep their CPUs and caches, with few context switches'"
complete -c scx_bpfland -l stats -d 'Print a one-line stats summary every SECS seconds (0 disables it)' -r
complete -c scx_bpfland -l generate -d 'Write a man page or a shell completion script to stdout and exit' -r -f -a "man\t'A man page (roff)'
complete-bash\t'A bash completion script'
complete-zsh\t'A zsh completion script'
complete-fish\t'A fish completion script'"
complete -c scx_bpfland -l no-smt-aware -d 'Treat SMT siblings as independent CPUs when looking for an idle one'
complete -c scx_bpfland -l no-wakeup-preempt -d 'Interactive wakeups never preempt the task on their CPU: they wait in the queue by deadline like every other task (and a woken per-CPU kernel thread waits for the end of its CPU\'s slice)'
complete -c scx_bpfland -l pack -d 'Run the work on as few CPUs as keep up with it, the slowest first, and leave the others idle: the set grows when its CPUs are over 90 % busy or tasks keep waiting over 10 ms for one (for 0.4 s), and, after a second in which the work fits on fewer at 85 %, shrinks to that many'
complete -c scx_bpfland -l sticky -d 'A task that was preempted or used up its slice goes back to its own CPU while nothing waits, or behind the waiting task its CPU just took; queued, its own CPU takes it first and the others leave it there for a slice, or while a real-time task holds its CPU: no migration while it keeps its CPU busy (tasks that wait still share the CPUs, and two that would take turns on one CPU split up while another CPU idles)'
complete -c scx_bpfland -s p -l partial -d 'Schedule only tasks that opted in with SCHED_EXT; all others stay on the default scheduler'
complete -c scx_bpfland -l check-args -d 'Check the options and exit without attaching (used by scx-loader to validate flags)'
complete -c scx_bpfland -l list-profiles -d 'Print the names of this scheduler\'s `--profile` values, one per line, and exit (used by scx-loader)'
complete -c scx_bpfland -s v -l verbose -d 'Log more: -v adds debug messages, -vv also libbpf\'s own'
complete -c scx_bpfland -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scx_bpfland -s V -l version -d 'Print version'
