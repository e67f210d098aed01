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


HEX = "0123456789abcdef"
DIGITS = string.digits
UPPER_ALNUM = string.ascii_uppercase + string.digits


def samples() -> dict[str, tuple[str, str]]:
    """name -> (rule id, a fake secret the rule must find). Every rule has at least one."""
    sk = "sk" + "-"
    return {
        "keyplane-project": ("keyplane-key", generate_key(KeyKind.PROJECT)),
        "keyplane-admin": ("keyplane-key", generate_key(KeyKind.ADMIN)),
        "keyplane-other-brand": (
            "keyplane-key",
            generate_key(KeyKind.SERVICE_ACCOUNT, brand="acme"),
        ),
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
        "openrouter": ("openrouter-api-key", sk + "or-v1-" + chars(64, HEX)),
        "google": ("google-api-key", "AI" + "za" + chars(35, EXTENDED)),
        "google-oauth-secret": ("google-oauth-client-secret", "GOC" + "SPX-" + chars(28, EXTENDED)),
        "aws-akia": (
            "aws-access-key-id",
            "AK" + "IA" + chars(16, string.ascii_uppercase + "234567"),
        ),
        "aws-asia": (
            "aws-access-key-id",
            "AS" + "IA" + chars(16, string.ascii_uppercase + "234567"),
        ),
        "aws-bedrock": ("aws-bedrock-api-key", "AB" + "SK" + chars(132, ALNUM + "+/") + "="),
        "huggingface": ("huggingface-token", "hf" + "_" + chars(34)),
        "huggingface-org": ("huggingface-token", "api" + "_org_" + chars(34)),
        "groq": ("groq-api-key", "gs" + "k_" + chars(52)),
        "xai": ("xai-api-key", "xa" + "i-" + chars(80)),
        "replicate": ("replicate-api-token", "r8" + "_" + chars(37)),
        "perplexity": ("perplexity-api-key", "pp" + "lx-" + chars(48)),
        "langsmith": ("langsmith-api-key", "lsv2" + "_pt_" + chars(32, HEX) + "_" + chars(10, HEX)),
        "pinecone": ("pinecone-api-key", "pc" + "sk_" + chars(6) + "_" + chars(63)),
        "github-pat": ("github-token", "gh" + "p_" + chars(36)),
        "github-oauth": ("github-token", "gh" + "o_" + chars(36)),
        "github-user-to-server": ("github-token", "gh" + "u_" + chars(36)),
        "github-server": ("github-token", "gh" + "s_" + chars(36)),
        "github-refresh": ("github-token", "gh" + "r_" + chars(76)),
        "github-fine-grained": (
            "github-fine-grained-pat",
            "github" + "_pat_" + chars(22) + "_" + chars(59),
        ),
        "gitlab-pat": ("gitlab-token", "gl" + "pat-" + chars(20, EXTENDED)),
        "gitlab-pat-routable": (
            "gitlab-token",
            "gl"
            + "pat-"
            + chars(40, EXTENDED)
            + "."
            + chars(9, DIGITS + "abcdefghijklmnopqrstuvwxyz"),
        ),
        "gitlab-deploy": ("gitlab-token", "gl" + "dt-" + chars(20, EXTENDED)),
        "gitlab-runner": ("gitlab-token", "gl" + "rt-" + chars(20, EXTENDED)),
        "gitlab-trigger": ("gitlab-token", "gl" + "ptt-" + chars(40, HEX)),
        "gitlab-ci-job": ("gitlab-token", "gl" + "cbt-" + chars(3) + "_" + chars(20, EXTENDED)),
        "npm": ("npm-access-token", "np" + "m_" + chars(36)),
        "pypi": ("pypi-upload-token", "py" + "pi-AgEIcHlwaS5vcmc" + chars(120, EXTENDED)),
        "docker-pat": ("docker-hub-token", "dc" + "kr_pat_" + chars(27, EXTENDED)),
        "docker-oat": ("docker-hub-token", "dc" + "kr_oat_" + chars(32, EXTENDED)),
        "twilio-api-key": ("twilio-api-key", "S" + "K" + chars(32, HEX)),
        "sendgrid": (
            "sendgrid-api-key",
            "S" + "G." + chars(22, EXTENDED) + "." + chars(43, EXTENDED),
        ),
        "slack-bot": (
            "slack-token",
            "xo" + "xb-" + chars(11, DIGITS) + "-" + chars(12, DIGITS) + "-" + chars(24),
        ),
        "slack-user": (
            "slack-token",
            "xo" + "xp-" + "-".join(chars(12, DIGITS) for _ in range(3)) + "-" + chars(32, HEX),
        ),
        "slack-app-level": (
            "slack-token",
            "xa"
            + "pp-1-A"
            + chars(10, UPPER_ALNUM)
            + "-"
            + chars(13, DIGITS)
            + "-"
            + chars(64, HEX),
        ),
        "slack-legacy": (
            "slack-token",
            "xo" + "xs-" + "-".join(chars(10, DIGITS) for _ in range(3)) + "-" + chars(64, HEX),
        ),
        "slack-workspace": ("slack-token", "xo" + "xa-2-" + chars(40)),
        "slack-config": ("slack-token", "xo" + "xe.xoxp-1-" + chars(164)),
        "slack-refresh": ("slack-token", "xo" + "xe-1-" + chars(146)),
        "slack-webhook": (
            "slack-webhook-url",
            "https://hooks."
            + "slack.com/services/T"
            + chars(10, UPPER_ALNUM)
            + "/B"
            + chars(10, UPPER_ALNUM)
            + "/"
            + chars(24),
        ),
        "slack-workflow": (
            "slack-webhook-url",
            "https://hooks."
            + "slack.com/workflows/T"
            + chars(10, UPPER_ALNUM)
            + "/A"
            + chars(10, UPPER_ALNUM)
            + "/"
            + chars(18, DIGITS)
            + "/"
            + chars(24),
        ),
        "stripe-live": ("stripe-secret-key", "sk" + "_live_" + chars(24)),
        "stripe-test": ("stripe-secret-key", "sk" + "_test_" + chars(99)),
        "stripe-restricted": ("stripe-secret-key", "rk" + "_live_" + chars(24)),
        "stripe-webhook": ("stripe-webhook-secret", "wh" + "sec_" + chars(32)),
        "private-key": ("private-key", private_key_block()),
    }


