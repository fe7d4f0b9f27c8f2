complete -c scx_rustland -s s -l slice-us -d 'Longest time slice, in microseconds, given when few tasks wait' -r
complete -c scx_rustland -s S -l slice-us-min -d 'Shortest time slice, in microseconds, given when many tasks wait' -r
complete -c scx_rustland -l profile -d 'A set of the tunables above for one kind of work; options given explicitly override it' -r -f -a "gaming\t'--slice-us 10000 --slice-us-min 2000: a frame loop\'s bursts of up to 2 ms count as short, so its wakeups preempt CPU hogs or wait behind the thread that woke them, decided in BPF'
lowlatency\t'--slice-us 2000 --slice-us-min 250: every task runs within a few ms, at the cost of more context switches and more of this scheduler\'s own CPU time'
server\t'--slice-us 20000 --slice-us-min 2000 --no-wakeup-preempt: long slices and no preemption, for throughput with a bounded wait'"
complete -c scx_rustland -l stats -d 'Print a one-line stats summary every SECS seconds (0 disables it)' -r
complete -c scx_rustland -l generate -d 'Write a man page or a shell completion script to stdout and exit' -r -f -a "man\t'A man page (roff)'
complete-bash\t'A bash completion script'
complete-zsh\t'A zsh completion script'
complete-fish\t'A fish completion script'"
complete -c scx_rustland -l no-wakeup-preempt -d 'Waking tasks never preempt the task on their CPU: they wait for a free one in deadline order like every other task'
complete -c scx_rustland -s p -l partial -d 'Schedule only tasks that opted in with SCHED_EXT; all others stay on the default scheduler'
complete -c scx_rustland -l check-args -d 'Check the options and exit without attaching (used by scx-loader to validate flags)'
complete -c scx_rustland -l list-profiles -d 'Print the names of this scheduler\'s `--profile` values, one per line, and exit (used by scx-loader)'
complete -c scx_rustland -s v -l verbose -d 'Log more: -v adds debug messages, -vv also libbpf\'s own'
complete -c scx_rustland -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scx_rustland -s V -l version -d 'Print version'
