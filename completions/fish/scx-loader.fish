# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_scx_loader_global_optspecs
    string join \n v/verbose generate= h/help V/version
end

function __fish_scx_loader_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_scx_loader_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_scx_loader_using_subcommand
    set -l cmd (__fish_scx_loader_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c scx-loader -n "__fish_scx_loader_needs_command" -l generate -d 'Write a man page or a shell completion script to stdout and exit' -r -f -a "man\t'A man page (roff)'
complete-bash\t'A bash completion script'
complete-zsh\t'A zsh completion script'
complete-fish\t'A fish completion script'"
complete -c scx-loader -n "__fish_scx_loader_needs_command" -s v -l verbose -d 'Log more: -v adds debug messages'
complete -c scx-loader -n "__fish_scx_loader_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scx-loader -n "__fish_scx_loader_needs_command" -s V -l version -d 'Print version'
complete -c scx-loader -n "__fish_scx_loader_needs_command" -f -a "run" -d 'Run the configured scheduler as a service (what scx.service starts)'
complete -c scx-loader -n "__fish_scx_loader_needs_command" -f -a "check" -d 'Check whether this machine can run the configured scheduler; exit 0 only if a start would work'
complete -c scx-loader -n "__fish_scx_loader_needs_command" -f -a "status" -d 'Show what the kernel runs and whether it is the configured scheduler (with SCX_PROFILE=auto, also the profile the service chose and why)'
complete -c scx-loader -n "__fish_scx_loader_needs_command" -f -a "monitor" -d 'Print the service\'s state from the bus (org.scx.Loader), then each change it announces (PropertiesChanged) as a line, until interrupted'
complete -c scx-loader -n "__fish_scx_loader_needs_command" -f -a "list" -d 'List the installed schedulers'
complete -c scx-loader -n "__fish_scx_loader_needs_command" -f -a "reload" -d 'Ask the running service to reload its configuration and wait for the outcome (what `systemctl reload scx` runs); exit 0 only if the new configuration runs'
complete -c scx-loader -n "__fish_scx_loader_needs_command" -f -a "set" -d 'Choose the scheduler (and its flags) in the configuration, then reload the service if it runs'
complete -c scx-loader -n "__fish_scx_loader_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand run" -l config -d 'The configuration file [default: /etc/default/scx; $SNAP_DATA/scx when run from the snap]' -r -F
complete -c scx-loader -n "__fish_scx_loader_using_subcommand run" -l attach-timeout -d 'Seconds a scheduler may take to attach' -r
complete -c scx-loader -n "__fish_scx_loader_using_subcommand run" -l stop-timeout -d 'Seconds a scheduler may take to exit after SIGTERM before it is killed' -r
complete -c scx-loader -n "__fish_scx_loader_using_subcommand run" -l max-failures -d 'Failures within --failure-window before falling back or giving up' -r
complete -c scx-loader -n "__fish_scx_loader_using_subcommand run" -l failure-window -d 'The window, in seconds, in which failures are counted' -r
complete -c scx-loader -n "__fish_scx_loader_using_subcommand run" -l backoff-ms -d 'First restart delay in milliseconds (doubled for each further failure)' -r
complete -c scx-loader -n "__fish_scx_loader_using_subcommand run" -s v -l verbose -d 'Log more: -v adds debug messages'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand check" -l config -d 'The configuration file [default: /etc/default/scx; $SNAP_DATA/scx when run from the snap]' -r -F
complete -c scx-loader -n "__fish_scx_loader_using_subcommand check" -l json -d 'Print JSON instead of text'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand check" -s v -l verbose -d 'Log more: -v adds debug messages'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand check" -s h -l help -d 'Print help'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand status" -l config -d 'The configuration file [default: /etc/default/scx; $SNAP_DATA/scx when run from the snap]' -r -F
complete -c scx-loader -n "__fish_scx_loader_using_subcommand status" -l json -d 'Print JSON instead of text'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand status" -s v -l verbose -d 'Log more: -v adds debug messages'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand status" -s h -l help -d 'Print help'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand monitor" -l json -d 'Print JSON instead of text'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand monitor" -s v -l verbose -d 'Log more: -v adds debug messages'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand monitor" -s h -l help -d 'Print help'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand list" -l json -d 'Print JSON instead of text'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand list" -s v -l verbose -d 'Log more: -v adds debug messages'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand list" -s h -l help -d 'Print help'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand reload" -l pid -d 'The service\'s main process (default: the MainPID systemd reports for scx)' -r
complete -c scx-loader -n "__fish_scx_loader_using_subcommand reload" -l timeout -d 'Seconds to wait for the outcome' -r
complete -c scx-loader -n "__fish_scx_loader_using_subcommand reload" -s v -l verbose -d 'Log more: -v adds debug messages'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand reload" -s h -l help -d 'Print help'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand set" -l flags -d 'The scheduler\'s flags, as one string ("--slice-us 5000")' -r
complete -c scx-loader -n "__fish_scx_loader_using_subcommand set" -l profile -d 'The workload profile (SCX_PROFILE; see scx(5)), or auto to follow the power state; "" for the scheduler\'s defaults. Alone, it keeps the configured scheduler and flags' -r
complete -c scx-loader -n "__fish_scx_loader_using_subcommand set" -l config -d 'The configuration file [default: /etc/default/scx; $SNAP_DATA/scx when run from the snap]' -r -F
complete -c scx-loader -n "__fish_scx_loader_using_subcommand set" -l no-reload -d 'Only write the file; do not reload the service'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand set" -s v -l verbose -d 'Log more: -v adds debug messages'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand set" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand help; and not __fish_seen_subcommand_from run check status monitor list reload set help" -f -a "run" -d 'Run the configured scheduler as a service (what scx.service starts)'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand help; and not __fish_seen_subcommand_from run check status monitor list reload set help" -f -a "check" -d 'Check whether this machine can run the configured scheduler; exit 0 only if a start would work'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand help; and not __fish_seen_subcommand_from run check status monitor list reload set help" -f -a "status" -d 'Show what the kernel runs and whether it is the configured scheduler (with SCX_PROFILE=auto, also the profile the service chose and why)'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand help; and not __fish_seen_subcommand_from run check status monitor list reload set help" -f -a "monitor" -d 'Print the service\'s state from the bus (org.scx.Loader), then each change it announces (PropertiesChanged) as a line, until interrupted'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand help; and not __fish_seen_subcommand_from run check status monitor list reload set help" -f -a "list" -d 'List the installed schedulers'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand help; and not __fish_seen_subcommand_from run check status monitor list reload set help" -f -a "reload" -d 'Ask the running service to reload its configuration and wait for the outcome (what `systemctl reload scx` runs); exit 0 only if the new configuration runs'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand help; and not __fish_seen_subcommand_from run check status monitor list reload set help" -f -a "set" -d 'Choose the scheduler (and its flags) in the configuration, then reload the service if it runs'
complete -c scx-loader -n "__fish_scx_loader_using_subcommand help; and not __fish_seen_subcommand_from run check status monitor list reload set help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
