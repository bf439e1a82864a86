//! Refuses, before anything is built, learner files that reach for escape hatches no lesson
//! needs: code the linker or loader runs outside the tests (a constructor in `.init_array`),
//! ending the process behind the test harness's back, reading the harness's command line,
//! changing the environment the test tools read, system calls by number, `/proc`, starting
//! processes, inline assembly. `grade` runs learner code on the instructor's machine; this is
//! one layer of several (see README, "What a grade promises"), and it can be fooled by code
//! determined enough, but it stops the known ways to forge a verdict from plain Rust.
//!
//! The file is split into tokens (`proc-macro2`), so comments do not count and string literals
//! are not identifiers; a `macro_rules!` body is tokens like any other and is scanned too.

use std::path::Path;
use std::str::FromStr;

use proc_macro2::{Delimiter, TokenStream, TokenTree};

use crate::Result;
use crate::course::{Course, Lesson};
use crate::ui::{BAD, CMD, HEAD, paint};

/// Set to `1` to skip this scan (tests of the defences behind it).
pub const DISABLE_VAR: &str = "XTASK_NO_SCAN";

/// One refused token.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The file, as given to [`scan`].
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What was found.
    pub token: String,
    /// Why it is refused.
    pub why: &'static str,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: `{}`: {}",
            self.file, self.line, self.token, self.why
        )
    }
}

const LINKER: &str = "places code or data where the linker or loader decides when it runs (a \
                      constructor before `main`, a symbol that replaces another), outside the tests";
const ASM: &str = "inline assembly: it can do anything a system call can, around every other check";
const EXIT: &str = "ends the process, or runs code as it ends, behind the test harness's back: a \
                    verdict must come from the harness (a panic is the way to fail)";
const BY_NAME: &str = "reaches system or library functions by number or by name at run time, \
                       around this check";
const ARGS: &str = "reads the test harness's command line (where its report goes)";
const ENV: &str = "changes the process's environment, which configures the test tools while \
                   they run (insta reads INSTA_* at each assertion)";
const PROC: &str = "reads the process's internals through /proc (its command line, its memory)";
const PROCESSES: &str = "starts or controls other processes";
const INCLUDE: &str = "pulls text from another file into this one, past the files the grader takes";

/// Identifiers refused wherever they appear (after `r#`).
fn always(ident: &str) -> Option<&'static str> {
    Some(match ident {
        "link_section" | "export_name" | "no_mangle" => LINKER,
        "asm" | "global_asm" | "naked_asm" => ASM,
        "exit" | "_exit" | "_Exit" | "exit_group" | "quick_exit" | "pthread_exit" | "atexit"
        | "on_exit" | "at_quick_exit" => EXIT,
        "syscall" | "dlsym" | "dlvsym" | "dlopen" => BY_NAME,
        "args_os" => ARGS,
        "set_var" | "remove_var" => ENV,
        "fork" | "vfork" | "clone3" | "execv" | "execve" | "execvp" | "execvpe" | "execl"
        | "execlp" | "execle" | "fexecve" | "posix_spawn" | "posix_spawnp" | "setsid"
        | "ptrace" | "prctl" | "CommandExt" => PROCESSES,
        _ => return None,
    })
}

#[derive(Debug)]
enum Tok {
    Ident(String, usize),
    Punct(char),
    Lit(String, usize),
    Open(Delimiter, bool),
    Close,
}

/// Flattens `stream`; `attr`: inside an attribute's brackets.
fn flatten(stream: TokenStream, attr: bool, out: &mut Vec<Tok>) {
    let mut prev_hash = false;
    let mut prev_hash_bang = false;
    for tree in stream {
        let line = tree.span().start().line;
        match tree {
            TokenTree::Group(g) => {
                let is_attr =
                    attr || (g.delimiter() == Delimiter::Bracket && (prev_hash || prev_hash_bang));
                out.push(Tok::Open(g.delimiter(), is_attr));
                flatten(g.stream(), is_attr, out);
                out.push(Tok::Close);
                prev_hash = false;
                prev_hash_bang = false;
            }
            TokenTree::Ident(i) => {
                let s = i.to_string();
                let s = s.strip_prefix("r#").unwrap_or(&s).to_string();
                out.push(Tok::Ident(s, line));
                prev_hash = false;
                prev_hash_bang = false;
            }
            TokenTree::Punct(p) => {
                let c = p.as_char();
                prev_hash_bang = prev_hash && c == '!';
                prev_hash = c == '#';
                out.push(Tok::Punct(c));
            }
            TokenTree::Literal(l) => {
                out.push(Tok::Lit(l.to_string(), line));
                prev_hash = false;
                prev_hash_bang = false;
            }
        }
    }
}

