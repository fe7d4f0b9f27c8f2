complete -c scx_rlfifo -s s -l slice-us -d 'Longest time slice, in microseconds, given when few tasks wait' -r
complete -c scx_rlfifo -s S -l slice-us-min -d 'Shortest time slice, in microseconds, given when many tasks wait' -r
complete -c scx_rlfifo -l stats -d 'Print a one-line stats summary every SECS seconds (0 disables it)' -r
complete -c scx_rlfifo -l generate -d 'Write a man page or a shell completion script to stdout and exit' -r -f -a "man\t'A man page (roff)'
complete-bash\t'A bash completion script'
complete-zsh\t'A zsh completion script'
complete-fish\t'A fish completion script'"
complete -c scx_rlfifo -s p -l partial -d 'Schedule only tasks that opted in with SCHED_EXT; all others stay on the default scheduler'
complete -c scx_rlfifo -l check-args -d 'Check the options and exit without attaching (used by scx-loader to validate flags)'
complete -c scx_rlfifo -l list-profiles -d 'Print the names of this scheduler\'s `--profile` values, one per line, and exit (used by scx-loader)'
complete -c scx_rlfifo -s v -l verbose -d 'Log more: -v adds debug messages, -vv also libbpf\'s own'
complete -c scx_rlfifo -s h -l help -d 'Print help'
complete -c scx_rlfifo -s V -l version -d 'Print version'
