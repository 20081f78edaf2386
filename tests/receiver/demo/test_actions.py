"""The demo's data action part against a flowtrack executing through the sandbox."""

import httpx

from receiver.demo import actions


async def test_the_demo_prints_a_success_a_refusal_naming_the_fields_and_a_timeout(
    action_api: httpx.AsyncClient,
) -> None:
    lines: list[str] = []
    await actions.show(action_api, lines.append)
    text = "\n".join(lines)
    assert "Lookup Account   run " in text and "succeeded" in text
    assert "coerced limit: string -> integer" in text
    assert "output: Account ACME-42" in text
    assert "refused 422 invalid_action_input: nothing sent to Genesys" in text
    assert "accountId: 'ACME 42!' does not match" in text
    assert "limit: 500 is greater than the maximum of 50" in text
    assert "Slow Report      run " in text and "timed_out (timed_out)" in text