/// Scans the text of one learner file; `file` names it in the messages.
pub fn scan(file: &str, text: &str) -> Vec<Refusal> {
    let stream = match TokenStream::from_str(text) {
        Ok(s) => s,
        Err(e) => {
            return vec![Refusal {
                file: file.to_string(),
                line: e.span().start().line,
                token: "(unreadable)".into(),
                why: "the file is not valid Rust tokens (an unclosed bracket or string?), so it \
                      cannot be checked; fix it so that it compiles",
            }];
        }
    };
    let mut toks = Vec::new();
    flatten(stream, false, &mut toks);
    // Whether each Open is an attribute, to know, at every token, if we are inside one.
    let mut attr_stack: Vec<bool> = Vec::new();
    let mut found = Vec::new();
    let punct = |i: usize, c: char| matches!(toks.get(i), Some(Tok::Punct(p)) if *p == c);
    let ident = |i: usize, s: &str| matches!(toks.get(i), Some(Tok::Ident(x, _)) if x == s);
    // `a :: b`: the token before `b`'s `::` (two puncts `:`).
    let path_sep_before = |i: usize| i >= 2 && punct(i - 1, ':') && punct(i - 2, ':');
    for (i, tok) in toks.iter().enumerate() {
        let mut refuse = |token: &str, line: usize, why: &'static str| {
            found.push(Refusal {
                file: file.to_string(),
                line,
                token: token.to_string(),
                why,
            })
        };
        match tok {
            Tok::Open(_, is_attr) => attr_stack.push(*is_attr),
            Tok::Close => {
                attr_stack.pop();
            }
            Tok::Lit(text, line) => {
                if let Some(at) = text.find("/proc")
                    && matches!(text[at + 5..].chars().next(), Some('/' | '"'))
                {
                    refuse("/proc/", *line, PROC);
                }
            }
            Tok::Punct(_) => {}
            Tok::Ident(name, line) => {
                let in_attr = attr_stack.last().copied().unwrap_or(false);
                let open_paren =
                    matches!(toks.get(i + 1), Some(Tok::Open(Delimiter::Parenthesis, ..)));
                let after_dot = i >= 1 && punct(i - 1, '.');
                let after_fn = i >= 1 && ident(i - 1, "fn");
                let why = always(name)
                    .or_else(|| (in_attr && (name == "used" || name == "naked")).then_some(LINKER))
                    .or_else(|| {
                        // `std::env::args()`, `use std::env::args`, `args()` after a glob import
                        // (a method `.args(...)` or a function of one's own called `args` is fine).
                        (name == "args"
                            && (path_sep_before(i) || (open_paren && !after_dot && !after_fn)))
                            .then_some(ARGS)
                    })
                    .or_else(|| {
                        (name == "Command"
                            && i >= 3
                            && path_sep_before(i)
                            && ident(i - 3, "process"))
                        .then_some(PROCESSES)
                    })
                    .or_else(|| {
                        (name == "exec" && (after_dot || path_sep_before(i))).then_some(PROCESSES)
                    })
                    .or_else(|| {
                        (matches!(name.as_str(), "include" | "include_str" | "include_bytes")
                            && punct(i + 1, '!'))
                        .then_some(INCLUDE)
                    });
                if let Some(why) = why {
                    refuse(name, *line, why);
                }
            }
        }
    }
    found
}

/// Whether the scan is on (it is, unless [`DISABLE_VAR`]` = 1`).
pub fn enabled() -> bool {
    std::env::var_os(DISABLE_VAR).is_none_or(|v| v != "1")
}

/// The refusals for `bytes`, a learner file shown as `shown`.
pub fn scan_bytes(shown: &str, bytes: &[u8]) -> Vec<Refusal> {
    if !enabled() {
        return Vec::new();
    }
    scan(shown, &String::from_utf8_lossy(bytes))
}

/// The refusals as a message for a report: one line per token, then what to do.
pub fn message(refusals: &[Refusal]) -> String {
    let mut text = String::from(
        "refused before building: the learner's code uses what no lesson needs, and the grader \
         runs it on the instructor's machine:\n",
    );
    for r in refusals.iter().take(20) {
        text.push_str(&format!("  {r}\n"));
    }
    if refusals.len() > 20 {
        text.push_str(&format!("  … and {} more\n", refusals.len() - 20));
    }
    text.push_str("Remove these from the file; the lesson is solvable without them.");
    text
}

