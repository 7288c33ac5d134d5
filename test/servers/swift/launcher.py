"""
A single-node OpenStack Swift with its S3 API (s3api + tempauth), for the tests: run with Debian's
/usr/bin/python3 (python3-swift) as

    launcher.py WORKDIR [WORKERS]

It writes its configuration, rings, data and logs under WORKDIR, starts memcached and the account, container,
object and proxy servers on free 127.0.0.1 ports, waits until each answers /healthcheck and is the only
listener on its port, then prints one JSON line (endpoint, credentials, ports) on stdout. It stops everything
it started when its stdin closes (the test process ended, however it ended) or on SIGTERM/SIGINT.

    launcher.py --serve-all SWIFT_DIR LOGS PORTS_JSON WORKERS      (internal: the four servers in one process)

WORKERS (default 1) is the number of processes that serve: each runs all four servers on the same listening
sockets (the kernel spreads the connections), as Swift's own `workers` setting does for one server. One
process is enough for the tests; a benchmark gives the store one per core, since a single Python process
caps it at one core.
"""
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SERVERS = ('account', 'container', 'object', 'proxy')
ACCESS_KEY = 'test:tester'
SECRET_KEY = 'testing'
# A user of the same account without its rights (proxy-server.conf.in): every object is forbidden to it.
UNPRIVILEGED = {'accessKeyId': 'test:reader', 'secretAccessKey': 'reading'}
REGION = 'us-east-1'
START_TIMEOUT_S = 30


def serve_all(swift_dir, logs, ports, workers=1):
    """
    Builds the rings, then runs the account, container, object and proxy servers in this one process, each on
    its own green thread: one interpreter's start-up instead of four, which is most of the cost of a start.
    With `workers` > 1 the listening sockets are bound first and `workers - 1` forked copies serve them too.
    """
    import logging
    from swift.common import utils

    class FileLogHandler(logging.FileHandler):
        # get_logger() builds a syslog handler (/dev/log or UDP 514); the tests want files instead.
        def __init__(self, *args, **kwargs):
            super().__init__(os.path.join(logs, 'swift.log'))

    utils.ThreadSafeSysLogHandler = FileLogHandler
    # swift.conf is read from a fixed path unless swift_dir is set before the policies load.
    utils.set_swift_dir(swift_dir)
    from swift.common import constraints, storage_policy
    storage_policy.reload_storage_policies()
    constraints.reload_constraints()
    build_rings(swift_dir, ports)
    utils.eventlet_monkey_patch()
    import eventlet
    from eventlet import wsgi
    from swift.common.wsgi import RestrictedGreenPool, SwiftHttpProtocol, appconfig, get_socket, loadapp
    os.environ['TZ'] = 'UTC+0'
    time.tzset()
    listeners = []
    for kind in SERVERS:
        name = '%s-server' % kind
        conf_path = os.path.join(swift_dir, '%s.conf' % name)
        conf = appconfig(conf_path, name=name)
        if utils.config_true_value(conf.get('disable_fallocate', 'no')):
            utils.disable_fallocate()
        listeners.append((name, conf_path, get_socket(conf)))
    children = []
    for _ in range(workers - 1):
        pid = os.fork()
        if pid == 0:
            children = None
            # A fresh hub per process (as swift.common.wsgi does for its workers); gone with the first process.
            eventlet.hubs.use_hub(utils.get_hub())
            parent = os.getppid()

            def orphaned():
                while os.getppid() == parent:
                    eventlet.sleep(1)
                os._exit(0)
            eventlet.spawn(orphaned)
            break
        children.append(pid)
    if children:
        def stop_children(*_):
            for pid in children:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            os._exit(0)
        signal.signal(signal.SIGTERM, stop_children)
    threads = []
    for name, conf_path, sock in listeners:
        app = loadapp(conf_path, global_conf={'log_name': name})
        # What swift.common.wsgi.run_server does, less its hub reset (which would orphan the other servers).
        # Headers keep their case: the AWS SDK looks for "ETag", not "Etag".
        threads.append(eventlet.spawn(
            wsgi.server, sock, app, utils.NullLogger(), custom_pool=RestrictedGreenPool(size=1024),
            protocol=SwiftHttpProtocol, socket_timeout=60, capitalize_response_headers=False))
    for t in threads:
        t.wait()


def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(('127.0.0.1', 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def write_template(name, dest, values):
    with open(os.path.join(HERE, name)) as f:
        text = f.read()
    with open(dest, 'w') as f:
        f.write(text.format(**values))


def build_rings(swift_dir, ports):
    from swift.common.ring import RingBuilder
    for kind in ('account', 'container', 'object'):
        builder = RingBuilder(6, 1, 1)
        builder.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': ports[kind],
                         'device': 'd1', 'weight': 1})
        builder.rebalance()
        builder.get_ring().save(os.path.join(swift_dir, '%s.ring.gz' % kind))


