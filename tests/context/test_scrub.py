"""Secret scrubbing, one test per kind, and ordinary code left alone."""

from __future__ import annotations

import pytest

from devflow_tui.context.scrub import ScrubReport, scrub

# Built from pieces so that no real-looking key sits in the source as one literal.
OPENAI = "sk-" + "proj-" + "Ab3" * 16
OPENAI_LEGACY = "sk-" + "a1B2c3D4" * 6
ANTHROPIC = "sk-" + "ant-api03-" + "Zz9_" * 20
AWS_ID = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"
GITHUB = "ghp_" + "x1Y2" * 9
GITHUB_PAT = "github_pat_" + "11ABCDEFG0" * 3
SLACK = "xoxb-" + "1234567890-abcdefghij"
GOOGLE = "AIza" + "Sy" + "D" * 33
JWT = (
    "eyJhbGciOiJIUzI1NiJ9."
    + "eyJzdWIiOiIxMjM0NTY3ODkwIn0."
    + "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)
# Assembled at run time so no file holds a private-key header (secret scanners flag those).
_PEM_LABEL = "RSA " + "PRIVATE KEY"
PEM = f"-----BEGIN {_PEM_LABEL}-----\nMIIEowIBAAKCAQEA\nabc/def+ghi\n-----END {_PEM_LABEL}-----"


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        (f"key: {OPENAI}", "key: [REDACTED:openai]", "openai"),
        (f"OPENAI_API_KEY={OPENAI_LEGACY}", "OPENAI_API_KEY=[REDACTED:openai]", "openai"),
        (f"x-api-key: {ANTHROPIC}", "x-api-key: [REDACTED:anthropic]", "anthropic"),
        (f"id {AWS_ID} here", "id [REDACTED:aws] here", "aws"),
        (
            f"aws_secret_access_key = {AWS_SECRET}",
            "aws_secret_access_key = [REDACTED:aws]",
            "aws",
        ),
        (f"token {GITHUB}.", "token [REDACTED:github].", "github"),
        (f"pat {GITHUB_PAT}", "pat [REDACTED:github]", "github"),
        (f"slack {SLACK}", "slack [REDACTED:slack]", "slack"),
        (f"maps {GOOGLE}", "maps [REDACTED:google]", "google"),
        (f"cookie={JWT};", "cookie=[REDACTED:jwt];", "jwt"),
        (
            "Authorization: Bearer abcDEF123456ghiJKL7890mno",
            "Authorization: Bearer [REDACTED:bearer]",
            "bearer",
        ),
        (f"before\n{PEM}\nafter", "before\n[REDACTED:private-key]\nafter", "private-key"),
        ("DB_PASSWORD='hunter2hunter2'", "DB_PASSWORD='[REDACTED:env]'", "env"),
        (
            "export STRIPE_SECRET_KEY=rk_live_51Habc",
            "export STRIPE_SECRET_KEY=[REDACTED:env]",
            "env",
        ),
        ("  GITHUB_TOKEN: abcdef123456", "  GITHUB_TOKEN: [REDACTED:env]", "env"),
        ("SERVICE_CREDENTIALS=c3VwZXJzZWNyZXQ=", "SERVICE_CREDENTIALS=[REDACTED:env]", "env"),
    ],
)
def test_each_kind_is_replaced(text: str, expected: str, kind: str) -> None:
    clean, report = scrub(text)
    assert clean == expected
    assert report.counts == {kind: 1}


def test_openrouter_key(fake_key: str) -> None:
    clean, report = scrub(f"OPENROUTER_API_KEY={fake_key}\nthen {fake_key}")
    assert clean == "OPENROUTER_API_KEY=[REDACTED:openrouter]\nthen [REDACTED:openrouter]"
    assert report.counts == {"openrouter": 2}
    assert fake_key not in clean