def bound_samples() -> dict[str, tuple[str, str, str]]:
    """name -> (rule id, the line that assigns it, the secret) for context-bound rules."""
    azure, azure_new = chars(32, HEX), chars(84)
    aws, mistral, cohere = chars(40, ALNUM + "/+"), chars(32), chars(40)
    deepseek, twilio = "sk" + "-" + chars(32, HEX), chars(32, HEX)
    return {
        "azure-env": ("azure-openai-api-key", f"AZURE_OPENAI_API_KEY={azure}", azure),
        "azure-new-format": ("azure-openai-api-key", f'azure_openai_key: "{azure_new}"', azure_new),
        "aws-secret": ("aws-secret-access-key", f"aws_secret_access_key = {aws}", aws),
        "mistral": ("mistral-api-key", f'MISTRAL_API_KEY="{mistral}"', mistral),
        "cohere": ("cohere-api-key", f'"cohere_api_key": "{cohere}"', cohere),
        "cohere-co": ("cohere-api-key", f"export CO_API_KEY='{cohere}'", cohere),
        "deepseek": (
            "deepseek-api-key",
            f'os.environ["DEEPSEEK_API_KEY"] = "{deepseek}"',
            deepseek,
        ),
        "twilio-auth": ("twilio-auth-token", f"TWILIO_AUTH_TOKEN={twilio}", twilio),
    }