def listening_inodes(port):
    """Inodes of the sockets listening on 127.0.0.1:port (state 0A in /proc/net/tcp)."""
    wanted = '0100007F:%04X' % port
    inodes = set()
    with open('/proc/net/tcp') as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[1] == wanted and fields[3] == '0A':
                inodes.add(fields[9])
    return inodes


def socket_inodes(pid):
    inodes = set()
    fd_dir = '/proc/%d/fd' % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith('socket:['):
            inodes.add(target[8:-1])
    return inodes


def owns_port(pid, port):
    """True when pid holds every listening socket on port: eventlet's SO_REUSEPORT lets a stranger share it."""
    listening = listening_inodes(port)
    return bool(listening) and listening <= socket_inodes(pid)


def healthy(port):
    try:
        with urllib.request.urlopen('http://127.0.0.1:%d/healthcheck' % port, timeout=1) as r:
            return r.status == 200 and r.read() == b'OK'
    except OSError:
        return False


def memcached_up(port):
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=1) as s:
            s.sendall(b'version\r\n')
            return s.recv(64).startswith(b'VERSION')
    except OSError:
        return False


def stop_all(children):
    for p in children:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + 5
    for p in children:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main(workdir, workers=1):
    swift_dir = os.path.join(workdir, 'etc')
    devices = os.path.join(workdir, 'srv', 'node')
    logs = os.path.join(workdir, 'logs')
    for d in (swift_dir, os.path.join(devices, 'd1'), logs):
        os.makedirs(d, exist_ok=True)
    names = SERVERS + ('memcached',)
    ports = dict(zip(names, free_ports(len(names))))
    values = {'%s_port' % k: v for k, v in ports.items()}
    values.update(swift_dir=swift_dir, devices=devices)
    write_template('swift.conf.in', os.path.join(swift_dir, 'swift.conf'), values)
    for kind in SERVERS:
        write_template('%s-server.conf.in' % kind, os.path.join(swift_dir, '%s-server.conf' % kind), values)

    env = dict(os.environ, EVENTLET_NO_GREENDNS='yes')
    children = []

    def shutdown(*_):
        stop_all(children)
        sys.exit(0)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    try:
        memcached_cmd = ['memcached', '-l', '127.0.0.1', '-p', str(ports['memcached']), '-U', '0', '-m', '16']
        if os.geteuid() == 0:
            memcached_cmd += ['-u', 'root']
        with open(os.path.join(logs, 'memcached.log'), 'w') as log:
            children.append(subprocess.Popen(memcached_cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log))
        with open(os.path.join(logs, 'swift.out'), 'w') as out:
            children.append(subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), '--serve-all', swift_dir, logs, json.dumps(ports), str(workers)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env))
        swift = children[-1]
        by_name = {name: swift for name in SERVERS}
        by_name['memcached'] = children[0]
        deadline = time.monotonic() + START_TIMEOUT_S
        pending = set(names)
        while pending:
            for name, p in by_name.items():
                if p.poll() is not None:
                    raise RuntimeError('%s exited with %s (see %s)' % (name, p.returncode, logs))
            for name in list(pending):
                up = memcached_up(ports[name]) if name == 'memcached' else healthy(ports[name])
                if up and owns_port(by_name[name].pid, ports[name]):
                    pending.discard(name)
                elif up:
                    raise RuntimeError('another process also listens on port %d (%s)' % (ports[name], name))
            if time.monotonic() > deadline:
                raise RuntimeError('not healthy after %d s: %s (see %s)' % (START_TIMEOUT_S, sorted(pending), logs))
            if pending:
                time.sleep(0.1)
        print(json.dumps({
            'endpoint': 'http://127.0.0.1:%d' % ports['proxy'],
            'region': REGION,
            'accessKeyId': ACCESS_KEY,
            'secretAccessKey': SECRET_KEY,
            'unprivileged': UNPRIVILEGED,
            'ports': ports,
            'logs': logs,
        }), flush=True)
        # Serve until the parent closes our stdin or a server dies.
        while True:
            readable, _, _ = select.select([sys.stdin], [], [], 1.0)
            if readable and not os.read(sys.stdin.fileno(), 4096):
                break
            dead = sorted({n for n, p in by_name.items() if p.poll() is not None})
            if dead:
                print('exited: %s' % ', '.join(dead), file=sys.stderr, flush=True)
                break
    finally:
        stop_all(children)


if __name__ == '__main__':
    if len(sys.argv) == 6 and sys.argv[1] == '--serve-all':
        serve_all(sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), int(sys.argv[5]))
    elif len(sys.argv) in (2, 3):
        try:
            main(os.path.abspath(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) == 3 else 1)
        except RuntimeError as e:
            print(str(e), file=sys.stderr, flush=True)
            sys.exit(1)
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
