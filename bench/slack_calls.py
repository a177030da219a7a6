"""What keeping connections to Slack open saves (bot/slack/connections.py).

Sends N `chat.postMessage` calls and N response_url answers, one after another, to the Slack
stand-in, first with slack_sdk's own clients (urllib: a new connection, and over HTTPS a new TLS
handshake, for every call), then with the bot's (kept connections), over plain HTTP and over
HTTPS with a throwaway self-signed certificate (made with the `openssl` command). Prints the
latency per call and the connections the stand-in accepted. Loopback has no network delay: in
production each new connection to slack.com also costs the round trips of TCP and TLS set-up.

    python bench/slack_calls.py [--calls 300]
"""

from __future__ import annotations

import argparse
import shutil
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

from common import percentile
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from bot.demo.slack_standin import SlackStandIn
from bot.slack.gateway import KeptAliveWebClient, KeptAliveWebhookClient


def certificate(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext] | None:
    """(server context, client context) trusting a fresh self-signed certificate for 127.0.0.1."""
    if shutil.which("openssl") is None:
        return None
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    return server, ssl.create_default_context(cafile=str(cert))


def timed(calls: int, one) -> list[float]:  # type: ignore[no-untyped-def]
    took = []
    for n in range(calls):
        started = time.perf_counter()
        one(n)
        took.append(time.perf_counter() - started)
    return took


def run(label: str, calls: int, server_tls: ssl.SSLContext | None, client_tls: ssl.SSLContext | None) -> None:
    for name, web_client, webhook_client in (
        ("slack_sdk (new connection each)", WebClient, WebhookClient),
        ("incident-bot (kept connections)", KeptAliveWebClient, KeptAliveWebhookClient),
    ):
        standin = SlackStandIn().start(tls=server_tls)
        standin.add_channel("C0BENCH", "bench")
        try:
            client = web_client(token="xoxb-bench", base_url=standin.base_url, ssl=client_tls)
            posts = timed(calls, lambda n, c=client: c.chat_postMessage(channel="C0BENCH", text=f"bench {n}"))
            urls = [standin.response_url() for _ in range(calls)]
            answers = timed(calls, lambda n, w=webhook_client, u=urls: w(u[n], ssl=client_tls).send(text=f"answer {n}"))
            print(
                f"{label:<6} {name:<32} chat.postMessage p50={percentile(posts, 0.5) * 1000:5.2f}ms "
                f"p99={percentile(posts, 0.99) * 1000:5.2f}ms | response_url p50={percentile(answers, 0.5) * 1000:5.2f}ms "
                f"p99={percentile(answers, 0.99) * 1000:5.2f}ms | connections: {standin.connections_opened}"
            )
        finally:
            standin.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    print(f"{args.calls} chat.postMessage calls and {args.calls} response_url answers, one at a time")
    run("HTTP", args.calls, None, None)
    with tempfile.TemporaryDirectory() as directory:
        contexts = certificate(Path(directory))
        if contexts is None:
            print("HTTPS  skipped: no openssl command to make a certificate")
            return
        run("HTTPS", args.calls, *contexts)


if __name__ == "__main__":
    main()
