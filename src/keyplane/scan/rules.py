"""The secret rules: what each kind of key looks like, and which published examples to ignore.

Formats come from the providers' own documentation where they publish one, and otherwise from
the rules of gitleaks (``config/gitleaks.toml``) and trufflehog (``pkg/detectors/*``), which
are tested against real keys. A rule either has a prefix of its own (``gsk_``, ``xai-``) or,
when the format has none (a bare 32-character hex string), it is bound to context: the value
must be assigned to a name that mentions the provider, like ``AZURE_OPENAI_API_KEY = ...``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KEYPLANE_RULE = "keyplane-key"
PRIVATE_KEY_RULE = "private-key"
# How far a match may reach; the streaming reader overlaps its chunks by this much.
MAX_MATCH = 17 * 1024


@dataclass(frozen=True, slots=True)
class Rule:
    """One kind of secret.

    ``keywords`` are literals, at least one of which is in every match: the rule's regex runs
    only over texts that hold one. A context rule's keywords are lower case and match any case.
    The secret is the regex's ``secret`` group when it has one, else the whole match.
    """

    id: str
    name: str
    pattern: str
    keywords: tuple[str, ...]
    context: bool = False


# Characters that may not continue a token on its right.
_END = r"(?![0-9A-Za-z_-])"
_END_ALNUM = r"(?![0-9A-Za-z])"
_SLASH = r"(?:\\?/|%2[Ff])"
# The assignment between a name and its value: ``=``, ``:``, ``=>``, ``:=``, with quotes,
# brackets and blanks around it (``.env``, YAML, JSON, Python, shell, Ruby, Go).
_ASSIGN = r"""[\w.-]{0,40}?[\s'"\]]{0,3}(?:=|:=|=>|:|,)[\s'"]{0,12}"""
# Or one level down, as YAML and JSON nest it: ``mistral:\n  api_key: ...``.
_NESTED = r"""(?:[\w.-]{0,30}?(?i:key|token|secret)[\w.-]{0,10}[\s'"]{0,3}[:=][\s'"]{0,5})?"""


def bound(names: str, value: str) -> str:
    """A context pattern: a name holding one of ``names`` (any case) assigned ``value``."""
    return rf"(?i:{names}){_ASSIGN}{_NESTED}(?P<secret>{value})(?![0-9A-Za-z/+])"


def either(*alternatives: str, end: str) -> str:
    """One pattern matching any of ``alternatives``, each followed by ``end``."""
    return "|".join(f"(?:{alternative}){end}" for alternative in alternatives)


def keyplane_pattern() -> str:
    """keyplane keys of any brand: ``<brand>_<kind>_`` and 38 base62 characters.

    The detector checks the checksum, which covers the brand, so a key of another keyplane
    deployment is found too and a random look-alike is not.
    """
    return r"[a-z][a-z0-9]{0,15}_(?:proj|svc|admin)_[0-9A-Za-z]{38}" + _END_ALNUM


GITLAB_PREFIXES = (
    "glpat-", "glrt-", "gldt-", "glft-", "glsoat-", "glffct-", "glptt-", "glimt-", "glagent-",
    "gloas-", "glcbt-", "GR1348941",
)  # fmt: skip

RULES: tuple[Rule, ...] = (
    Rule(
        KEYPLANE_RULE,
        "keyplane API key",
        keyplane_pattern(),
        ("_proj_", "_svc_", "_admin_"),
    ),
    Rule(
        "anthropic-api-key",
        "Anthropic API or admin key",
        r"sk-ant-(?:api03|admin01)-[A-Za-z0-9_-]{93}AA" + _END,
        ("sk-ant-",),
    ),
    Rule(
        "openrouter-api-key",
        "OpenRouter API key",
        r"sk-or-v1-[0-9a-f]{64}" + _END_ALNUM,
        ("sk-or-v1-",),
    ),
    Rule(
        "openai-api-key",
        "OpenAI API key (project, service account, admin, legacy user)",
        # All carry "T3BlbkFJ", base64 of "OpenAI".
        r"sk-(?:proj|svcacct|admin)-(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})T3BlbkFJ"
        r"(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})" + _END + r"|sk-[A-Za-z0-9]{20}T3BlbkFJ"
        r"[A-Za-z0-9]{20}" + _END,
        ("T3BlbkFJ",),
    ),
    Rule(
        "google-api-key",
        "Google API key (Gemini, Maps, Firebase)",
        r"AIza[0-9A-Za-z_-]{35}" + _END,
        ("AIza",),
    ),
    Rule(
        "google-oauth-client-secret",
        "Google OAuth client secret",
        r"GOCSPX-[0-9A-Za-z_-]{28}" + _END,
        ("GOCSPX-",),
    ),
    Rule(
        "azure-openai-api-key",
        "Azure OpenAI key",
        bound(
            r"azure[\w.-]{0,30}?(?:key|token|secret)|openai[\w.-]{0,10}?azure",
            r"[a-f0-9]{32}|[A-Za-z0-9]{84}",
        ),
        ("azure",),
        context=True,
    ),
    Rule(
        "aws-access-key-id",
        "AWS access key id",
        r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}" + _END_ALNUM,
        ("AKIA", "ASIA", "ABIA", "ACCA", "A3T"),
    ),
    Rule(
        "aws-secret-access-key",
        "AWS secret access key",
        bound(r"aws[\w.-]{0,20}?(?:secret|sk)", r"[A-Za-z0-9/+]{40}"),
        ("aws",),
        context=True,
    ),
    Rule(
        "aws-bedrock-api-key",
        "Amazon Bedrock API key",
        r"ABSK[A-Za-z0-9+/]{109,269}={0,2}(?![A-Za-z0-9+/=])",
        ("ABSK",),
    ),
    Rule(
        "huggingface-token",
        "Hugging Face access or organization token",
        r"(?:hf_|api_org_)[A-Za-z0-9]{34}" + _END_ALNUM,
        ("hf_", "api_org_"),
    ),
    Rule("groq-api-key", "Groq API key", r"gsk_[A-Za-z0-9]{52}" + _END_ALNUM, ("gsk_",)),
    Rule("xai-api-key", "xAI API key", r"xai-[0-9A-Za-z_]{80}" + _END, ("xai-",)),
    Rule(
        "replicate-api-token",
        "Replicate API token",
        r"r8_[0-9A-Za-z_-]{37}" + _END,
        ("r8_",),
    ),
    Rule(
        "perplexity-api-key",
        "Perplexity API key",
        r"pplx-[A-Za-z0-9]{48}" + _END_ALNUM,
        ("pplx-",),
    ),
    Rule(
        "langsmith-api-key",
        "LangSmith API key",
        r"lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}" + _END_ALNUM,
        ("lsv2_",),
    ),
    Rule(
        "pinecone-api-key",
        "Pinecone API key",
        r"pcsk_[A-Za-z0-9]{5,6}_[A-Za-z0-9]{63}" + _END_ALNUM,
        ("pcsk_",),
    ),
    Rule(
        "mistral-api-key",
        "Mistral API key",
        bound(r"mistral", r"[A-Za-z0-9]{32}"),
        ("mistral",),
        context=True,
    ),
    Rule(
        "cohere-api-key",
        "Cohere API key",
        bound(r"cohere|co_api_key", r"[A-Za-z0-9]{40}"),
        ("cohere", "co_api_key"),
        context=True,
    ),
    Rule(
        "deepseek-api-key",
        "DeepSeek API key",
        bound(r"deepseek", r"sk-[a-f0-9]{32}"),
        ("deepseek",),
        context=True,
    ),
    Rule(
        "github-token",
        "GitHub token (personal, OAuth, user-to-server, server-to-server, refresh)",
        r"gh[pousr]_[0-9A-Za-z]{36,251}" + _END_ALNUM,
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    ),
    Rule(
        "github-fine-grained-pat",
        "GitHub fine-grained personal access token",
        r"github_pat_[0-9A-Za-z]{22}_[0-9A-Za-z]{59}" + _END_ALNUM,
        ("github_pat_",),
    ),
    Rule(
        "gitlab-token",
        "GitLab token (personal, deploy, runner, CI job, OAuth, feed, SCIM, ...)",
        either(
            r"glpat-(?:[0-9A-Za-z_-]{27,300}\.[0-9a-z]{9}|[0-9A-Za-z_-]{20})",  # routable or not
            r"glrt-(?:t\d_[0-9A-Za-z_-]{27,300}\.[0-9a-z]{9}|[0-9A-Za-z_-]{20})",
            r"gl(?:dt|ft|soat|ffct)-[0-9A-Za-z_-]{20}",
            r"glptt-[0-9a-f]{40}",
            r"glimt-[0-9A-Za-z_-]{25}",
            r"glagent-[0-9A-Za-z_-]{50}",
            r"gloas-[0-9A-Za-z_-]{64}",
            r"glcbt-[0-9A-Za-z]{1,5}_[0-9A-Za-z_-]{20}",
            r"GR1348941[0-9A-Za-z_-]{20}",
            end=_END,
        ),
        GITLAB_PREFIXES,
    ),
    Rule("npm-access-token", "npm access token", r"npm_[A-Za-z0-9]{36}" + _END_ALNUM, ("npm_",)),
    Rule(
        "pypi-upload-token",
        "PyPI upload token",
        r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,1000}" + _END,
        ("pypi-AgEIcHlwaS5vcmc",),
    ),
    Rule(
        "docker-hub-token",
        "Docker Hub personal or organization access token",
        r"dckr_pat_[A-Za-z0-9_-]{27}" + _END + r"|dckr_oat_[A-Za-z0-9_-]{32}" + _END,
        ("dckr_pat_", "dckr_oat_"),
    ),
    Rule(
        "twilio-api-key",
        "Twilio API key SID",
        r"SK[0-9a-fA-F]{32}" + _END_ALNUM,
        ("SK",),
    ),
    Rule(
        "twilio-auth-token",
        "Twilio auth token",
        bound(r"twilio[\w.-]{0,20}?(?:auth|token|secret)", r"[0-9a-f]{32}"),
        ("twilio",),
        context=True,
    ),
    Rule(
        "sendgrid-api-key",
        "SendGrid API key",
        r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}" + _END,
        ("SG.",),
    ),
    Rule(
        "slack-token",
        "Slack token (bot, user, workspace, legacy, app-level, configuration, refresh)",
        either(
            r"xox[abposr]-(?:\d-)?\d{6,14}-[0-9A-Za-z-]{12,250}",
            r"xox[ar]-(?:\d-)?[0-9A-Za-z]{8,48}",  # workspace and refresh tokens (gitleaks)
            r"xoxe\.xox[bp]-\d-[A-Za-z0-9]{163,166}",
            r"xoxe-\d-[A-Za-z0-9]{140,160}",
            r"xapp-\d-[A-Za-z0-9]{8,14}-\d{8,16}-[A-Za-z0-9]{20,100}",
            end=_END,
        ),
        ("xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-", "xoxe", "xapp-"),
    ),
    Rule(
        "slack-webhook-url",
        "Slack incoming webhook or workflow URL",
        # Slashes may be JSON-escaped (``\/``, as PHP writes them) or URL-encoded (``%2F``).
        rf"(?:https?:{_SLASH}{_SLASH})?hooks\.slack\.com{_SLASH}"
        rf"(?:services{_SLASH}T[A-Z0-9]{{6,12}}{_SLASH}B[A-Z0-9]{{6,12}}"
        rf"|workflows{_SLASH}T[A-Z0-9]{{6,12}}{_SLASH}A[A-Z0-9]{{6,12}}{_SLASH}\d{{15,20}}"
        rf"|triggers{_SLASH}T[A-Z0-9]{{6,12}}{_SLASH}\d{{8,20}}){_SLASH}[A-Za-z0-9]{{23,40}}"
        + _END_ALNUM,
        ("hooks.slack.com",),
    ),
    Rule(
        "stripe-secret-key",
        "Stripe secret or restricted key (live or test)",
        r"[sr]k_(?:live|test|prod)_[0-9A-Za-z]{16,247}" + _END_ALNUM,
        ("k_live_", "k_test_", "k_prod_"),
    ),
    Rule(
        "stripe-webhook-secret",
        "Stripe webhook signing secret",
        r"whsec_[0-9A-Za-z]{32,64}" + _END_ALNUM,
        ("whsec_",),
    ),
    Rule(
        PRIVATE_KEY_RULE,
        "Private key block",
        # The body is required: a bare header is how parsers and docs mention the format.
        # ``[^-]`` also spans ``\n`` escapes, as in a service account's JSON.
        r"-----BEGIN[ A-Z0-9_-]{0,40}PRIVATE KEY(?: BLOCK)?-----[^-]{64,16384}"
        r"-----END[ A-Z0-9_-]{0,40}PRIVATE KEY(?: BLOCK)?-----",
        ("PRIVATE KEY",),
    ),
)

