"""Three nodes behind the shipped nginx and HAProxy configs, over plain HTTP and with TLS
terminated at the balancer and re-encrypted to the nodes.
"""
import http.client
import os
import re
import signal
import ssl
import subprocess
import time
from pathlib import Path

from deployment import (
    DEPLOY, INFER_BODY, Load, READY_TIMEOUT_S, ROOT, expect, free_port, log_tail, metric_samples,
    request, served_ok, start_server, wait_healthy,
)


# --- scale-out -------------------------------------------------------------------------------

NODES = ["10.0.0.11:8080", "10.0.0.12:8080", "10.0.0.13:8080"]


def substituted(text, replacements):
    for old, new in replacements:
        expect(text.count(old) >= 1, f"shipped config no longer contains {old!r}")
        text = text.replace(old, new)
    return text


def start_nginx(procs, tmp, lb_port, node_ports):
    conf_dir = Path(tmp) / "nginx"
    conf_dir.mkdir()
    os.chmod(tmp, 0o755)
    os.chmod(conf_dir, 0o755)
    site = substituted((DEPLOY / "nginx/fusion-serve.conf").read_text(),
                       [(node, f"127.0.0.1:{p}") for node, p in zip(NODES, node_ports)]
                       + [("listen 80;", f"listen 127.0.0.1:{lb_port};")])
    (conf_dir / "fusion-serve.conf").write_text(site)
    return run_nginx(procs, conf_dir, "fusion-serve.conf")


def run_nginx(procs, conf_dir, site_file):
    """Wraps `site_file` (in `conf_dir`) in a minimal nginx.conf with every path in `conf_dir`,
    checks it with `nginx -t` and starts nginx in the foreground."""
    (conf_dir / "nginx.conf").write_text(f"""
worker_processes 1;
pid {conf_dir}/nginx.pid;
error_log {conf_dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {conf_dir}/access.log;
    client_body_temp_path {conf_dir}/body;
    proxy_temp_path {conf_dir}/proxy;
    fastcgi_temp_path {conf_dir}/fastcgi;
    uwsgi_temp_path {conf_dir}/uwsgi;
    scgi_temp_path {conf_dir}/scgi;
    include {conf_dir}/{site_file};
}}
""")
    check = subprocess.run(["nginx", "-t", "-p", str(conf_dir), "-c", str(conf_dir / "nginx.conf")],
                           capture_output=True, text=True)
    expect(check.returncode == 0, f"nginx -t: {check.stderr}")
    process = procs.start(["nginx", "-p", str(conf_dir), "-c", str(conf_dir / "nginx.conf"), "-g", "daemon off;"],
                          conf_dir / "stdout.log")
    process.error_log = conf_dir / "error.log"
    return process


def start_haproxy(procs, tmp, lb_port, node_ports):
    conf_dir = Path(tmp) / "haproxy"
    conf_dir.mkdir()
    text = substituted((DEPLOY / "haproxy/fusion-serve.cfg").read_text(),
                       [(node, f"127.0.0.1:{p}") for node, p in zip(NODES, node_ports)]
                       + [("bind :80", f"bind 127.0.0.1:{lb_port}"),
                          ("log /dev/log local0", "log stderr format raw local0")])
    return run_haproxy(procs, conf_dir, text)


def run_haproxy(procs, conf_dir, text):
    """Drops host-only lines (a chroot, a privileged user, the admin socket in /run) from
    `text`, checks it with `haproxy -c` and starts HAProxy in the foreground."""
    text = "\n".join(line for line in text.splitlines()
                     if not re.match(r"\s*(chroot|user|group|stats socket)\b", line))
    config = conf_dir / "haproxy.cfg"
    config.write_text(text + "\n")
    check = subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, text=True)
    expect(check.returncode == 0, f"haproxy -c: {check.stdout}{check.stderr}")
    return procs.start(["haproxy", "-db", "-f", str(config)], conf_dir / "haproxy.log")


