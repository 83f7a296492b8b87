#!/usr/bin/env python3
"""The live status page in real headless Chromium.

Trains a small shop with the real binaries, starts recsys_server with its
HTTP port, drives traffic (recsys_load for calls, recsys_cli for slot
events), loads http://.../ in `chromium --headless --dump-dom` with a
virtual-time budget long enough for the page to poll /metrics several times
and draw its charts, and checks that the numbers the page shows match
/metrics read after the traffic stopped.

Also: `promtool check metrics` on the server's /metrics under traffic, and
every metric name used by deploy/prometheus/alerts.yml and
deploy/grafana/recsys.json is exported by the server or the trainer.

    page_test.py --bin BUILD_DIR --src SOURCE_DIR [--screenshot out.png]

Exits 77 (skipped) when chromium is not installed and --require_chromium
is not given.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SKIP = 77


def log(*args):
    print(*args, flush=True)


def run(cmd, **kwargs):
    log("$", " ".join(cmd))
    return subprocess.run(cmd, check=True, **kwargs)


def wait_for_file(path, proc, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if os.path.exists(path) and open(path).read().strip():
            return int(open(path).read().strip())
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        time.sleep(0.1)
    raise RuntimeError(f"{path} not written in {seconds} s")


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.read().decode()


def parse_metrics(text):
    """[(name, {labels}, value)] of a text exposition."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$', line)
        if not m:
            raise AssertionError(f"unparsable line: {line!r}")
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out.append((m.group(1), labels, float(m.group(4))))
    return out


