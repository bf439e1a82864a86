//! What the grader does around every test process besides the file-system guard (sandbox.rs):
//! it becomes a "child subreaper", so that processes a test starts and abandons (a double
//! fork, `setsid`) are re-parented to the grader instead of escaping to init, and it kills and
//! reaps them after each test; and when it runs as root, test processes start without any
//! capability (empty bounding set, root's special treatment at `exec` switched off and
//! locked, no new privileges), so uid 0 in a test is an ordinary user to the kernel's checks.

use std::collections::BTreeSet;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Once;

/// Makes this process the reaper of its orphaned descendants (once; best effort).
pub fn become_subreaper() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) takes integer arguments only and changes an
        // attribute of this process; it touches no memory of ours.
        unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0);
        }
    });
}

/// The pids of this process's children (from /proc).
pub fn children() -> BTreeSet<libc::pid_t> {
    let me = std::process::id() as libc::pid_t;
    let mut kids = BTreeSet::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return kids;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<libc::pid_t>().ok());
        if ppid == Some(me) {
            kids.insert(pid);
        }
    }
    kids
}

/// Kills and reaps every child of this process that is not in `keep`, until none is left (a
/// killed process's own children are re-parented to us and go in the next round). Returns how
/// many it killed.
pub fn reap_strays(keep: &BTreeSet<libc::pid_t>) -> usize {
    let mut killed = 0;
    for _ in 0..1000 {
        let strays: Vec<libc::pid_t> = children().difference(keep).copied().collect();
        if strays.is_empty() {
            break;
        }
        for pid in strays {
            // SAFETY: kill(2) and waitpid(2) take integers and a null status pointer; `pid` is
            // a child of ours (so it cannot be reused before we reap it), not in `keep`.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
            killed += 1;
        }
    }
    killed
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Makes `cmd` start without capabilities when we are root: after fork, before exec, the child
/// sets `SECBIT_NOROOT` (exec gives uid 0 no capabilities) and locks it, clears the ambient
/// set, empties the bounding set and sets no-new-privileges. A failure stops the test from
/// starting (the spawn fails) rather than letting it run with root's powers.
pub fn drop_root_powers(cmd: &mut Command) {
    if !is_root() {
        return;
    }
    const SECBITS: libc::c_ulong = (libc::SECBIT_NOROOT
        | libc::SECBIT_NOROOT_LOCKED
        | libc::SECBIT_NO_CAP_AMBIENT_RAISE
        | libc::SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED)
        as libc::c_ulong;
    let hook = || {
        let check = |r: libc::c_int| -> io::Result<()> {
            if r == 0 {
                Ok(())
            } else {
                Err(io::Error::last_os_error())
            }
        };
        // SAFETY: prctl(2) with integer arguments only; this runs in the forked child before
        // exec and makes nothing but system calls (no allocation, no locks).
        unsafe {
            check(libc::prctl(libc::PR_SET_SECUREBITS, SECBITS, 0, 0, 0))?;
            check(libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                0,
                0,
                0,
            ))?;
            for cap in 0..64 as libc::c_ulong {
                // EINVAL: past the last capability this kernel knows.
                if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0
                    && io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL)
                {
                    return Err(io::Error::last_os_error());
                }
            }
            check(libc::prctl(
                libc::PR_SET_NO_NEW_PRIVS,
                1 as libc::c_ulong,
                0,
                0,
                0,
            ))?;
        }
        Ok(())
    };
    // SAFETY: the hook only makes prctl system calls (see above).
    unsafe {
        cmd.pre_exec(hook);
    }
}

/// The note for a grade run as root.
pub fn root_note() -> Option<&'static str> {
    is_root().then_some(
        "grading as root: test processes start with no capabilities (empty bounding set, \
         SECBIT_NOROOT, no new privileges), but an unprivileged user or a container is safer",
    )
}
