"""The console's HTML: every value escaped, record bytes shown safely whatever they hold."""

import socket

from hpbroker.console.render import SHOW_BYTES, esc, plot, show_bytes, table


def test_record_bytes_are_text_only_when_printable_utf8_else_hex_and_always_escaped():
    assert show_bytes(None) == "<span class='muted'>null</span>"
    assert show_bytes("zürich".encode()) == "<span class='bytes'>zürich</span>"
    assert "&lt;script&gt;" in show_bytes(b"<script>x</script>") and "<script>" not in show_bytes(b"<script>")
    assert "00 ff" in show_bytes(b"\x00\xff") and "hex" in show_bytes(b"\x00\xff")
    assert "hex" in show_bytes(b"bell\x07")  # a control character: not shown as text
    assert "hex" in show_bytes(b"\xc3")  # a cut UTF-8 sequence
    long = show_bytes(b"a" * (SHOW_BYTES + 10))
    assert "(+10 bytes)" in long and "a" * SHOW_BYTES in long and "a" * (SHOW_BYTES + 1) not in long


def test_names_in_tables_and_plots_are_escaped():
    assert esc("<b>'\"&") == "&lt;b&gt;&#x27;&quot;&amp;"
    assert "none" in table(["a"], [])
    svg = plot({"<topic>": [(0.0, 1.0), (5.0, 3.0)]}, "records/s")
    assert svg.startswith("<svg") and "&lt;topic&gt;" in svg and "<topic>" not in svg
    assert "polyline" in plot({"t": [(1.0, 0.0)]}, "x")  # one sample still drawn (a dot)
    assert "No samples yet" in plot({}, "x")


def test_an_unreachable_cluster_is_a_page_saying_so():
    from hpbroker.console.app import Console
    from hpbroker.console.history import History

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there
    console = Console(f"127.0.0.1:{port}", History(f"127.0.0.1:{port}", sample_s=3600))
    try:
        status, content_type, body = console.page("/topics", {})
        assert status == 502 and content_type.startswith("text/html") and b"cannot connect" in body
        assert console.page("/no/such/page", {})[0] == 404
    finally:
        console.close()