def exported_names(text):
    """Family names of a text exposition (from # TYPE lines: a family may
    have no sample yet, e.g. coupon budgets before any coupon exists)."""
    names = set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    names |= {name for name, _, _ in parse_metrics(text)}
    return names


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def metric_names_used(src):
    """Metric names referenced by the alert rules and the dashboard."""
    names = set()
    rules = open(os.path.join(src, "deploy/prometheus/alerts.yml")).read()
    dashboard = json.load(open(os.path.join(src, "deploy/grafana/recsys.json")))
    exprs = re.findall(r"expr: (>\n(?:\s{10,}.*\n)+|.*)", rules)
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            exprs.append(target["expr"])
    for expr in exprs:
        for name in re.findall(r"\b(recsys_[a-z0-9_]+|process_[a-z_]+)\b", expr):
            names.add(name)
    return names


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="build directory")
    ap.add_argument("--src", required=True, help="source directory")
    ap.add_argument("--screenshot", default="", help="also save a PNG of the page here")
    ap.add_argument("--require_chromium", action="store_true")
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    promtool = shutil.which("promtool")
    if chromium is None and not args.require_chromium:
        log("SKIP: chromium is not installed (scripts/install_deps.sh installs it)")
        return SKIP
    b = args.bin
    work = tempfile.mkdtemp(prefix="recsys_page_test_")
    server = None
    redis = None
    try:
        redis_port = free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                                  "--save", "", "--appendonly", "no", "--dir", work],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if subprocess.run(["redis-cli", "-p", str(redis_port), "ping"], capture_output=True,
                              text=True).stdout.strip() == "PONG":
                break
            time.sleep(0.1)
        redis_address = f"127.0.0.1:{redis_port}"
        csv = os.path.join(work, "shop.csv")
        run([f"{b}/training/recsys_datagen", f"--out={csv}", "--users=300", "--items=120",
             "--days=90", "--seed=3"], stdout=subprocess.DEVNULL)
        metrics_file = os.path.join(work, "train.prom")
        run([f"{b}/training/recsys_train", f"--input={csv}", f"--model_root={work}/models",
             "--factors=16", "--iterations=3", f"--metrics_file={metrics_file}",
             f"--redis={redis_address}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        version = sorted(os.listdir(f"{work}/models"), key=lambda v: (len(v), v))[-1]
        port_file, http_file = f"{work}/grpc.port", f"{work}/http.port"
        server = subprocess.Popen(
            [f"{b}/server/recsys_server", f"--model_root={work}/models", "--listen=127.0.0.1:0",
             f"--port_file={port_file}", "--http_listen=127.0.0.1:0",
             f"--http_port_file={http_file}", "--poll_seconds=0", "--drain=0s",
             f"--redis={redis_address}", f"--coupons={args.src}/deploy/coupons.textproto",
             f"--slots_config={args.src}/deploy/slots.textproto"],
            stdout=open(f"{work}/server.log", "w"), stderr=subprocess.STDOUT)
        grpc_port = wait_for_file(port_file, server)
        http_port = wait_for_file(http_file, server)
        base = f"http://127.0.0.1:{http_port}"
        target = f"127.0.0.1:{grpc_port}"

        # Traffic: calls, and slot events (4 impressions, 1 click on for_you).
        load = subprocess.Popen(
            [f"{b}/bench/recsys_load", f"--target={target}", "--mode=closed", "--concurrency=2",
             "--duration=3s", "--warmup=0s", f"--model_dir={work}/models/{version}",
             "--slot=homepage_hero", "--k=5"], stdout=subprocess.DEVNULL)
        users = [l.strip() for l in open(f"{work}/models/{version}/users.tsv")][:3]
        item = open(f"{work}/models/{version}/popular.tsv").readline().split("\t")[1].strip()
        cli = [f"{b}/tools/recsys_cli", f"--target={target}"]
        now = int(time.time()) - 5
        # Distinct seconds: identical events would be one event (dedup).
        for i in range(4):
            run(cli + ["event", "--type=impression", f"--user={users[i % 3]}", f"--item={item}",
                       "--slot=for_you", f"--time={now - i}"], stdout=subprocess.DEVNULL)
        run(cli + ["event", "--type=click", f"--user={users[0]}", f"--item={item}", "--slot=for_you",
                   f"--time={now}"], stdout=subprocess.DEVNULL)
        # promtool on /metrics while the load runs.
        time.sleep(1)
        status, under_traffic = get(f"{base}/metrics")
        assert status == 200
        if promtool:
            p = subprocess.run([promtool, "check", "metrics"], input=under_traffic, text=True,
                               capture_output=True)
            log("promtool check metrics:", p.returncode, p.stdout.strip(), p.stderr.strip())
            assert p.returncode == 0, p.stdout + p.stderr
        else:
            log("promtool not installed: `promtool check metrics` not run")
        load.wait(timeout=60)
        assert load.returncode == 0, "recsys_load failed"

        # 404 and the probes.
        try:
            urllib.request.urlopen(f"{base}/no-such-page", timeout=10)
            raise AssertionError("/no-such-page did not answer 404")
        except urllib.error.HTTPError as e:
            assert e.code == 404, e.code
        assert get(f"{base}/healthz")[0] == 200
        assert get(f"{base}/readyz")[0] == 200

        # Every metric name the rules and the dashboard use is exported (by
        # the server, or by the trainer's textfile).
        exported = exported_names(under_traffic) | exported_names(open(metrics_file).read())
        base_names = set()
        for name in exported:
            base_names.add(name)
            for suffix in ("_bucket", "_sum", "_count"):
                if name.endswith(suffix):
                    base_names.add(name[: -len(suffix)])
        missing = sorted(n for n in metric_names_used(args.src) if n not in base_names)
        assert not missing, f"used by alerts.yml or recsys.json but not exported: {missing}"

        # The numbers after the traffic, then the page.
        _, text = get(f"{base}/metrics")
        samples = parse_metrics(text)
        calls = sum(v for n, l, v in samples if n == "recsys_rpc_duration_seconds_count"
                    and l.get("service") != "grpc.health.v1.Health")
        assert calls >= 10, f"only {calls} calls recorded"
        profile = f"{work}/chromium-profile"
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               f"--user-data-dir={profile}", "--no-first-run", "--window-size=1280,1500",
               "--virtual-time-budget=7000", "--dump-dom", f"{base}/"]
        log("$", " ".join(cmd))
        dom = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout

        def data_value(element_id):
            m = re.search(r'id="%s"[^>]*data-value="([^"]*)"' % element_id, dom)
            assert m, f"#{element_id} has no data-value in the page:\n{dom[:3000]}"
            return m.group(1)

        polls = re.search(r'<body[^>]*data-polls="(\d+)"', dom)
        assert polls and int(polls.group(1)) >= 2, "the page did not poll /metrics twice"
        assert int(float(data_value("total-requests"))) == int(calls), \
            (data_value("total-requests"), calls)
        assert data_value("model-version") == version, (data_value("model-version"), version)
        points = re.search(r'id="chart-rps"[^>]*data-points="(\d+)"', dom)
        assert points and int(points.group(1)) >= 2, "the requests/s chart has no line"
        assert "<polyline" in dom, "no chart drawn"
        row = re.search(r'<tr data-slot="for_you" data-impressions="(\d+)" data-clicks="(\d+)"', dom)
        assert row, "no for_you row in the slots table"
        imp = sum(v for n, l, v in samples if n == "recsys_slot_impressions_total"
                  and l["slot"] == "for_you")
        clk = sum(v for n, l, v in samples if n == "recsys_slot_clicks_total"
                  and l["slot"] == "for_you")
        assert (int(row.group(1)), int(row.group(2))) == (imp, clk) == (4, 1), \
            (row.groups(), imp, clk)
        coupons = {l["coupon"] for n, l, v in samples if n == "recsys_coupon_issued_total"}
        shown = set(re.findall(r'<tr data-coupon="([^"]+)"', dom))
        assert coupons and shown == coupons, (shown, coupons)
        log(f"page: {calls:.0f} calls, model {version}, for_you {imp:.0f} impressions "
            f"{clk:.0f} clicks, {polls.group(1)} polls: match /metrics")

        if args.screenshot:
            # A page under traffic: keep load running while it polls.
            load = subprocess.Popen(
                [f"{b}/bench/recsys_load", f"--target={target}", "--mode=open", "--rate=200",
                 "--duration=20s", "--warmup=0s", f"--model_dir={work}/models/{version}",
                 "--slot=homepage_hero", "--k=5"], stdout=subprocess.DEVNULL)
            time.sleep(2)
            # Real time (no virtual-time budget), so rates are true rates.
            run(["node", "--experimental-websocket",
                 os.path.join(os.path.dirname(os.path.abspath(__file__)), "screenshot.js"),
                 chromium, f"{base}/", os.path.abspath(args.screenshot), "16"])
            load.wait(timeout=60)
            log("screenshot:", args.screenshot)
        log("1 passed, 0 failed")
        return 0
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        if redis is not None:
            redis.terminate()
            redis.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