def scale_out(tmp, procs, balancer):
    node_ports = [free_port() for _ in NODES]
    nodes = [start_server(procs, tmp, f"node{i + 1}", port) for i, port in enumerate(node_ports)]
    for node, port in zip(nodes, node_ports):
        wait_healthy(port, node)
    lb_port = free_port()
    lb = balancer(procs, tmp, lb_port, node_ports)
    deadline = time.monotonic() + 20
    while True:
        try:
            if request(lb_port, "GET", "/healthz", timeout=2)[0] == 200:
                break
        except OSError:
            pass
        expect(time.monotonic() < deadline and lb.poll() is None, f"balancer not answering:\n{log_tail(lb)}")
        time.sleep(0.1)

    # 1. A few hundred requests: all succeed, spread over the three nodes.
    before = [served_ok(p) for p in node_ports]
    load = Load(lb_port, total=300, concurrency=6).start().join()
    load.expect_all_ok("steady load")
    counts = [served_ok(p) - b for p, b in zip(node_ports, before)]
    expect(sum(counts) >= 300, f"nodes served {counts}, fewer than the 300 requests")
    expect(min(counts) >= 30, f"load not spread across the nodes: {counts}")
    print(f"    steady: 300/300 ok, per node {counts}")

    # 2. One node killed (-9, with its workers) mid-load: no client request fails.
    load = Load(lb_port, total=300, concurrency=6).start()
    load.wait_done(100)
    os.killpg(nodes[1].pid, signal.SIGKILL)
    load.join()
    load.expect_all_ok("node killed mid-load")
    print("    kill -9 of node2 mid-load: 300/300 ok")

    # Bring it back, and make sure the balancer uses it again before the drain test.
    nodes[1] = start_server(procs, tmp, "node2-restarted", node_ports[1])
    wait_healthy(node_ports[1], nodes[1])
    base = served_ok(node_ports[1])
    deadline = time.monotonic() + 30
    while served_ok(node_ports[1]) == base:
        expect(time.monotonic() < deadline, "the restarted node never got traffic back")
        Load(lb_port, total=30, concurrency=3).start().join().expect_all_ok("warm-up")

    # 3. One node draining (SIGTERM) mid-load: taken out, no client request fails.
    load = Load(lb_port, total=300, concurrency=6).start()
    load.wait_done(100)
    os.kill(nodes[2].pid, signal.SIGTERM)
    load.join()
    load.expect_all_ok("node draining mid-load")
    expect(nodes[2].wait(timeout=60) == 0, f"drained node exit status {nodes[2].returncode}")
    print("    SIGTERM (drain) of node3 mid-load: 300/300 ok, node3 exited 0")
    return lb, nodes


def test_scale_out_behind_nginx(tmp, procs):
    lb, _ = scale_out(tmp, procs, start_nginx)
    expect(lb.poll() is None, "nginx died")


def test_scale_out_behind_haproxy(tmp, procs):
    lb, _ = scale_out(tmp, procs, start_haproxy)
    deadline = time.monotonic() + 10
    while "node3 is DOWN" not in Path(lb.log_path).read_text(errors="replace"):
        expect(time.monotonic() < deadline, f"HAProxy's health check never took node3 out:\n{log_tail(lb)}")
        time.sleep(0.2)
    expect(lb.poll() is None, "haproxy died")


# --- HTTPS end to end: TLS terminated at the balancer, re-encrypted to the nodes ---------------

TLS_NODES = ["10.0.0.11:8443", "10.0.0.12:8443", "10.0.0.13:8443"]


def make_certificates(tmp):
    certs = Path(tmp) / "certs"
    subprocess.run(["bash", str(ROOT / "Tests/Fixtures/tls/make-certs.sh"), str(certs)], check=True, timeout=60)
    os.chmod(tmp, 0o755)
    for item in [certs, *certs.iterdir()]:
        os.chmod(item, 0o755 if item.is_dir() else 0o644)
    return certs