CONTEXT_RULES = frozenset(rule.id for rule in RULES if rule.context)

# Keys that providers print in their own documentation and SDK samples. They are not
# secrets, and reporting them buries real findings (moto alone holds hundreds).
PUBLISHED_EXAMPLES = frozenset(
    {
        # AWS documentation: the example access key id and secret access key.
        "AKIAIOSFODNN7EXAMPLE",
        "AKIAI44QH8DHBEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        # Stripe's documentation test keys, shown to every reader of the API reference.
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        "sk_test_BQokikJOvBiI2HlWgH4olfQ2",
        "sk_test_26PHem9AhJZvU623DfE1x4sd",
        # Google's samples, as gitleaks allow-lists them (gcp-api-key).
        "AIzaSyabcdefghijklmnopqrstuvwxyz1234567",
        "AIzaSyAnLA7NfeLquW1tJFpx_eQCxoX-oo6YyIs",
        "AIzaSyCkEhVjf3pduRDt6d1yKOMitrUEke8agEM",
        "AIzaSyDMAScliyLx7F0NPDEJi1QmyCgHIAODrlU",
        "AIzaSyD3asb-2pEZVqMkmL6M9N6nHZRR_znhrh0",
        "AIzaSyAdOS2zB6NCsk1pCdZ4-P6GBdi_UUPwX7c",
        "AIzaSyASWm6HmTMdYWpgMnjRBjxcQ9CKctWmLd4",
        "AIzaSyANUvH9H9BsUccjsu2pCmEkOPjjaXeDQgY",
        "AIzaSyA5_iVawFQ8ABuTZNUdcwERLJv_a_p4wtM",
        "AIzaSyA4UrcGxgwQFTfaI3no3t7Lt1sjmdnP5sQ",
        "AIzaSyDSb51JiIcB6OJpwwMicseKRhhrOq1cS7g",
        "AIzaSyBF2RrAIm4a0mO64EShQfqfd2AFnzAvvuU",
        "AIzaSyBcE-OOIbhjyR83gm4r2MFCu4MJmprNXsw",
        "AIzaSyB8qGxt4ec15vitgn44duC5ucxaOi4FmqE",
        "AIzaSyA8vmApnrHNFE0bApF4hoZ11srVL_n0nvY",
    }
)
# Placeholders: the word "example", a run of the alphabet or of digits, ``xxxxxxxx``.
_PLACEHOLDER = re.compile(r"(?i)example|abcdefghij|0123456789|1234567890|xxxxxxxx")
_PLACEHOLDER_TAIL = 16
_MIN_DISTINCT = 5


def is_example(secret: str) -> bool:
    """True for a published example key or an obvious placeholder like ``ghp_xxxx...``.

    A placeholder's last 16 characters use fewer than 5 distinct characters
    (``sk_live_0000...``, ``.../XXXXXXXXXXXXXXXX``); 16 random characters almost never do.
    """
    if len(set(secret[-_PLACEHOLDER_TAIL:])) < _MIN_DISTINCT or secret in PUBLISHED_EXAMPLES:
        return True
    return _PLACEHOLDER.search(secret) is not None