@pytest.mark.parametrize(
    "text",
    [
        "token = tokenizer(x)",
        "tokens = estimate_tokens(text)",
        "MAX_TOKENS=4096",
        "TOKENIZER_PATH=/models/tok",
        "password = get_password()",
        "API_KEY = os.environ['API_KEY']",
        "GITHUB_TOKEN=${{ secrets.GITHUB_TOKEN }}",
        "SECRET_KEY=$SECRET_FROM_VAULT",
        "PASSWORD=<your password here>",
        "DEBUG_TOKEN=true",
        "from sklearn import svm  # sk-learn-compatible-estimators",
        "the task-abcdefghijklmnopqrstuvwxyz runs",
        "Use a bearer token in the Authorization header.",
        "class PrivateKeyLoader: ...",
        "e-mail me at dev@example.com",
        "password = settings.password",
        "token_count: 12",
        "if not password:",
        "secret = load_secret(path)",
        "url = f'postgres://{user}:{pw}@{host}'",
        "DATABASE_URL=postgres://app:${DB_PASSWORD}@db/app",
        "Use basic authentication for the admin site.",
        "mysql -u root -p shop",
        "the password field: required",
        "    api_key: SecretStr | None = Field(default=None)",
        "def login(token: AccessToken = Depends(auth)) -> None:",
    ],
)
def test_ordinary_code_and_prose_is_left_alone(text: str) -> None:
    clean, report = scrub(text)
    assert clean == text
    assert report.total == 0


def test_report_summary_and_merge() -> None:
    report = ScrubReport()
    texts = []
    for text in (f"a {GITHUB}", "nothing", f"{AWS_ID} {GOOGLE}"):
        clean, part = scrub(text)
        report.merge(part)
        texts.append(clean)
    assert texts == ["a [REDACTED:github]", "nothing", "[REDACTED:aws] [REDACTED:google]"]
    assert report.total == 3
    assert report.summary() == "removed 3 secrets (1 aws, 1 github, 1 google)"
    assert report.as_dict() == {"aws": 1, "github": 1, "google": 1}
    assert ScrubReport().summary() == "no secrets found"
    single = ScrubReport()
    single.counts["jwt"] += 1
    assert single.summary() == "removed 1 secret (1 jwt)"


# Fake secrets assembled at run time: no literal in this file looks like a credential.
PW = "hunt" + "er2" + "Xq9"
SPACED = "my " + "pa$$ " + "word"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (f"db.connect(host, password={PW!r})", "password"),
        (f"secret_key={PW}", "password"),
        (f"    password = '{PW}'", "password"),
        (f"db_password: {PW}", "password"),
        (f'{{"user": "app", "password": "{PW}"}}', "password"),
        (f'{{"AccessKeyId": "x", "SecretAccessKey": "{PW}{PW}"}}', "password"),
        (f"DB_PASSWORD='{SPACED}'", "password"),
        (f'settings.api_key = "{SPACED}"', "password"),
        (f"DATABASE_URL=postgres://app:{PW}@db.internal:5432/app", "url-credentials"),
        (f"git clone https://bot:{PW}@git.example.com/x.git", "url-credentials"),
        (f"curl -H 'Authorization: Basic {PW}{PW}=' https://x", "basic-auth"),
        (f'headers = {{"authorization": "basic {PW}{PW}"}}', "basic-auth"),
        (f"mysql -u root -p{PW} shop", "password"),
        (f"mysqldump --user=root -p'{SPACED}' shop", "password"),
        (f"  - run: login --password={PW}", "password"),
    ],
)
def test_secrets_anywhere_in_a_line_any_case_any_format(text: str, kind: str) -> None:
    clean, report = scrub(text)
    assert PW not in clean and SPACED not in clean and "pa$$" not in clean
    assert report.counts == {kind: 1}
    assert f"[REDACTED:{kind}]" in clean


def test_private_key_without_end_line_is_removed() -> None:
    body = "MIIEowIBAAKCAQEA" + "q" * 48
    cut = f"cfg:\n-----BEGIN {_PEM_LABEL}-----\n{body}\n{body[:20]}"
    clean, report = scrub(cut)
    assert body[:20] not in clean and "BEGIN" not in clean
    assert clean == "cfg:\n[REDACTED:private-key]" and report.counts == {"private-key": 1}
    clean, _ = scrub(f"-----BEGIN {_PEM_LABEL}-----\n{body}\n\nnext paragraph")
    assert clean == "[REDACTED:private-key]\n\nnext paragraph"