/// `check`'s part: scans the learner's files of `lesson` in place and prints what it refuses.
/// Returns whether the lesson may be built.
pub fn check_lesson(course: &Course, lesson: &Lesson) -> Result<bool> {
    let mut refusals = Vec::new();
    for file in &lesson.meta.edit {
        let rel = format!("exercises/{}/{file}", lesson.name);
        match crate::guard::read_regular(&course.root, &rel) {
            Ok(bytes) => refusals.extend(scan_bytes(&rel, &bytes)),
            Err(e)
                if e.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    if refusals.is_empty() {
        return Ok(true);
    }
    anstream::println!(
        "  {} your code uses what no lesson needs, and `cargo xtask grade` refuses it before \
         building (it runs your code on your instructor's machine):",
        paint(BAD, "refused:")
    );
    for r in &refusals {
        anstream::println!(
            "    {} `{}` — {}",
            paint(HEAD, format!("{}:{}", r.file, r.line)),
            r.token,
            r.why
        );
    }
    anstream::println!(
        "{} remove them from {} and check again.",
        paint(HEAD, "Next:"),
        paint(CMD, lesson.edit_list(course))
    );
    Ok(false)
}

/// Scans the learner files of `lesson`, as shipped and as solved (`verify`): a lesson must
/// never trip the scan, or an honest learner could not submit its solution.
pub fn scan_lesson(root: &Path, lesson: &Lesson) -> Vec<Refusal> {
    let mut all = Vec::new();
    for file in &lesson.meta.edit {
        for base in ["exercises", "solutions"] {
            let rel = format!("{base}/{}/{file}", lesson.name);
            if let Ok(text) = std::fs::read_to_string(root.join(&rel)) {
                all.extend(scan(&rel, &text));
            }
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<String> {
        scan("f.rs", text).into_iter().map(|r| r.token).collect()
    }

    #[test]
    fn the_red_team_constructor_is_refused_with_file_line_and_token() {
        let src = "use std::ffi::c_char;\n\
                   #[used]\n\
                   #[unsafe(link_section = \".init_array\")]\n\
                   static F: extern \"C\" fn(i32, *const *const c_char, *const *const c_char) = forge;\n\
                   extern \"C\" fn forge(_: i32, _: *const *const c_char, _: *const *const c_char) {\n\
                       let a: Vec<String> = std::env::args().collect();\n\
                       std::process::exit(0);\n\
                   }\n";
        let found = scan("src/channel.rs", src);
        let shown: Vec<String> = found
            .iter()
            .map(|r| format!("{}:{}", r.line, r.token))
            .collect();
        assert_eq!(shown, ["2:used", "3:link_section", "6:args", "7:exit"]);
        assert!(
            found[1]
                .to_string()
                .starts_with("src/channel.rs:3: `link_section`: ")
        );
    }

    #[test]
    fn comments_and_strings_do_not_count_but_macro_bodies_do() {
        assert!(
            tokens("// std::process::exit(0)\n/* #[used] */ fn a() { let s = \"exit\"; }")
                .is_empty()
        );
        assert!(tokens("/// calls exit\nfn a() {}").is_empty());
        assert_eq!(
            tokens("macro_rules! m { () => { std::process::exit(0) } }"),
            ["exit"]
        );
        assert_eq!(
            tokens("fn a() { unsafe { libc::syscall(60, 0) }; }"),
            ["syscall"]
        );
        assert_eq!(tokens("fn a() { r#exit(0) }"), ["exit"]);
    }

    #[test]
    fn environment_args_proc_and_processes() {
        assert_eq!(
            tokens("fn a() { unsafe { std::env::set_var(\"INSTA_FORCE_PASS\", \"1\") } }"),
            ["set_var"]
        );
        assert_eq!(tokens("use std::env::args;"), ["args"]);
        assert_eq!(
            tokens("use std::env::*; fn a() { let _ = args(); }"),
            ["args"]
        );
        assert_eq!(
            tokens("fn a() { std::fs::read(\"/proc/self/cmdline\"); }"),
            ["/proc/"]
        );
        assert_eq!(
            tokens("fn a() { std::process::Command::new(\"sh\").exec(); }"),
            ["Command", "exec"]
        );
        assert_eq!(tokens("include!(\"../../x.rs\");"), ["include"]);
        // Ordinary code that looks alike is fine.
        assert!(
            tokens(
                "fn args(x: u8) {} fn b(c: &mut C) { c.args(1); let used = 1; let exited = 2; }"
            )
            .is_empty()
        );
        assert!(tokens("#[allow(unused)] #[derive(Clone)] enum Command { Stop } fn f(p: &str) { let _ = \"/process\"; }").is_empty());
    }

    #[test]
    fn a_lesson_02_stack_with_mmap_mprotect_and_mincore_is_fine() {
        let src = "pub fn map(len: usize) -> *mut u8 {\n\
                   // SAFETY: a fresh anonymous mapping.\n\
                   let p = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_NONE, \
                   libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE, -1, 0) };\n\
                   // SAFETY: inside the mapping.\n\
                   unsafe { libc::mprotect(p, len, libc::PROT_READ | libc::PROT_WRITE) };\n\
                   let mut v = vec![0u8; 1];\n\
                   // SAFETY: the mapping is ours.\n\
                   unsafe { libc::mincore(p, 4096, v.as_mut_ptr()) };\n\
                   p.cast()\n}\n";
        assert!(tokens(src).is_empty(), "{:?}", scan("stack.rs", src));
    }

    #[test]
    fn no_shipped_exercise_or_solution_trips_the_scan() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let course = Course::load(root).unwrap();
        assert!(!course.lessons.is_empty());
        for lesson in &course.lessons {
            let found = scan_lesson(root, lesson);
            assert!(found.is_empty(), "{found:#?}");
        }
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/course");
        let course = Course::load(&fixture).unwrap();
        for lesson in &course.lessons {
            assert!(scan_lesson(&fixture, lesson).is_empty());
        }
    }
}