def near_misses() -> dict[str, str]:
    """name -> a string that looks like a secret but must not be reported."""
    good = generate_key(KeyKind.PROJECT)
    flipped = good[:-1] + ("A" if good[-1] != "A" else "B")
    sk = "sk" + "-"
    return {
        "keyplane-bad-checksum": flipped,
        "keyplane-inside-word": "x" + good[2:],
        "openai-short": sk + chars(47),
        "openai-project-no-marker": sk + "proj-" + chars(74) + "ABCDEFGH" + chars(74),
        "anthropic-wrong-suffix": sk + "ant-api03-" + chars(93) + "BB",
        "openrouter-not-hex": sk + "or-v1-" + chars(64, "ghijklmnopqrstuvwxyz"),
        "google-short": "AI" + "za" + chars(34),
        "google-oauth-short": "GOC" + "SPX-" + chars(27),
        "aws-short": "AK" + "IA" + chars(15, string.ascii_uppercase),
        "aws-inside-word": "X" + "AK" + "IA" + chars(16, string.ascii_uppercase),
        "aws-secret-unnamed": "secret = " + chars(40, ALNUM + "/+"),
        "aws-bedrock-short": "AB" + "SK" + chars(60),
        "azure-unnamed-hex": "checksum = " + chars(32, HEX),
        "azure-named-not-hex": "AZURE_OPENAI_API_KEY=" + chars(32, "ghijklmnopqrstuvwxyz"),
        "huggingface-short": "hf" + "_" + chars(33),
        "groq-short": "gs" + "k_" + chars(51),
        "xai-short": "xa" + "i-" + chars(79),
        "replicate-short": "r8" + "_" + chars(36),
        "perplexity-short": "pp" + "lx-" + chars(47),
        "langsmith-not-hex": "lsv2" + "_pt_" + chars(32, "ghijklmnop") + "_" + chars(10, HEX),
        "pinecone-short": "pc" + "sk_" + chars(6) + "_" + chars(62),
        "mistral-unnamed": "token = " + chars(32),
        "mistral-named-short": "MISTRAL_API_KEY=" + chars(31),
        "cohere-named-short": "COHERE_API_KEY=" + chars(39),
        "deepseek-unnamed": "key = " + sk + chars(32, HEX),
        "github-short": "gh" + "p_" + chars(35),
        "github-placeholder": "gh" + "p_" + "x" * 36,
        "github-fine-grained-short": "github" + "_pat_" + chars(22) + "_" + chars(58),
        "gitlab-short": "gl" + "pat-" + chars(19),
        "npm-short": "np" + "m_" + chars(35),
        "pypi-wrong-prefix": "py" + "pi-" + chars(80),
        "docker-short": "dc" + "kr_pat_" + chars(26),
        "twilio-not-hex": "S" + "K" + chars(32, "ghijklmnopqrstuvwxyz"),
        "twilio-auth-unnamed": "token = " + chars(32, HEX),
        "sendgrid-short": "S" + "G." + chars(22) + "." + chars(42),
        "stripe-placeholder": "sk" + "_live_" + "your_key_here",
        "stripe-zeros": "sk" + "_test_" + "0" * 24,
        "stripe-webhook-short": "wh" + "sec_" + chars(31),
        "slack-placeholder": "xo" + "xb-" + "your-bot-token-goes-here",
        "slack-app-placeholder": "xa" + "pp-1-your-app-token",
        "slack-webhook-placeholder": "https://hooks."
        + "slack.com/services/T00000000/B00000000/"
        + "X" * 24,
        "private-key-header-only": "-----BEGIN " + "PRIVATE KEY" + "-----",
        "aws-documented-example": "AKIAIOSFODNN7" + "EXAMPLE",
        "aws-documented-secret": "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCY"
        + "EXAMPLEKEY",
        "stripe-documented-test-key": "sk" + "_test_4eC39HqLyjWDarjtT1zdp7dc",
        "google-documented-sample": "AI" + "zaSyabcdefghijklmnopqrstuvwxyz1234567",
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
