"""The web console driven in a real headless browser (Debian's chromium through chromedriver and
Selenium): each page is opened, screenshotted into the test's tmp dir, and checked for the values
the test produced; record bytes that are HTML or not text at all are shown, never run.

The browser is the Debian packages chromium and chromium-driver (.ci/run installs them); without
them the tests are skipped, saying so."""

import os
import shutil
import subprocess
import sys
import tempfile
import uuid

import pytest
from confluent_kafka import Consumer, Producer

from hpbroker.testing import stop_process, wait_until
from tests.integration.conftest import create_topic, mode_broker
from tests.integration.test_metrics import free_port

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SCRIPT_VALUE = b"<script>document.title='pwned'</script>"
BINARY_VALUE = bytes([0, 1, 2, 0xFF, 0xFE])


@pytest.fixture(scope="module")
def browser():
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("no browser: apt-get install chromium chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="hpbroker-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def visit(driver, url, shot):
    """Open ``url``, save a screenshot as ``shot``, return the page's visible text."""
    from selenium.webdriver.common.by import By

    driver.get(url)
    driver.save_screenshot(str(shot))
    assert os.path.getsize(shot) > 1000
    return driver.find_element(By.TAG_NAME, "body").text


@pytest.fixture(scope="module")
def cluster_with_traffic():
    """A broker with the console on metrics.port, a topic of 2 partitions holding known records,
    and a group that committed part of them."""
    port = free_port()
    with mode_broker(config={"metrics.port": port, "group.initial.rebalance.delay.ms": 0}) as b:
        topic = create_topic(b.bootstrap, f"shown-{uuid.uuid4().hex[:6]}", partitions=2)
        producer = Producer({"bootstrap.servers": b.bootstrap})
        for i in range(40):
            value = SCRIPT_VALUE if i == 0 else BINARY_VALUE if i == 2 else f"value-{i}".encode()
            producer.produce(
                topic, key=f"key-{i}".encode(), value=value, partition=i % 2, headers=[("trace", b"t-%d" % i)]
            )
        assert producer.flush(15) == 0
        group = f"viewers-{uuid.uuid4().hex[:6]}"
        consumer = Consumer(
            {
                "bootstrap.servers": b.bootstrap,
                "group.id": group,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        consumer.subscribe([topic])
        seen = []

        def consumed():
            seen.extend(m for m in consumer.consume(40, 0.5) if m.error() is None)
            return len(seen) >= 40

        wait_until(consumed, 30, "40 records consumed")
        consumer.commit(asynchronous=False)
        for i in range(40, 50):  # 5 more on each partition: a lag of 10
            producer.produce(topic, value=b"late", partition=i % 2)
        assert producer.flush(15) == 0
        try:
            yield b, port, topic, group
        finally:
            consumer.close()


def test_every_page_of_the_embedded_console_shows_what_the_cluster_holds(browser, cluster_with_traffic, tmp_path):
    from selenium.webdriver.common.by import By

    b, port, topic, group = cluster_with_traffic
    base = f"http://127.0.0.1:{port}"
    text = visit(browser, base + "/", tmp_path / "overview.png")
    assert "Overview" in text and "Controller" in text
    text = visit(browser, base + "/brokers", tmp_path / "brokers.png")
    assert str(b.port) in text and "controller" in text
    text = visit(browser, base + "/topics", tmp_path / "topics.png")
    assert topic in text
    row = browser.find_element(By.XPATH, f"//tr[td/a[text()='{topic}']]").text.split()
    assert row == [topic, "2", "50"]  # partitions, records
    text = visit(browser, f"{base}/topics/{topic}", tmp_path / "topic.png")
    rows = [r.text.split() for r in browser.find_elements(By.CSS_SELECTOR, "table tbody tr")][:2]
    # partition, leader, replicas, ISR (this one broker, id 0), log start, log end, records
    assert [r[:7] for r in rows] == [[str(i), "0", "0", "0", "0", "25", "25"] for i in range(2)]
    text = visit(browser, f"{base}/topics/{topic}/partitions/0", tmp_path / "records.png")
    assert "key-0" in text and SCRIPT_VALUE.decode() in text  # shown as text, not run
    assert "trace: t-0" in text
    assert browser.title != "pwned" and not browser.find_elements(By.TAG_NAME, "script")
    assert "00 01 02 ff fe" in text  # key-2's value: not text, shown as hex
    text = visit(browser, base + "/groups", tmp_path / "groups.png")
    assert group in text
    text = visit(browser, f"{base}/groups/{group}", tmp_path / "group.png")
    assert "total lag 10" in text
    lags = [
        r.text.split()
        for r in browser.find_elements(By.XPATH, "//h2[text()='Offsets and lag']/following-sibling::table[1]/tbody/tr")
    ]
    assert sorted((r[1], r[2], r[3], r[4]) for r in lags) == [("0", "20", "25", "5"), ("1", "20", "25", "5")]


def test_hpbroker_console_serves_any_cluster_with_plots_of_throughput_and_lag(browser, cluster_with_traffic, tmp_path):
    from selenium.webdriver.common.by import By

    b, _, topic, group = cluster_with_traffic
    # port 0: the kernel picks it and the log line names it (a port picked beforehand may be
    # taken by another test meanwhile)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hpbroker",
            "console",
            "--bootstrap",
            b.bootstrap,
            "--port",
            "0",
            "--sample-seconds",
            "0.5",
        ],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        line = proc.stderr.readline()
        assert "console of" in line, line
        port = int(line.rstrip().rstrip("/").rsplit(":", 1)[1])
        visit(browser, f"http://127.0.0.1:{port}/", tmp_path / "console-first.png")  # starts the sampler
        producer = Producer({"bootstrap.servers": b.bootstrap})

        def plotted():
            for i in range(20):
                producer.produce(topic, value=b"more", partition=i % 2)
            producer.flush(10)
            browser.get(f"http://127.0.0.1:{port}/topics/{topic}")
            lines = browser.find_elements(By.CSS_SELECTOR, "svg polyline")
            return lines and len(lines[0].get_attribute("points").split()) >= 3

        wait_until(plotted, 30, "a throughput plot of the topic over three samples")
        browser.save_screenshot(str(tmp_path / "console-topic.png"))
        text = visit(browser, f"http://127.0.0.1:{port}/groups/{group}", tmp_path / "console-group.png")
        assert "Offsets and lag" in text and browser.find_elements(By.CSS_SELECTOR, "svg polyline")
        assert "Not found" in visit(browser, f"http://127.0.0.1:{port}/metrics", tmp_path / "console-metrics.png")
    finally:
        stop_process(proc)
