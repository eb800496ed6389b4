# Drives the weft REPL in a pseudo-terminal (rustyline needs one), for
# tests/cli.rs and tests/sigint.rs: argv = weft, a HOME for its history,
# then the keys to type (escapes such as \r and \x03 decoded), 0.5 s apart;
# then Ctrl-D. Prints the screen and "[exit N]". WEFT_* variables of the
# caller's environment are dropped so the REPL runs with defaults.
import os, pty, select, sys, time
weft, home, keys = sys.argv[1], sys.argv[2], sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.environ["HOME"] = home
    os.environ["TERM"] = "xterm"
    for k in list(os.environ):
        if k.startswith("WEFT_"):
            del os.environ[k]
    os.execv(weft, [weft])
out = b""
def read_for(seconds):
    global out
    end = time.time() + seconds
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return False
            if not data:
                return False
            out += data
    return True
read_for(1.0)
for k in keys:
    os.write(fd, k.encode().decode("unicode_escape").encode())
    read_for(0.5)
os.write(fd, b"\x04")
end = time.time() + 20
while time.time() < end and read_for(0.2):
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode("utf-8", "replace"))
sys.stdout.write("\n[exit %d]\n" % (os.waitstatus_to_exitcode(status)))
