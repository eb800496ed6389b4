use super::*;

fn spawn(argv: &[&str], stdin: bool) -> Child {
    Command::new(argv[0])
        .args(&argv[1..])
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn done(o: Outcome) -> (i64, String, String) {
    match o {
        Outcome::Done {
            status,
            stdout,
            stderr,
        } => (
            status_code(status),
            String::from_utf8(stdout).unwrap(),
            String::from_utf8(stderr).unwrap(),
        ),
        Outcome::TimedOut => panic!("timed out"),
        Outcome::Cancelled => panic!("cancelled"),
    }
}

#[test]
fn collects_both_outputs_and_the_status() {
    let c = spawn(&["sh", "-c", "echo out; echo err >&2; exit 3"], false);
    assert_eq!(
        done(wait(c, None, None, None).unwrap()),
        (3, "out\n".into(), "err\n".into())
    );
}

#[test]
fn large_input_and_output_do_not_deadlock() {
    // More than a pipe holds, both ways at once.
    let input = "x".repeat(1 << 20);
    let c = spawn(&["cat"], true);
    let (status, out, _) = done(wait(c, Some(&input), None, None).unwrap());
    assert_eq!(status, 0);
    assert_eq!(out.len(), input.len());
}

#[test]
fn a_child_that_ignores_stdin_is_fine() {
    let input = "y".repeat(1 << 20);
    let c = spawn(&["true"], true);
    assert_eq!(done(wait(c, Some(&input), None, None).unwrap()).0, 0);
}

#[test]
fn timeout_kills_the_child() {
    let start = Instant::now();
    let c = spawn(&["sleep", "30"], false);
    let deadline = Instant::now() + Duration::from_millis(100);
    assert!(matches!(
        wait(c, None, Some(deadline), None).unwrap(),
        Outcome::TimedOut
    ));
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn cancelling_kills_the_child() {
    let token = CancelToken::new();
    let t2 = token.clone();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        t2.cancel();
    });
    let start = Instant::now();
    let c = spawn(&["sleep", "30"], false);
    let pid = c.id() as libc::pid_t;
    assert!(matches!(
        wait(c, None, None, Some(&token)).unwrap(),
        Outcome::Cancelled
    ));
    canceller.join().unwrap();
    assert!(start.elapsed() < Duration::from_secs(10));
    // Reaped: the pid is no longer our child.
    // SAFETY: waitpid with WNOHANG on a pid; no memory is passed.
    let r = unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
    assert_eq!(r, -1);
}

#[test]
fn killed_by_a_signal_is_minus_the_signal() {
    let c = spawn(&["sh", "-c", "kill -9 $$"], false);
    assert_eq!(done(wait(c, None, None, None).unwrap()).0, -9);
}

#[test]
fn the_exit_check_without_a_pidfd_works() {
    let mut c = spawn(&["sleep", "0.05"], false);
    let pid = c.id() as libc::pid_t;
    assert!(!has_exited(pid));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !has_exited(pid) {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    // WNOWAIT left it to be reaped.
    assert!(c.wait().unwrap().success());
}
