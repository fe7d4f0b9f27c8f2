//! vmtool: workloads and probes for the VM scenarios that busybox cannot provide.
//!
//! - `vmtool threads N`: spawn N short-lived threads at once, wait for all, print how long it took;
//! - `vmtool ext CMD [ARGS...]`: run CMD with the SCHED_EXT policy (opting in to a partial-mode
//!   sched_ext scheduler);
//! - `vmtool policy PID`: print the scheduling policy of PID (0 normal, 7 ext);
//! - `vmtool drain BYTES MS`: shrink the pipe on stdin to one page, then read at most BYTES from
//!   it every MS milliseconds until end of file, copying it to stdout (a slow log reader that its writer fills up);
//! - `vmtool calibrate`: print the busy-work steps per microsecond of one CPU with every CPU busy;
//! - `vmtool frames --rate R [...]`: a game-like frame loop beside a build (see frames.rs);
//! - `vmtool requests --rate R [...]`: a schbench-style request server (see requests.rs);
//! - `vmtool duty [...]`: fixed periodic work and each CPU's idle share (see duty.rs).

mod duty;
mod frames;
mod requests;
mod work;

use std::ffi::CString;
use std::process::ExitCode;
use std::time::Instant;

/// `SCHED_EXT` from include/uapi/linux/sched.h.
const SCHED_EXT: libc::c_int = 7;

fn usage() -> ExitCode {
    eprintln!(
        "usage: vmtool threads N | vmtool ext CMD [ARGS...] | vmtool policy PID | vmtool drain BYTES MS\n       \
         vmtool calibrate | vmtool frames --rate R [OPTIONS] | vmtool requests --rate R [OPTIONS]\n       \
         vmtool duty [OPTIONS]"
    );
    ExitCode::from(2)
}

fn threads(n: usize) -> ExitCode {
    let start = Instant::now();
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let spawned = std::thread::Builder::new().spawn(move || {
            // A little work, so each thread really runs before it exits.
            let mut x = i as u64;
            for _ in 0..20_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
            std::hint::black_box(x);
        });
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                eprintln!("vmtool: spawning thread {i}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let mut done = 0;
    for h in handles {
        if h.join().is_ok() {
            done += 1;
        }
    }
    println!(
        "threads={n} finished={done} ms={}",
        start.elapsed().as_millis()
    );
    if done == n {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn ext(args: &[String]) -> ExitCode {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: plain system call on the calling process with a valid parameter block.
    if unsafe { libc::sched_setscheduler(0, SCHED_EXT, &param) } != 0 {
        eprintln!(
            "vmtool: sched_setscheduler(SCHED_EXT): {}",
            std::io::Error::last_os_error()
        );
        return ExitCode::FAILURE;
    }
    let cargs: Result<Vec<CString>, _> = args.iter().map(|a| CString::new(a.as_str())).collect();
    let Ok(cargs) = cargs else {
        return usage();
    };
    let mut argv: Vec<*const libc::c_char> = cargs.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    // SAFETY: argv is a NULL-terminated array of valid C strings that outlive the call.
    unsafe { libc::execvp(argv[0], argv.as_ptr()) };
    eprintln!(
        "vmtool: exec {}: {}",
        args[0],
        std::io::Error::last_os_error()
    );
    ExitCode::FAILURE
}

fn policy(pid: i32) -> ExitCode {
    // SAFETY: plain system call; returns -1 on error.
    let p = unsafe { libc::sched_getscheduler(pid) };
    if p < 0 {
        eprintln!(
            "vmtool: sched_getscheduler({pid}): {}",
            std::io::Error::last_os_error()
        );
        return ExitCode::FAILURE;
    }
    println!("{p}");
    ExitCode::SUCCESS
}

fn drain(bytes: usize, ms: u64) -> ExitCode {
    // SAFETY: fcntl on our own stdin; a non-pipe stdin only makes it fail.
    if unsafe { libc::fcntl(0, libc::F_SETPIPE_SZ, 4096) } < 0 {
        eprintln!(
            "vmtool: drain: F_SETPIPE_SZ on stdin: {}",
            std::io::Error::last_os_error()
        );
        return ExitCode::FAILURE;
    }
    let mut buf = vec![0u8; bytes.max(1)];
    loop {
        match std::io::Read::read(&mut std::io::stdin().lock(), &mut buf) {
            Ok(0) => return ExitCode::SUCCESS,
            Ok(n) => {
                if let Err(e) = std::io::Write::write_all(&mut std::io::stdout().lock(), &buf[..n])
                {
                    eprintln!("vmtool: drain: writing stdout: {e}");
                    return ExitCode::FAILURE;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                eprintln!("vmtool: drain: reading stdin: {e}");
                return ExitCode::FAILURE;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("threads") => match args.get(1).and_then(|n| n.parse().ok()) {
            Some(n) => threads(n),
            None => usage(),
        },
        Some("ext") if args.len() > 1 => ext(&args[1..]),
        Some("policy") => match args.get(1).and_then(|n| n.parse().ok()) {
            Some(pid) => policy(pid),
            None => usage(),
        },
        Some("drain") => match (
            args.get(1).and_then(|n| n.parse().ok()),
            args.get(2).and_then(|n| n.parse().ok()),
        ) {
            (Some(bytes), Some(ms)) => drain(bytes, ms),
            _ => usage(),
        },
        Some("calibrate") if args.len() == 1 => {
            println!("{:.3}", work::calibrate());
            ExitCode::SUCCESS
        }
        Some("frames") => workload("frames", frames::run(&args[1..])),
        Some("requests") => workload("requests", requests::run(&args[1..])),
        Some("duty") => workload("duty", duty::run(&args[1..])),
        _ => usage(),
    }
}

fn workload(name: &str, result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vmtool {name}: {e}");
            ExitCode::FAILURE
        }
    }
}