def wait_https_healthy(port, ca, process, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if request(port, "GET", "/healthz", timeout=2, cafile=ca)[0] == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        expect(time.monotonic() < deadline and process.poll() is None, f"{what}:\n{log_tail(process)}")
        time.sleep(0.1)


def tls_scale_out(tmp, procs, write_balancer):
    certs = make_certificates(tmp)
    ca = certs / "cert.pem"   # self-signed: the nodes' certificate is its own CA
    node_ports = [free_port() for _ in TLS_NODES]
    tls_args = ["--tls-cert", str(certs / "cert.pem"), "--tls-key", str(certs / "key.pem")]
    nodes = [start_server(procs, tmp, f"tls-node{i + 1}", port, extra=tls_args) for i, port in enumerate(node_ports)]
    for node, port in zip(nodes, node_ports):
        wait_https_healthy(port, ca, node, READY_TIMEOUT_S, "TLS node not ready")
        # The node speaks HTTPS only: plain HTTP gets no answer.
        try:
            plain = request(port, "GET", "/healthz", timeout=2)[0]
        except (OSError, http.client.HTTPException):
            plain = None
        expect(plain is None, f"plain HTTP to a TLS node answered {plain}")
    lb_port = free_port()
    lb = write_balancer(procs, tmp, lb_port, node_ports, certs)
    wait_https_healthy(lb_port, ca, lb, 20, "TLS balancer not answering")
    before = [served_ok(p, ca) for p in node_ports]
    context = ssl.create_default_context(cafile=str(ca))
    connection = http.client.HTTPSConnection("localhost", lb_port, timeout=30, context=context)
    for index in range(90):
        status, _, body = request(lb_port, "POST", "/infer", body=INFER_BODY, connection=connection)
        expect(status == 200, f"request {index} through the TLS balancer: {status} {body[:200]!r}")
    connection.close()
    counts = [served_ok(p, ca) - b for p, b in zip(node_ports, before)]
    expect(sum(counts) >= 90 and min(counts) >= 5, f"TLS nodes served {counts}")
    handshakes = [sum(v for n, l, v in metric_samples(p, ca) if n == "fusion_http_tls_handshakes_total") for p in node_ports]
    expect(all(h >= 1 for h in handshakes), f"nodes saw no TLS handshake from the balancer: {handshakes}")
    print(f"    90/90 /infer over HTTPS through the balancer, re-encrypted; per node {counts}")
    expect(lb.poll() is None, "balancer died")


def start_nginx_tls(procs, tmp, lb_port, node_ports, certs):
    conf_dir = Path(tmp) / "nginx"
    conf_dir.mkdir()
    os.chmod(conf_dir, 0o755)
    site = substituted((DEPLOY / "nginx/fusion-serve-tls.conf").read_text(),
                       [(node, f"127.0.0.1:{p}") for node, p in zip(TLS_NODES, node_ports)]
                       + [("listen 443 ssl;", f"listen 127.0.0.1:{lb_port} ssl;"),
                          ("/etc/nginx/tls/fusion-serve.pem", str(certs / "cert.pem")),
                          ("/etc/nginx/tls/fusion-serve.key", str(certs / "key.pem")),
                          ("/etc/nginx/tls/nodes-ca.pem", str(certs / "cert.pem"))])
    (conf_dir / "fusion-serve-tls.conf").write_text(site)
    return run_nginx(procs, conf_dir, "fusion-serve-tls.conf")


def start_haproxy_tls(procs, tmp, lb_port, node_ports, certs):
    conf_dir = Path(tmp) / "haproxy"
    conf_dir.mkdir()
    bundle = conf_dir / "fusion-serve.pem"
    bundle.write_text((certs / "cert.pem").read_text() + (certs / "key.pem").read_text())
    text = substituted((DEPLOY / "haproxy/fusion-serve-tls.cfg").read_text(),
                       [(node, f"127.0.0.1:{p}") for node, p in zip(TLS_NODES, node_ports)]
                       + [("bind :443 ssl", f"bind 127.0.0.1:{lb_port} ssl"),
                          ("/etc/haproxy/tls/fusion-serve.pem", str(bundle)),
                          ("/etc/haproxy/tls/nodes-ca.pem", str(certs / "cert.pem")),
                          ("log /dev/log local0", "log stderr format raw local0")])
    return run_haproxy(procs, conf_dir, text)


def test_https_end_to_end_behind_nginx(tmp, procs):
    tls_scale_out(tmp, procs, start_nginx_tls)


def test_https_end_to_end_behind_haproxy(tmp, procs):
    tls_scale_out(tmp, procs, start_haproxy_tls)
