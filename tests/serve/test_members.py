"""`devflow serve` for a team: members' tokens, each request recorded with its member, a
member's monthly budget beside the team's, `devflow team` and `report --by member`."""

from __future__ import annotations

import json
from decimal import Decimal

import anthropic
import httpx
import openai

from devflow_tui.accounting.members import Members
from devflow_tui.accounting.store import AnalyticsStore
from tests.cli.conftest import Invoke, devflow  # noqa: F401
from tests.serve.conftest import Proxy, ProxyFactory

MODEL = "openai/gpt-4o-mini"


def _add(proxy: Proxy, name: str, budget: str | None = None) -> str:
    with AnalyticsStore(proxy.settings.db_path) as store:
        return Members(store).add(name, Decimal(budget) if budget is not None else None)


def _ask(proxy: Proxy, token: str) -> httpx.Response:
    return httpx.post(
        f"{proxy.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {token}"},
        json={"model": MODEL, "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )


def test_member_tokens_are_accepted_and_requests_recorded_with_their_member(
    proxy: Proxy,
) -> None:
    ada, bob = _add(proxy, "ada"), _add(proxy, "bob")
    openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=ada).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}]
    )
    anthropic.Anthropic(base_url=proxy.url, api_key=bob).messages.create(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    )
    assert _ask(proxy, proxy.token).status_code == 200  # the proxy's own token still works
    rows = proxy.rows(expect=3)
    assert [(r.member, r.client) for r in rows] == [
        ("ada", "openai-sdk"),
        ("bob", "anthropic-sdk"),
        (None, "python-httpx"),
    ]


def test_rotated_or_removed_member_tokens_stop_working_at_once(proxy: Proxy) -> None:
    ada = _add(proxy, "ada")
    assert _ask(proxy, ada).status_code == 200
    with AnalyticsStore(proxy.settings.db_path) as store:
        new = Members(store).rotate_token("ada")
    refused = _ask(proxy, ada)
    assert refused.status_code == 401 and ada not in refused.text
    assert _ask(proxy, new).status_code == 200
    with AnalyticsStore(proxy.settings.db_path) as store:
        Members(store).remove("ada")
    assert _ask(proxy, new).status_code == 401
    assert len(proxy.rows(expect=2)) == 2  # refused tokens never reach the gateway


def test_member_budget_refuses_with_402_and_sends_nothing(make_proxy: ProxyFactory) -> None:
    proxy = make_proxy()
    ada = _add(proxy, "ada", "0.0000001")  # less than any request's worst case
    bob = _add(proxy, "bob")
    upstream_before = len(proxy.upstream("/chat/completions"))
    refused = _ask(proxy, ada)
    assert refused.status_code == 402
    assert "ada's monthly budget" in refused.json()["error"]["message"]
    assert len(proxy.upstream("/chat/completions")) == upstream_before
    assert _ask(proxy, bob).status_code == 200  # the team has no budget; bob has none
    rows = proxy.rows(expect=2)
    assert [(r.member, r.status) for r in rows] == [("ada", "refused"), ("bob", "ok")]


def test_team_budget_applies_to_members_too(make_proxy: ProxyFactory) -> None:
    proxy = make_proxy(cost_budget_usd="0.0000001")
    ada = _add(proxy, "ada", "100")
    refused = _ask(proxy, ada)
    assert refused.status_code == 402 and "total budget" in refused.json()["error"]["message"]


def test_team_commands_and_report_by_member(
    devflow: Invoke,  # noqa: F811
    make_proxy: ProxyFactory,
) -> None:
    added = devflow("team", "add", "ada", "--budget-monthly", "25")
    assert added.exit_code == 0, added.stderr
    token = added.stdout.split("\n")[1].strip()
    assert token.startswith("dfm-") and "shown once" in added.stdout
    assert devflow("team", "add", "bob").exit_code == 0
    again = devflow("team", "add", "ada")
    assert again.exit_code == 2 and "already a member called ada" in again.stderr
    bad = devflow("team", "add", "eve", "--budget-monthly", "lots")
    assert bad.exit_code == 2 and "not a number" in bad.stderr
    assert devflow("team", "budget", "bob", "7.5").stdout.strip() == (
        "bob now has a monthly budget of $7.50."
    )
    proxy = make_proxy()
    assert _ask(proxy, token).status_code == 200
    assert len(proxy.rows(expect=1)) == 1  # recorded after the client has its answer
    listed = json.loads(devflow("team", "list", "--json").stdout)
    assert [(m["name"], m["budget_monthly_usd"]) for m in listed] == [
        ("ada", "25"),
        ("bob", "7.5"),
    ]
    assert Decimal(listed[0]["spent_this_month_usd"]) > 0 and "token" not in json.dumps(listed)
    text = devflow("team", "list").stdout
    assert "ada" in text and "$25.00" in text and token not in text
    rotated = devflow("team", "rotate-token", "ada")
    assert rotated.exit_code == 0 and token not in rotated.stdout
    assert _ask(proxy, token).status_code == 401
    report = devflow("report", "--by", "member", "--since", "24h")
    assert report.exit_code == 0 and "by member" in report.stdout and "ada" in report.stdout
    removed = devflow("team", "remove", "ada")
    assert removed.exit_code == 0 and "stay in the reports" in removed.stdout
    missing = devflow("team", "remove", "ada")
    assert missing.exit_code == 2 and "no member called ada" in missing.stderr
    assert "No members" not in devflow("team", "list").stdout  # bob is still there


def test_team_list_without_members_says_how_to_add_one(devflow: Invoke) -> None:  # noqa: F811
    result = devflow("team", "list")
    assert result.exit_code == 0 and "devflow team add NAME" in result.stdout
