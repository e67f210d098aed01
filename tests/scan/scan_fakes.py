"""Fake secrets built at run time (so this repository never holds a literal one), and a repo."""

from __future__ import annotations

import random
import string
import subprocess
from pathlib import Path

from keyplane.keys.format import KeyKind, generate_key

ALNUM = string.ascii_letters + string.digits
EXTENDED = ALNUM + "_-"
_rng = random.Random(20261129)


def chars(count: int, alphabet: str = ALNUM) -> str:
    """``count`` random characters of ``alphabet``."""
    return "".join(_rng.choice(alphabet) for _ in range(count))


def openai_marker() -> str:
    # base64 of "OpenAI", split so the literal never appears in this file
    return "T3Blbk" + "FJ"


def private_key_block() -> str:
    body = "\n".join(chars(64, ALNUM + "+/") for _ in range(5))
    label = "RSA " + "PRIVATE KEY"
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"


def samples() -> dict[str, tuple[str, str]]:
    """name -> (rule id, a fake secret the rule must find)."""
    sk = "sk" + "-"
    return {
        "keyplane-project": ("keyplane-key", generate_key(KeyKind.PROJECT)),
        "keyplane-admin": ("keyplane-key", generate_key(KeyKind.ADMIN)),
        "openai-project": (
            "openai-api-key",
            sk + "proj-" + chars(74, EXTENDED) + openai_marker() + chars(74, EXTENDED),
        ),
        "openai-svcacct": (
            "openai-api-key",
            sk + "svcacct-" + chars(58, EXTENDED) + openai_marker() + chars(58, EXTENDED),
        ),
        "openai-admin": (
            "openai-api-key",
            sk + "admin-" + chars(58, EXTENDED) + openai_marker() + chars(58, EXTENDED),
        ),
        "openai-legacy": ("openai-api-key", sk + chars(20) + openai_marker() + chars(20)),
        "anthropic-api": ("anthropic-api-key", sk + "ant-api03-" + chars(93, EXTENDED) + "AA"),
        "anthropic-admin": ("anthropic-api-key", sk + "ant-admin01-" + chars(93, EXTENDED) + "AA"),
        "google": ("google-api-key", "AI" + "za" + chars(35, EXTENDED)),
        "aws-akia": (
            "aws-access-key-id",
            "AK" + "IA" + chars(16, string.ascii_uppercase + "234567"),
        ),
        "aws-asia": (
            "aws-access-key-id",
            "AS" + "IA" + chars(16, string.ascii_uppercase + "234567"),
        ),
        "github-pat": ("github-token", "gh" + "p_" + chars(36)),
        "github-oauth": ("github-token", "gh" + "o_" + chars(36)),
        "github-server": ("github-token", "gh" + "s_" + chars(36)),
        "github-fine-grained": (
            "github-fine-grained-pat",
            "github" + "_pat_" + chars(22) + "_" + chars(59),
        ),
        "stripe-live": ("stripe-secret-key", "sk" + "_live_" + chars(24)),
        "stripe-restricted": ("stripe-secret-key", "rk" + "_test_" + chars(24)),
        "slack-bot": (
            "slack-token",
            "xo"
            + "xb-"
            + chars(11, string.digits)
            + "-"
            + chars(12, string.digits)
            + "-"
            + chars(24),
        ),
        "private-key": ("private-key", private_key_block()),
    }


def near_misses() -> dict[str, str]:
    """name -> a string that looks like a secret but must not be reported."""
    good = generate_key(KeyKind.PROJECT)
    flipped = good[:-1] + ("A" if good[-1] != "A" else "B")
    sk = "sk" + "-"
    return {
        "keyplane-bad-checksum": flipped,
        "keyplane-other-brand": "xy" + good[2:],
        "openai-short": sk + chars(47),
        "openai-project-no-marker": sk + "proj-" + chars(74) + "ABCDEFGH" + chars(74),
        "anthropic-wrong-suffix": sk + "ant-api03-" + chars(93) + "BB",
        "google-short": "AI" + "za" + chars(34),
        "aws-short": "AK" + "IA" + chars(15, string.ascii_uppercase),
        "aws-inside-word": "X" + "AK" + "IA" + chars(16, string.ascii_uppercase),
        "github-short": "gh" + "p_" + chars(35),
        "stripe-placeholder": "sk" + "_live_" + "your_key_here",
        "slack-placeholder": "xo" + "xb-" + "your-bot-token-goes-here",
        "private-key-header-only": "-----BEGIN " + "PRIVATE KEY" + "-----",
    }


class Repo:
    """A real git repository in a temp dir, with helpers to write, stage and commit."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(self.root), *args], capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")
