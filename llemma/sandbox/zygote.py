# Zygote of one sandbox worker: imports SymPy and NumPy once, then forks a
# fresh child for every program it is sent, so no run ever sees an
# interpreter that an earlier run touched.
#
# Protocol on fd 0 (a socket): each request and each reply is a 4-byte
# big-endian length and that many bytes. A request is a JSON header followed
# by the program source; a reply is a JSON header followed by the captured
# stdout and stderr bytes (their lengths are in the header).
import json, os, resource, select, signal, shutil, struct, sys, time

ISOLATED = sys.argv[1] == "isolated"  # alone in a PID namespace (bubblewrap)
WORK_ROOT = sys.argv[2]                # wiped between runs
MEMORY_EXIT = 251                      # child exit status after MemoryError

import sympy  # noqa: F401  (warm imports shared by every run)
import numpy  # noqa: F401
import fractions, math, itertools, functools, collections  # noqa: F401,E401


def warm_up():
    """Touches the parts of SymPy that load lazily, so forks start warm."""
    x, y = sympy.symbols("x y")
    sympy.expand((x + 1) ** 2)
    sympy.factor(x**2 - 1)
    sympy.simplify(sympy.sin(x) ** 2 + sympy.cos(x) ** 2)
    sympy.solve([x + y - 2, x - y], [x, y])
    sympy.solve(x**2 - 2, x)
    sympy.integrate(x**2, (x, 0, 1))
    sympy.diff(sympy.exp(x) * x, x)
    sympy.limit(sympy.sin(x) / x, x, 0)
    sympy.nsimplify(0.5)
    sympy.sympify("x**2 + 1/2")
    sympy.N(sympy.pi, 20)
    sympy.latex(sympy.sqrt(x) / 2)
    sympy.Matrix([[1, 2], [3, 4]]).det()
    sympy.binomial(5, 2), sympy.factorial(5), sympy.gcd(12, 18), sympy.isprime(97)
    numpy.linalg.inv(numpy.eye(2))
    str(x**2 + 2 * x + 1)


try:
    warm_up()
except Exception:  # a SymPy version without one of these still works
    pass

CTRL = 0


def read_exact(n):
    buf = b""
    while len(buf) < n:
        chunk = os.read(CTRL, n - len(buf))
        if not chunk:
            sys.exit(0)  # the host went away
        buf += chunk
    return buf


def read_frame():
    (n,) = struct.unpack(">I", read_exact(4))
    return read_exact(n)


def write_frame(data):
    data = struct.pack(">I", len(data)) + data
    while data:
        data = data[os.write(CTRL, data):]


def others():
    """Pids in this namespace other than ours and the namespace's init."""
    me = os.getpid()
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in (1, me):
            pids.append(int(name))
    return pids


def kill_all(pgid):
    if ISOLATED:
        # Everything else in the namespace belongs to the run: kill(-1)
        # reaches all of it, including processes that left the group.
        for _ in range(200):
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
            reap()
            if not others():
                return
            time.sleep(0.001)
    else:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def wipe(root):
    for name in os.listdir(root):
        path = os.path.join(root, name)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            pass


def child(req, code, out_w, err_w, workdir):
    os.setsid()
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    os.closerange(3, 65536)
    os.chdir(workdir)
    os.umask(0o077)
    lim = [
        (resource.RLIMIT_CPU, req["cpu_seconds"], req["cpu_seconds"] + 1),
        (resource.RLIMIT_AS, req["memory_bytes"], req["memory_bytes"]),
        (resource.RLIMIT_FSIZE, req["file_bytes"], req["file_bytes"]),
        (resource.RLIMIT_NPROC, req["processes"], req["processes"]),
        (resource.RLIMIT_CORE, 0, 0),
    ]
    for which, soft, hard in lim:
        if soft > 0:
            resource.setrlimit(which, (soft, hard))
    for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGXCPU, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    sys.stdin = open(0, "r", closefd=False)
    sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
    sys.argv = ["program.py"]
    status = 0
    try:
        env = {"__name__": "__main__", "__builtins__": __builtins__}
        exec(compile(code, "program.py", "exec"), env)
    except SystemExit as e:
        c = e.code
        status = c if isinstance(c, int) else (0 if c is None else 1)
        if not isinstance(c, int) and c is not None:
            print(c, file=sys.stderr)
    except MemoryError:
        status = MEMORY_EXIT
        try:
            sys.stderr.write("MemoryError\n")
        except BaseException:
            pass
    except BaseException:
        import traceback
        try:
            traceback.print_exc()
        except BaseException:
            pass
        status = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    os._exit(status & 0xFF)


def run(req, code):
    wipe(WORK_ROOT)
    workdir = os.path.join(WORK_ROOT, "w")
    os.mkdir(workdir, 0o700)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(out_r)
            os.close(err_r)
            child(req, code, out_w, err_w, workdir)
        finally:
            os._exit(250)
    os.close(out_w)
    os.close(err_w)
    caps = {out_r: req["stdout_cap"], err_r: req["stderr_cap"]}
    bufs = {out_r: bytearray(), err_r: bytearray()}
    open_fds = [out_r, err_r]
    start = time.monotonic()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    deadline = start + req["wall_seconds"]
    status = None
    verdict = ""
    while True:
        if status is None:
            try:
                p, st = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                p, st = pid, 0
            if p == pid:
                status = st
        if status is not None and not open_fds:
            break
        now = time.monotonic()
        if now >= deadline:
            verdict = "timeout"
            break
        if status is not None:
            # The program is done; whatever it left behind still holding
            # the pipes goes now.
            kill_all(pid)
        if ISOLATED and req["processes"] > 0 and len(others()) > req["processes"]:
            verdict = "processes"
            break
        ready = select.select(open_fds, [], [], min(0.02, deadline - now))[0] if open_fds else []
        if not open_fds:
            time.sleep(0.002)
        for fd in ready:
            data = os.read(fd, 65536)
            if not data:
                open_fds.remove(fd)
                continue
            room = caps[fd] - len(bufs[fd])
            bufs[fd] += data[:max(room, 0)]
            if len(data) > room:
                verdict = "stdout" if fd == out_r else "stderr"
        if verdict:
            break
    kill_all(pid)
    if status is None:
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            status = 0
    reap()
    os.close(out_r)
    os.close(err_r)
    wipe(WORK_ROOT)
    head = {
        "verdict": verdict,
        "wall_seconds": time.monotonic() - start,
        "stdout_len": len(bufs[out_r]),
        "stderr_len": len(bufs[err_r]),
    }
    if os.WIFEXITED(status):
        head["exit_code"] = os.WEXITSTATUS(status)
        head["signal"] = 0
    else:
        head["exit_code"] = -1
        head["signal"] = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
    if not verdict and head["exit_code"] == MEMORY_EXIT:
        head["verdict"] = "memory"
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    head["cpu_seconds"] = ru.ru_utime + ru.ru_stime - ru0.ru_utime - ru0.ru_stime
    write_frame(json.dumps(head).encode() + b"\n" + bytes(bufs[out_r]) + bytes(bufs[err_r]))


def main():
    try:
        import ctypes
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: no ptrace of the zygote
    except Exception:
        pass
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    write_frame(b'{"ready": true}')
    while True:
        frame = read_frame()
        nl = frame.index(b"\n")
        req = json.loads(frame[:nl])
        run(req, frame[nl + 1:].decode("utf-8", "replace"))


main()
